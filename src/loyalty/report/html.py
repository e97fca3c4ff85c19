"""Write the report as ONE self-contained HTML file: plotly.js inlined once, no server, no CDN."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import plotly.io as pio
from plotly.offline import get_plotlyjs

from loyalty.report.charts import Chart
from loyalty.report.data import ReportData

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222;
       background: #f4f5f7; }
header { background: #1f3b57; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
header p { margin: 0; opacity: 0.85; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; padding: 16px 32px 0 32px; }
.kpi { background: #fff; border-radius: 6px; padding: 10px 16px; min-width: 150px;
       box-shadow: 0 1px 2px rgba(0,0,0,.12); }
.kpi .v { font-size: 22px; font-weight: 600; }
.kpi .l { font-size: 12px; color: #666; text-transform: uppercase; letter-spacing: .04em; }
nav { padding: 12px 32px 0 32px; font-size: 14px; }
nav a { margin-right: 14px; color: #1f3b57; }
main { padding: 8px 32px 32px 32px; display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr));
       gap: 16px; }
section { background: #fff; border-radius: 6px; padding: 14px 18px; box-shadow: 0 1px 2px rgba(0,0,0,.12);
          min-width: 0; }
section.wide { grid-column: 1 / -1; }
section h2 { font-size: 18px; margin: 0 0 4px 0; }
section p.reading { margin: 0 0 8px 0; color: #333; font-size: 14px; }
section.missing p.reading { color: #999; font-style: italic; }
table.alerts { border-collapse: collapse; width: 100%; font-size: 13px; }
table.alerts th, table.alerts td { border-bottom: 1px solid #e3e3e3; padding: 4px 8px; text-align: left; }
table.alerts td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.alerts thead th { background: #f0f2f5; position: sticky; top: 0; }
.table-wrap { max-height: 460px; overflow: auto; }
footer { padding: 0 32px 24px 32px; color: #777; font-size: 12px; }
"""

WIDE = {"cohort_retention", "retention_monthly", "decline_alerts"}


def _kpis(d: ReportData) -> str:
    k = d.kpis
    items: list[tuple[str, str]] = []
    if "customers" in k:
        items.append(("customers", f"{k['customers']:,}"))
    if "active_customers" in k:
        items.append(("active", f"{k['active_customers']:,}"))
        items.append(("churned", f"{k['churned_customers']:,}"))
    if k.get("retention_month") is not None:
        month = f"{k['retention_month']:%b %Y}"
        rate = "n/a" if k.get("retention_rate") is None else f"{k['retention_rate']:.1%}"
        churn = "n/a" if k.get("churn_rate") is None else f"{k['churn_rate']:.1%}"
        items.append((f"retention, {month}", rate))
        items.append((f"churn, {month}", churn))
    if "predicted_clv_365d" in k:
        v = k["predicted_clv_365d"]
        items.append(("predicted CLV, 365 days", "n/a" if v is None else f"{v:,.0f}"))
    if "net_revenue" in k:
        items.append(("net revenue to date", f"{k['net_revenue']:,.0f}"))
    return "".join(
        f"<div class='kpi'><div class='v'>{html.escape(v)}</div><div class='l'>{html.escape(label)}</div></div>"
        for label, v in items
    )


def _section(chart: Chart) -> str:
    classes = ["chart"] + (["wide"] if chart.key in WIDE else []) + (["missing"] if chart.missing else [])
    body = ""
    if chart.figure is not None:
        body = pio.to_html(
            chart.figure,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{chart.key}",
            config={"displaylogo": False, "responsive": True},
        )
    elif chart.table_html is not None:
        body = f"<div class='table-wrap' id='table-{chart.key}'>{chart.table_html}</div>"
    return (
        f"<section id='{chart.key}' class='{' '.join(classes)}' data-kind="
        f"'{'chart' if chart.figure is not None else 'table' if chart.table_html is not None else 'none'}'>"
        f"<h2>{html.escape(chart.title)}</h2><p class='reading'>{html.escape(chart.reading)}</p>{body}</section>"
    )


def render_html(d: ReportData, charts: list[Chart], *, generated_at: dt.datetime | None = None) -> str:
    generated_at = generated_at or dt.datetime.now().replace(microsecond=0)
    as_of = d.as_of_date.isoformat() if d.as_of_date else "unknown"
    nav = "".join(f"<a href='#{c.key}'>{html.escape(c.title)}</a>" for c in charts)
    sections = "".join(_section(c) for c in charts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Loyalty report: {html.escape(d.warehouse.name)} as of {as_of}</title>
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>Customer loyalty report, as of {as_of}</h1>
<p>Warehouse {html.escape(d.warehouse.name)} (marts in schema <code>marts</code>);
generated {generated_at:%Y-%m-%d %H:%M}. Definitions: README, sections "Retention, churn and segments"
and "Customer lifetime value".</p></header>
<div class="kpis">{_kpis(d)}</div>
<nav>{nav}</nav>
<main>{sections}</main>
<footer>Written by <code>loyalty report</code>; opens offline (plotly.js {html.escape(_plotly_version())} is inlined).
</footer>
</body></html>
"""


def _plotly_version() -> str:
    import plotly

    return str(plotly.__version__)


def write_html(path: Path, text: str) -> Path:
    """Write atomically: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
