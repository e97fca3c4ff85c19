"""What a run publishes in Prefect: headline numbers (markdown) and the cohort triangle (table),
rendered from the run's Summary (loyalty.summary reads it from the published warehouse).
Numbers from marts or columns that are not built show as "not built"."""

from __future__ import annotations

from typing import Any

from loyalty.summary import Summary

SUMMARY_ARTIFACT_KEY = "loyalty-run-summary"
COHORT_ARTIFACT_KEY = "loyalty-cohort-retention"


def _count(value: int | None) -> str:
    return "not built" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def headline_markdown(h: Summary, *, run_label: str, links: dict[str, str]) -> str:
    """The markdown artifact: what an analyst checks first after a run."""
    share = ""
    if h.customers and h.active_customers is not None:
        share = f" ({h.active_customers / h.customers:.1%} of customers)"
    if h.retention_rate is None and h.retention_month is None:
        retention = "not built (rpt_retention_rate_monthly)"
    else:
        retention = f"{_pct(h.retention_rate)} retained, {_pct(h.churn_rate)} churned in {h.retention_month:%B %Y}"
    if not h.clv_column:
        clv = "not built (dim_customers.predicted_clv_365d)"
    elif h.total_predicted_clv is None:
        clv = "n/a (no CLV model was fitted: see the fit-clv-models step)"
    else:
        clv = f"{h.total_predicted_clv:,.2f}"
    lines = [
        f"# Loyalty warehouse: {run_label}",
        "",
        "| Headline | Value |",
        "| --- | --- |",
        f"| As-of date | {h.as_of_date or 'n/a'} |",
        f"| Customers | {_count(h.customers)} |",
        f"| Active customers | {_count(h.active_customers)}{share} |",
        f"| Churned customers | {_count(h.churned_customers)} |",
        f"| Retention this month | {retention} |",
        f"| Total predicted CLV (365 days) | {clv} |",
        f"| Net revenue to date | {'not built' if h.total_revenue is None else f'{h.total_revenue:,.2f}'} |",
        f"| Transactions valid / rejected | {_count(h.valid_rows)} / {_count(h.rejected_rows)} |",
        "",
    ]
    if h.top_segments:
        lines += [
            f"**Top segments** (`dim_customers.{h.segment_column}`)",
            "",
            "| Segment | Customers |",
            "| --- | --- |",
        ]
        lines += [f"| {name} | {n:,} |" for name, n in h.top_segments]
        lines.append("")
    else:
        lines += ["**Top segments**: not built (dim_customers.rfm_segment)", ""]
    lines += ["**Where to look**", "", f"- Warehouse: `{h.warehouse}` ({h.engine}; marts in schema `marts`)"]
    lines += [f"- {name}: `{path}`" for name, path in links.items()]
    return "\n".join(lines) + "\n"


def cohort_table(summary: Summary) -> list[dict[str, Any]]:
    """Rows of the cohort table artifact: the latest cohorts, latest first."""
    return summary.cohort_table


def headline_lines(h: Summary) -> list[str]:
    """The artifact's headline numbers as plain lines, for the CLI's closing summary."""
    share = f" ({h.active_customers / h.customers:.1%} of customers)" if h.customers and h.active_customers else ""
    if h.retention_month is None:
        retention = "not built (rpt_retention_rate_monthly)"
    else:
        retention = f"{_pct(h.retention_rate)} retained, {_pct(h.churn_rate)} churned in {h.retention_month:%B %Y}"
    if not h.clv_column:
        clv = "not built (dim_customers.predicted_clv_365d)"
    elif h.total_predicted_clv is None:
        clv = "n/a (no CLV model was fitted)"
    else:
        clv = f"{h.total_predicted_clv:,.2f}"
    return [
        f"Active customers: {_count(h.active_customers)}{share}; churned: {_count(h.churned_customers)}",
        f"Retention this month: {retention}",
        f"Total predicted CLV (365 days): {clv}",
    ]
