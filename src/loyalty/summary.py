"""The headline numbers of a published warehouse, read once per run: the CLI prints them
(`Summary.lines`), the Prefect run publishes them (loyalty.orchestration.publish).

The marts grow as work lands: numbers from optional tables and columns (churn, segments,
CLV, the retention report) are read only when the warehouse's catalog has them, and are
None ("not built") otherwise. The SQL is portable: it reads a DuckDB file or a Spark
warehouse through the engine's read-only connection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loyalty.engines import Engine

COHORT_TABLE_MONTHS = 12  # the latest 12 cohorts, months 0..12 since first purchase
TOP_SEGMENTS = 5


@dataclass
class Summary:
    warehouse: Path
    as_of_date: dt.date | None
    raw_rows: int
    valid_rows: int
    rejected_rows: int
    rejected_by_reason: dict[str, int]
    customers: int
    repeat_customers: int
    total_revenue: float
    cohorts: int
    month1_retention: float | None
    marts: list[str]
    engine: str = "DuckDB"
    data_docs: Path | None = None  # Great Expectations Data Docs of this warehouse, once built
    # from optional marts and columns: None where not built
    active_customers: int | None = None
    churned_customers: int | None = None
    retention_month: dt.date | None = None
    retention_rate: float | None = None
    churn_rate: float | None = None
    segment_column: str | None = None
    top_segments: list[tuple[str, int]] = field(default_factory=list)
    clv_column: bool = False  # dim_customers has predicted_clv_365d (it may be all null: no fit)
    total_predicted_clv: float | None = None
    # the latest cohorts' size and retention (%) in months 0..COHORT_TABLE_MONTHS
    cohort_table: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        rejected = ", ".join(f"{k} {v:,}" for k, v in self.rejected_by_reason.items()) or "none"
        retention = "n/a" if self.month1_retention is None else f"{self.month1_retention:.1%}"
        share = self.repeat_customers / self.customers if self.customers else 0.0
        return [
            f"Warehouse: {self.warehouse} ({self.engine}; marts in schema `marts`)",
            f"Marts: {', '.join(self.marts)}",
            f"As-of date: {self.as_of_date}",
            f"Input rows: {self.raw_rows:,} = {self.valid_rows:,} valid + {self.rejected_rows:,} rejected ({rejected})",
            f"Customers: {self.customers:,}, of whom repeat buyers {self.repeat_customers:,} ({share:.1%})",
            f"Net revenue: {self.total_revenue:,.2f}",
            f"Cohorts: {self.cohorts}; average month-1 retention: {retention}",
        ] + ([f"Data Docs (Great Expectations): {self.data_docs}"] if self.data_docs else [])


class Catalog:
    """Tables and columns of the warehouse, from information_schema."""

    def __init__(self, con: Any) -> None:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns"
        ).fetchall()
        self.columns: dict[str, dict[str, str]] = {}
        for schema, table, column, data_type in rows:
            self.columns.setdefault(f"{schema}.{table}".lower(), {})[str(column).lower()] = str(data_type).upper()

    def has(self, table: str, *columns: str) -> bool:
        cols = self.columns.get(table.lower())
        return cols is not None and all(c.lower() in cols for c in columns)


def summarize(engine: Engine, warehouse: Path) -> Summary:
    """Read the headline numbers of the published warehouse (read-only)."""
    con = engine.connect_read_only(warehouse)
    try:
        summary = _read(con, warehouse)
    finally:
        con.close()
    summary.engine = engine.label
    summary.data_docs = engine.data_docs(warehouse)
    return summary


def _read(con: Any, warehouse: Path) -> Summary:
    # Few queries, each reading several numbers: on Spark every query costs a plan and a job
    # (~1 s on a local session), so the scalar numbers come from one query of scalar subqueries
    # and one aggregate over dim_customers; the rejected rows are the sum of their reasons.
    by_reason = con.execute(
        "select reject_reason, count(*) from marts.rejected_transactions group by 1 order by 2 desc, 1"
    ).fetchall()
    marts = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()
    ]
    dim = "marts.dim_customers"
    cat = Catalog(con)
    as_of, raw_rows, valid_rows, cohorts, month1 = con.execute(
        """
        select
            (select max(as_of_date) from intermediate.int_as_of_date),
            (select count(*) from raw.transactions),
            (select count(*) from marts.fct_transactions),
            (select count(distinct cohort_month) from marts.rpt_cohort_retention_monthly),
            (select avg(retention_rate) from marts.rpt_cohort_retention_monthly
             where months_since_first_purchase = 1)
        """
    ).fetchone()
    churn = cat.has(dim, "is_churned")
    clv = cat.has(dim, "predicted_clv_365d")
    customers, repeat, revenue, churned, active, predicted = con.execute(
        f"""
        select
            count(*),
            count(case when frequency > 0 then 1 end),
            coalesce(sum(total_revenue), 0),
            {"count(case when is_churned then 1 end)" if churn else "0"},
            {"count(case when not is_churned then 1 end)" if churn else "0"},
            {"sum(predicted_clv_365d)" if clv else "cast(null as double)"}
        from {dim}
        """
    ).fetchone()
    s = Summary(
        warehouse=warehouse,
        as_of_date=as_of,
        raw_rows=int(raw_rows),
        valid_rows=int(valid_rows),
        rejected_rows=sum(int(v) for _, v in by_reason),
        rejected_by_reason={str(k): int(v) for k, v in by_reason},
        customers=int(customers),
        repeat_customers=int(repeat),
        total_revenue=float(revenue),
        cohorts=int(cohorts),
        month1_retention=month1,
        marts=marts,
    )
    if churn:
        s.churned_customers = int(churned)
        s.active_customers = int(active)
    for column in ("rfm_segment", "lifecycle_stage", "value_tier"):
        if cat.has(dim, column):
            s.segment_column = column
            s.top_segments = [
                (str(name), int(n))
                for name, n in con.execute(
                    f"select {column}, count(*) from {dim} group by 1 order by 2 desc, 1 limit {TOP_SEGMENTS}"
                ).fetchall()
            ]
            break
    if clv:
        s.clv_column = True
        s.total_predicted_clv = None if predicted is None else float(predicted)
    retention = "marts.rpt_retention_rate_monthly"
    if cat.has(retention, "retention_rate"):
        cols = cat.columns[retention]
        month = next((c for c in cols if c.endswith("month") and cols[c] == "DATE"), None) or next(
            (c for c, t in cols.items() if t == "DATE"), None
        )
        if month is not None:
            churn_rate = "churn_rate" if "churn_rate" in cols else "cast(null as double)"
            row = con.execute(
                f"select {month}, retention_rate, {churn_rate} from {retention} order by {month} desc limit 1"
            ).fetchone()
            if row:
                s.retention_month = row[0]
                s.retention_rate = None if row[1] is None else float(row[1])
                s.churn_rate = None if row[2] is None else float(row[2])
    s.cohort_table = _cohort_table(con)
    return s


def _cohort_table(con: Any, n_cohorts: int = COHORT_TABLE_MONTHS) -> list[dict[str, Any]]:
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
    table: dict[dt.date, dict[str, Any]] = {}
    for cohort, size, month, rate in rows:
        row = table.setdefault(cohort, {"cohort_month": cohort.strftime("%Y-%m"), "cohort_size": int(size)})
        row[f"m{int(month)}"] = None if rate is None else round(100 * float(rate), 1)
    columns = [f"m{m}" for m in range(n_cohorts + 1)]
    # every row has every column (months not reached yet are empty), latest cohort first
    return [
        {"cohort_month": r["cohort_month"], "cohort_size": r["cohort_size"], **{c: r.get(c) for c in columns}}
        for _, r in sorted(table.items(), reverse=True)
    ]
