"""What a run publishes in Prefect: headline numbers (markdown) and the cohort triangle (table).

The marts grow as work lands (churn and segments on dim_customers, rpt_retention_rate_monthly,
CLV columns): every number here is read only when its table and columns exist in the
warehouse's catalog, and shown as "not built" otherwise, so publishing never fails a run
that built its marts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

SUMMARY_ARTIFACT_KEY = "loyalty-run-summary"
COHORT_ARTIFACT_KEY = "loyalty-cohort-retention"
COHORT_TABLE_MONTHS = 12  # the latest 12 cohorts, months 0..12 since first purchase
TOP_SEGMENTS = 5


@dataclass
class Headline:
    """Headline numbers of the marts; None where the mart that holds them is not built."""

    as_of_date: dt.date | None = None
    customers: int | None = None
    active_customers: int | None = None
    churned_customers: int | None = None
    retention_month: dt.date | None = None
    retention_rate: float | None = None
    churn_rate: float | None = None
    segment_column: str | None = None
    top_segments: list[tuple[str, int]] = field(default_factory=list)
    total_predicted_clv: float | None = None
    clv_column: bool = False  # dim_customers has predicted_clv_365d (it may be all null: no fit)
    total_revenue: float | None = None
    valid_transactions: int | None = None
    rejected_transactions: int | None = None


class Catalog:
    """Tables and columns of the warehouse, from information_schema."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns"
        ).fetchall()
        self.columns: dict[str, dict[str, str]] = {}
        for schema, table, column, data_type in rows:
            self.columns.setdefault(f"{schema}.{table}".lower(), {})[str(column).lower()] = str(data_type).upper()

    def has(self, table: str, *columns: str) -> bool:
        cols = self.columns.get(table.lower())
        return cols is not None and all(c.lower() in cols for c in columns)


def read_headline(warehouse: Path) -> Headline:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return _headline(con, Catalog(con))
    finally:
        con.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def _headline(con: duckdb.DuckDBPyConnection, cat: Catalog) -> Headline:
    h = Headline()
    if cat.has("intermediate.int_as_of_date", "as_of_date"):
        h.as_of_date = _one(con, "select max(as_of_date) from intermediate.int_as_of_date")
    if cat.has("marts.fct_transactions"):
        h.valid_transactions = int(_one(con, "select count(*) from marts.fct_transactions"))
    if cat.has("marts.rejected_transactions"):
        h.rejected_transactions = int(_one(con, "select count(*) from marts.rejected_transactions"))
    dim = "marts.dim_customers"
    if cat.has(dim):
        h.customers = int(_one(con, f"select count(*) from {dim}"))
        if cat.has(dim, "total_revenue"):
            h.total_revenue = float(_one(con, f"select coalesce(sum(total_revenue), 0) from {dim}"))
        if cat.has(dim, "is_churned"):
            churned = int(_one(con, f"select count(*) from {dim} where is_churned"))
            h.churned_customers = churned
            h.active_customers = int(_one(con, f"select count(*) from {dim} where not is_churned"))
        for column in ("rfm_segment", "lifecycle_stage", "value_tier"):
            if cat.has(dim, column):
                h.segment_column = column
                h.top_segments = [
                    (str(name), int(n))
                    for name, n in con.execute(
                        f"select {column}, count(*) from {dim} group by 1 order by 2 desc, 1 limit {TOP_SEGMENTS}"
                    ).fetchall()
                ]
                break
        if cat.has(dim, "predicted_clv_365d"):
            value = _one(con, f"select sum(predicted_clv_365d) from {dim}")
            h.clv_column = True
            h.total_predicted_clv = None if value is None else float(value)
    retention = "marts.rpt_retention_rate_monthly"
    if cat.has(retention, "retention_rate"):
        cols = cat.columns[retention]
        month = next((c for c in cols if c.endswith("month") and cols[c] == "DATE"), None) or next(
            (c for c, t in cols.items() if t == "DATE"), None
        )
        if month is not None:
            churn = "churn_rate" if "churn_rate" in cols else "cast(null as double)"
            row = con.execute(
                f"select {month}, retention_rate, {churn} from {retention} order by {month} desc limit 1"
            ).fetchone()
            if row:
                h.retention_month = row[0]
                h.retention_rate = None if row[1] is None else float(row[1])
                h.churn_rate = None if row[2] is None else float(row[2])
    return h


def _count(value: int | None) -> str:
    return "not built" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def headline_markdown(h: Headline, *, warehouse: Path, run_label: str, links: dict[str, str]) -> str:
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
        f"| Transactions valid / rejected | {_count(h.valid_transactions)} / {_count(h.rejected_transactions)} |",
        "",
    ]
    if h.top_segments:
        lines += [f"**Top segments** (`dim_customers.{h.segment_column}`)", "",
                  "| Segment | Customers |", "| --- | --- |"]
        lines += [f"| {name} | {n:,} |" for name, n in h.top_segments]
        lines.append("")
    else:
        lines += ["**Top segments**: not built (dim_customers.rfm_segment)", ""]
    lines += ["**Where to look**", "", f"- Warehouse: `{warehouse}` (DuckDB; marts in schema `marts`)"]
    lines += [f"- {name}: `{path}`" for name, path in links.items()]
    return "\n".join(lines) + "\n"


def headline_lines(h: Headline) -> list[str]:
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


def summary_markdown(summary: Any, *, run_label: str, links: dict[str, str]) -> str:
    """The markdown artifact for engines other than DuckDB: the run's summary lines."""
    lines = [f"# Loyalty warehouse: {run_label}", ""] + [f"- {line}" for line in summary.lines()]
    lines += ["", "**Where to look**", ""] + [f"- {name}: `{path}`" for name, path in links.items()]
    return "\n".join(lines) + "\n"


def cohort_table(warehouse: Path, n_cohorts: int = COHORT_TABLE_MONTHS) -> list[dict[str, Any]]:
    """The latest `n_cohorts` cohorts: cohort size and retention (%) in months 0..n_cohorts."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        if not Catalog(con).has("marts.rpt_cohort_retention_monthly", "cohort_month",
                                "months_since_first_purchase", "retention_rate", "cohort_size"):
            return []
        rows = con.execute(
            """
            with latest as (
                select distinct cohort_month from marts.rpt_cohort_retention_monthly
                order by cohort_month desc limit ?
            )
            select r.cohort_month, r.cohort_size, r.months_since_first_purchase, r.retention_rate
            from marts.rpt_cohort_retention_monthly as r
            inner join latest on r.cohort_month = latest.cohort_month
            where r.months_since_first_purchase <= ?
            order by 1, 3
            """,
            [n_cohorts, n_cohorts],
        ).fetchall()
    finally:
        con.close()
    table: dict[dt.date, dict[str, Any]] = {}
    for cohort, size, month, rate in rows:
        row = table.setdefault(cohort, {"cohort_month": cohort.strftime("%Y-%m"), "cohort_size": int(size)})
        row[f"m{int(month)}"] = None if rate is None else round(100 * float(rate), 1)
    columns = [f"m{m}" for m in range(n_cohorts + 1)]
    # every row has every column (months not reached yet are empty), latest cohort first
    return [{**{"cohort_month": r["cohort_month"], "cohort_size": r["cohort_size"]},
             **{c: r.get(c) for c in columns}} for _, r in sorted(table.items(), reverse=True)]
