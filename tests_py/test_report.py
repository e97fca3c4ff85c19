"""The analysts' report and the offline Data Docs, opened in a real headless Chromium.

The warehouses are the session's real builds (`loyalty run` on CDNOW and on the fixtures);
the report file checked is the one the pipeline run wrote. Screenshots are kept under
build/artifacts/ for CI.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from browser import Chromium, chromium_path
from conftest import REPO, RUN_OUTPUT, connect, run_cli
from loyalty.engines import get_engine
from loyalty.orchestration.dbt_nodes import node_lines, phase_summary
from loyalty.orchestration.publish import headline_lines
from loyalty.quality.offline_docs import CDN_FILES, REMOTE_LOGO, VENDOR, assets_dir, make_offline, remote_links
from loyalty.quality.project import run_project
from loyalty.report import report_path
from loyalty.report.charts import BUILDERS, cohort_heatmap, retention_by_month
from loyalty.report.data import ReportData, read_report_data
from loyalty.summary import Summary

ARTIFACTS = REPO / "build" / "artifacts"
CHARTS = [b.__name__ for b in BUILDERS]


# --- definitions on hand-computed examples ---------------------------------------------------


def test_cohort_reading_weights_month1_retention_by_cohort_size() -> None:
    # cohort A: 10 customers, 5 back in month 1; cohort B: 30 customers, 3 back: (5 + 3) / 40 = 20%
    cohorts = pd.DataFrame(
        {
            "cohort_month": [dt.date(2024, 1, 1)] * 2 + [dt.date(2024, 2, 1)] * 2,
            "months_since_first_purchase": [0, 1, 0, 1],
            "cohort_size": [10, 10, 30, 30],
            "active_customers": [10, 5, 30, 3],
            "retention_rate": [1.0, 0.5, 1.0, 0.1],
        }
    )
    chart = cohort_heatmap(ReportData(warehouse=Path("x.duckdb"), cohorts=cohorts))
    assert "Of 2 monthly cohorts, 20.0% of customers" in chart.reading
    assert chart.figure is not None and chart.figure.data[0].z.shape == (2, 2)


def test_retention_reading_quotes_the_last_month_and_the_classic_formula() -> None:
    # start 10, 2 new, 1 reactivated, 7 retained, 3 churned -> end 10; ours 70%, (end - new) / start = 80%
    retention = pd.DataFrame(
        {
            "activity_month": [dt.date(2024, 5, 1)],
            "customers_start": [10],
            "customers_end": [10],
            "new_customers": [2],
            "retention_rate": [0.7],
            "churn_rate": [0.3],
            "retention_rate_end_minus_new": [0.8],
        }
    )
    chart = retention_by_month(ReportData(warehouse=Path("x.duckdb"), retention=retention))
    assert chart.reading.startswith("In May 2024, 70.0% of the customers active at the start")
    assert "30.0% churned; the classic formula reads 80.0%" in chart.reading


def test_every_chart_says_not_built_on_an_empty_report() -> None:
    empty = ReportData(warehouse=Path("x.duckdb"))
    for builder in BUILDERS:
        chart = builder(empty)
        assert chart.missing and chart.reading.startswith("Not built yet"), builder.__name__


def test_dbt_node_lines_give_status_time_and_message() -> None:
    results = [
        {"unique_id": "model.loyalty.dim_customers", "status": "success", "execution_time": 0.4213},
        {
            "unique_id": "test.loyalty.not_null_dim_customers_customer_id.5b1",
            "status": "fail",
            "execution_time": 0.05,
            "message": "Got 2 results,\n configured to fail if != 0",
        },
    ]
    assert node_lines(results) == [
        "success   0.42 s  model dim_customers",
        "fail      0.05 s  test not_null_dim_customers_customer_id (Got 2 results, configured to fail if != 0)",
    ]
    assert phase_summary("marts", results) == "dbt marts phase: 2 nodes (1 fail, 1 success), 0.5 s of node time."
    assert phase_summary("marts", results, left_to_constraints=3) == (
        "dbt marts phase: 2 nodes (1 fail, 1 success), 0.5 s of node time; "
        "3 not_null tests left to the tables' NOT NULL constraints."
    )


def test_headline_lines_are_the_artifacts_numbers() -> None:
    h = Summary(
        warehouse=Path("x.duckdb"),
        as_of_date=dt.date(1998, 6, 30),
        raw_rows=0,
        valid_rows=0,
        rejected_rows=0,
        rejected_by_reason={},
        customers=2357,
        repeat_customers=0,
        total_revenue=0.0,
        cohorts=0,
        month1_retention=None,
        marts=[],
        active_customers=812,
        churned_customers=1545,
        retention_month=dt.date(1998, 6, 1),
        retention_rate=0.9375,
        churn_rate=0.0625,
        clv_column=True,
        total_predicted_clv=12345.678,
    )
    assert headline_lines(h) == [
        "Active customers: 812 (34.5% of customers); churned: 1,545",
        "Retention this month: 93.8% retained, 6.2% churned in June 1998",
        "Total predicted CLV (365 days): 12,345.68",
    ]


def test_data_docs_pages_are_rewritten_to_local_copies(tmp_path: Path) -> None:
    site = tmp_path / "local_site"
    page = site / "validations" / "suite" / "run" / "page.html"
    page.parent.mkdir(parents=True)
    links = (
        "".join(f'<script src="{url}" integrity="sha384-x" crossorigin="anonymous"></script>' for url in CDN_FILES)
        + f'<img src="{REMOTE_LOGO}">'
    )
    links += '<link rel="shortcut icon" href="../../static/images/favicon.ico" type="image/x-icon"/>'  # GX: 1 too high
    page.write_text(f"<html><head>{links}</head></html>")
    (site / "index.html").write_text(
        '<link href="https://code.jquery.com/jquery-3.7.1.min.js">'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&x=2">'
    )
    assert make_offline(site) == 2
    assert remote_links(page) == [] and remote_links(site / "index.html") == []
    text = page.read_text()
    assert '<script src="../../../static/vendor/bootstrap/dist/js/bootstrap.min.js"></script>' in text
    assert '<img src="../../../static/images/logo-long.png">' in text
    assert 'href="../../../static/images/favicon.ico"' in text
    assert (site / "index.html").read_text() == (
        '<link href="static/vendor/jquery/dist/jquery.min.js"><img src="static/images/logo-long.png">'
    )
    for package, file in CDN_FILES.values():
        copied = (site / VENDOR / package / file).read_bytes()
        assert copied == (assets_dir() / package / file).read_bytes() and len(copied) > 100, (package, file)
    assert list((site / VENDOR / "@fortawesome" / "fontawesome-free" / "webfonts").glob("*.woff2"))
    assert make_offline(site) == 0  # already local


# --- the real warehouses --------------------------------------------------------------------


def test_report_numbers_match_the_published_cdnow_figures(cdnow_warehouse: Path) -> None:
    d = read_report_data(cdnow_warehouse)
    assert d.as_of_date == dt.date(1998, 6, 30)
    # README "Retention, churn and segments": 2,357 customers, 812 active and 1,545 churned on 1998-06-30
    assert (d.kpis["customers"], d.kpis["active_customers"], d.kpis["churned_customers"]) == (2357, 812, 1545)
    assert d.cohorts is not None
    month0 = d.cohorts[d.cohorts["months_since_first_purchase"] == 0]
    assert int(month0["cohort_size"].sum()) == 2357
    assert d.retention is not None
    by_month = d.retention.set_index(pd.to_datetime(d.retention["activity_month"]).dt.strftime("%Y-%m"))
    # pandas-stubs types .loc[row, col] as any scalar; retention_rate is a float
    assert [round(by_month.loc[m, "retention_rate"], 3) for m in ("1998-01", "1998-02", "1998-03")] == [  # type: ignore[arg-type]
        0.810,
        0.717,
        0.665,
    ]
    # the textbook rate, recomputed here from the monthly flows
    r = d.retention[d.retention["customers_start"] > 0]
    expected = (r["customers_end"] - r["new_customers"]) / r["customers_start"]
    assert (r["retention_rate_end_minus_new"] - expected).abs().max() < 1e-12
    # the holdout check: 1,882 actual repeat purchases in weeks 40-78 (Fader, Hardie & Lee 2005)
    assert d.holdout is not None
    totals = d.holdout[d.holdout["frequency_bucket"] == "total"]
    assert set(totals["actual_repeat_purchases"].astype(int)) == {1882}
    # the lifecycle chart's only recorded date counts every customer once
    assert d.lifecycle is not None and int(d.lifecycle["customers"].sum()) == 2357
    assert d.rfm_grid is not None and int(d.rfm_grid["customers"].sum()) == 2357
    with connect(cdnow_warehouse) as con:
        top = con.execute(
            "select customer_id from marts.dim_customers order by predicted_clv_365d desc, customer_id limit 1"
        ).fetchone()[0]
    assert d.top_customers is not None and d.top_customers.iloc[0]["customer_id"] == top


def test_the_run_writes_the_report_and_prints_the_artifacts_numbers(cdnow_warehouse: Path) -> None:
    report = report_path(cdnow_warehouse)
    assert report.is_file() and report.stat().st_size > 1_000_000  # plotly.js is inside
    html = report.read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html), "the report loads a remote file"
    out = (cdnow_warehouse.parent / RUN_OUTPUT).read_text()
    assert "Active customers: 812 (34.5% of customers); churned: 1,545" in out
    assert "Retention this month: " in out and "churned in June 1998" in out
    assert re.search(r"Total predicted CLV \(365 days\): [\d,]+\.\d\d", out)
    assert f"Report: {report}" in out
    for phase in ("inputs", "marts", "clv"):
        assert re.search(rf"dbt {phase} phase: \d+ nodes \(", out), phase


def test_a_run_with_the_as_of_date_left_open_is_named_by_the_resolved_date(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        as_of = con.execute("select max(as_of_date) from intermediate.int_as_of_date").fetchone()[0]
    out = (fixture_warehouse.parent / RUN_OUTPUT).read_text()
    assert f"Flow run renamed 'fixtures.duckdb as of latest' -> 'fixtures.duckdb as of {as_of}'" in out
    # GX names the validation runs by the as-of date too
    gx_project = run_project(get_engine("duckdb").work_path(fixture_warehouse))
    runs = {p.name for p in (gx_project / "uncommitted" / "validations").glob("*/*/")}
    assert runs == {f"as-of-{as_of}"}


def test_loyalty_report_command_writes_to_out(cdnow_warehouse: Path, tmp_path: Path) -> None:
    proc = run_cli("report", "--warehouse", str(cdnow_warehouse), "--out", str(tmp_path / "r"))
    assert proc.stdout.strip() == f"Report: {tmp_path / 'r' / 'report.html'}"
    assert (tmp_path / "r" / "report.html").stat().st_size > 1_000_000


def test_loyalty_report_on_a_missing_warehouse_is_one_sentence(tmp_path: Path) -> None:
    proc = run_cli("report", "--warehouse", str(tmp_path / "none.duckdb"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: The warehouse {tmp_path / 'none.duckdb'} does not exist: build it with `loyalty run` first."
    )


# --- in the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    executable = chromium_path()
    if executable is None:
        pytest.fail("Chromium is not installed: run `make browser` (apt-get install chromium).")
    browser = Chromium(executable)
    try:
        yield browser
    finally:
        browser.close()


COUNT_RENDERED = """
Array.from(document.querySelectorAll('section.chart')).map(s => ({
    id: s.id, kind: s.dataset.kind,
    svgs: s.querySelectorAll('.js-plotly-plot .main-svg').length,
    marks: s.querySelectorAll('.js-plotly-plot .trace, .js-plotly-plot .hm, .js-plotly-plot image').length,
    rows: s.querySelectorAll('table tbody tr').length,
    height: s.getBoundingClientRect().height,
    reading: (s.querySelector('p.reading') || {innerText: ''}).innerText.trim(),
}))
"""


def _open_report(chromium: Chromium, report: Path, screenshot: str) -> tuple[list[dict], list[str], list[str]]:
    page = chromium.new_page()
    try:
        page.open(report.as_uri())
        page.drain(2.0)
        sections = page.evaluate(COUNT_RENDERED)
        page.screenshot(ARTIFACTS / screenshot)
        remote = [u for u in page.requested_urls() if not u.startswith(("file:", "data:"))]
        return sections, page.console_errors(), remote
    finally:
        page.close()


def test_report_renders_every_chart_in_chromium(cdnow_warehouse: Path, chromium: Chromium) -> None:
    sections, errors, remote = _open_report(chromium, report_path(cdnow_warehouse), "report.png")
    assert errors == [] and remote == []
    assert [s["id"] for s in sections] == [
        "cohort_retention",
        "retention_monthly",
        "lifecycle",
        "rfm_grid",
        "value_tiers",
        "clv_distribution",
        "top_clv",
        "decline_alerts",
        "category_breadth",
        "clv_holdout",
        "p_alive",
    ]
    for s in sections:
        if s["kind"] == "chart":
            assert s["svgs"] >= 1 and s["marks"] >= 1, s
        else:
            assert s["kind"] == "table" and s["rows"] >= 1, s
        # each chart's one-line reading is shown, and is computed from the warehouse's numbers
        assert re.search(r"\d", s["reading"]) and "\n" not in s["reading"], s
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000


def test_report_of_a_warehouse_without_clv_fits_renders_without_errors(
    fixture_warehouse: Path, chromium: Chromium
) -> None:
    sections, errors, remote = _open_report(chromium, report_path(fixture_warehouse), "report-fixtures.png")
    assert errors == [] and remote == []
    kinds = {s["id"]: s["kind"] for s in sections}
    assert kinds["cohort_retention"] == "chart" and kinds["clv_distribution"] == "none"  # < 30 customers: no fit
    for s in sections:
        if s["kind"] == "chart":
            assert s["svgs"] >= 1, s


def test_data_docs_render_offline_in_chromium(cdnow_warehouse: Path, chromium: Chromium) -> None:
    index = get_engine("duckdb").data_docs(cdnow_warehouse)
    assert index is not None
    pages = [index] + sorted((index.parent / "validations").rglob("*.html"))[:1]
    assert len(pages) == 2
    for i, path in enumerate(pages):
        assert remote_links(path) == [], path
        page = chromium.new_page()
        try:
            page.open(path.as_uri())
            page.drain(2.0)
            state = page.evaluate("""({
                text: document.body.innerText.trim().length,
                rows: document.querySelectorAll('table tbody tr').length,
                bootstrap: typeof jQuery !== 'undefined' && typeof jQuery.fn.modal === 'function',
                styled: getComputedStyle(document.body).fontFamily,
            })""")
            page.screenshot(ARTIFACTS / f"data-docs-{'index' if i == 0 else 'validation'}.png")
            assert page.failed_requests() == [], path
            assert [u for u in page.requested_urls() if not u.startswith(("file:", "data:"))] == [], path
            assert page.console_errors() == [], path
        finally:
            page.close()
        assert state["text"] > 200 and state["rows"] >= 1 and state["bootstrap"], (path, state)


def test_pruning_old_validations_removes_an_as_of_date_left_without_runs(tmp_path: Path) -> None:
    from loyalty.quality.project import RESULT_PAGES, RESULTS, prune_results

    dated = [
        ("as-of-2024-01-31", "20260101T000000.000000Z"),
        ("as-of-2024-02-29", "20260102T000000.000000Z"),
        ("as-of-2024-03-31", "20260103T000000.000000Z"),
    ]
    for name, run in dated:
        for base in (RESULTS, RESULT_PAGES):
            (tmp_path / base / "dim_customers" / name / run).mkdir(parents=True)
    assert prune_results(tmp_path, keep=2) == 1
    for base in (RESULTS, RESULT_PAGES):
        assert sorted(p.name for p in (tmp_path / base / "dim_customers").iterdir()) == [
            "as-of-2024-02-29",
            "as-of-2024-03-31",
        ]
