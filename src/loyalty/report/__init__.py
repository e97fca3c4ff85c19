"""The analysts' report: one self-contained HTML file of charts over the marts.

`write_report(warehouse)` reads the marts read-only (data.py), builds one chart per
question with a one-line reading (charts.py) and writes `<warehouse>.report/report.html`
beside the warehouse (html.py), or into the folder given. `loyalty report` and the last
step of every pipeline run call it.
"""

from __future__ import annotations

from pathlib import Path

REPORT_FILE = "report.html"


def default_report_dir(warehouse: Path) -> Path:
    """`<warehouse>.report/` beside the warehouse, like `<warehouse>.dbt/` and `<warehouse>.gx/`."""
    return warehouse.parent / f"{warehouse.name}.report"


def report_path(warehouse: Path, out_dir: Path | None = None) -> Path:
    return (out_dir or default_report_dir(warehouse)) / REPORT_FILE


def write_report(warehouse: Path, out_dir: Path | None = None, target: str = "duckdb") -> Path:
    """Write the report of the published warehouse; return the path of the HTML file."""
    from loyalty.report.charts import build_charts
    from loyalty.report.data import read_report_data
    from loyalty.report.html import render_html, write_html

    data = read_report_data(warehouse, target)
    return write_html(report_path(warehouse, out_dir), render_html(data, build_charts(data)))
