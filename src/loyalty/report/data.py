"""What the report shows, read from the marts: one query per chart, portable SQL.

Every query reads a mart (or the status snapshot) through the engine's read-only connection
(loyalty.engines), so the report reads a DuckDB file or a Spark warehouse folder alike. A chart whose table or
columns are not in the warehouse's catalog gets None ("not built"), never an error: the
marts grow as the project does.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from loyalty.errors import LoyaltyError

TOP_CUSTOMERS = 20
MAX_ALERTS = 50
CLV_HISTOGRAM_BINS = 40


@dataclass
class ReportData:
    """The frames behind each chart; None where the mart is not built."""

    warehouse: Path
    as_of_date: dt.date | None = None
    kpis: dict[str, Any] = field(default_factory=dict)
    cohorts: pd.DataFrame | None = None
    retention: pd.DataFrame | None = None
    lifecycle: pd.DataFrame | None = None
    rfm_grid: pd.DataFrame | None = None
    rfm_segments: pd.DataFrame | None = None
    value_tiers: pd.DataFrame | None = None
    clv: pd.DataFrame | None = None
    top_customers: pd.DataFrame | None = None
    alerts: pd.DataFrame | None = None
    alerts_total: int = 0
    category_breadth: pd.DataFrame | None = None
    holdout: pd.DataFrame | None = None
    p_alive_grid: pd.DataFrame | None = None


class ReportReadError(LoyaltyError):
    """The warehouse could not be read (locked by a writer, not a warehouse, no marts)."""


class _Catalog:
    def __init__(self, con: Any) -> None:
        rows = con.execute("select table_schema, table_name, column_name from information_schema.columns").fetchall()
        self.columns: dict[str, set[str]] = {}
        for schema, table, column in rows:
            self.columns.setdefault(f"{schema}.{table}".lower(), set()).add(str(column).lower())

    def has(self, table: str, *columns: str) -> bool:
        cols = self.columns.get(table.lower())
        return cols is not None and all(c.lower() in cols for c in columns)


def _row(con: Any, sql: str) -> tuple[Any, ...]:
    """The one row of an aggregate query, fetched to the end (DuckDB 2 refuses a new query on a
    connection whose last result was not read to the end)."""
    rows = con.execute(sql).fetchall()
    return tuple(rows[0]) if rows else ()


def _frame(con: Any, sql: str) -> pd.DataFrame:
    """The query's rows as pandas; decimal columns (money) as floats for the charts."""
    frame = con.execute(sql).df()
    for column in frame.columns:
        values = frame[column].dropna()
        if frame[column].dtype == object and len(values) and isinstance(values.iloc[0], decimal.Decimal):
            frame[column] = frame[column].astype(float)
    return frame


def read_report_data(warehouse: Path, target: str = "duckdb") -> ReportData:
    """Read every chart's frame from the published warehouse (read-only)."""
    import duckdb

    from loyalty.engines import get_engine

    try:
        con = get_engine(target).connect_read_only(warehouse)
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        # the two usual causes in words (the same as `loyalty export`'s), else DuckDB's first line
        if "not a valid DuckDB database" in reason:
            raise ReportReadError(
                f"{warehouse} is not a DuckDB warehouse: give the file that `loyalty run` built."
            ) from None
        if "lock" in reason.lower():
            raise ReportReadError(
                f"The warehouse {warehouse} is in use by another process (a run holds it): "
                "try again when the run has finished."
            ) from None
        raise ReportReadError(f"Could not open the warehouse {warehouse} for the report: {reason}") from None
    try:
        catalog = _Catalog(con)
        if not any(table.startswith("marts.") for table in catalog.columns):
            raise ReportReadError(f"The warehouse {warehouse} has no marts yet: build it with `loyalty run` first.")
        return _read(con, catalog, ReportData(warehouse=warehouse))
    finally:
        con.close()


DIM = "marts.dim_customers"
COHORTS = "marts.rpt_cohort_retention_monthly"
RETENTION = "marts.rpt_retention_rate_monthly"
SNAPSHOT = "snapshots.customer_status_snapshot"
ALERTS = "marts.rpt_high_value_decline_alerts"
BREADTH = "marts.rpt_category_breadth_churn"
HOLDOUT = "marts.rpt_clv_holdout_validation"


def _read(con: Any, cat: _Catalog, d: ReportData) -> ReportData:  # noqa: C901 - one block per chart
    if cat.has("intermediate.int_as_of_date", "as_of_date"):
        d.as_of_date = _row(con, "select max(as_of_date) from intermediate.int_as_of_date")[0]
    if cat.has(DIM, "customer_id", "total_revenue"):
        row = _row(con, f"select count(*), sum(total_revenue) from {DIM}")
        d.kpis["customers"] = int(row[0])
        d.kpis["net_revenue"] = float(row[1] or 0)
    if cat.has(DIM, "is_churned"):
        row = _row(
            con,
            f"select sum(case when is_churned then 0 else 1 end), "
            f"sum(case when is_churned then 1 else 0 end) from {DIM}",
        )
        d.kpis["active_customers"], d.kpis["churned_customers"] = int(row[0] or 0), int(row[1] or 0)
    if cat.has(DIM, "predicted_clv_365d"):
        value = _row(con, f"select sum(predicted_clv_365d) from {DIM}")[0]
        d.kpis["predicted_clv_365d"] = None if value is None else float(value)

    if cat.has(COHORTS, "cohort_month", "months_since_first_purchase", "cohort_size", "retention_rate"):
        d.cohorts = _frame(
            con,
            f"""
            select cohort_month, months_since_first_purchase, cohort_size, active_customers, retention_rate
            from {COHORTS} order by cohort_month, months_since_first_purchase""",
        )

    if cat.has(
        RETENTION, "activity_month", "retention_rate", "churn_rate", "customers_start", "customers_end", "new_customers"
    ):
        # the textbook formula (end - new) / start counts customers who came back after churning
        # as retained; the mart's own rates (retained / start, churned / start) do not
        d.retention = _frame(
            con,
            f"""
            select activity_month, customers_start, customers_end, new_customers, retention_rate, churn_rate,
                case when customers_start > 0
                    then cast(customers_end - new_customers as double) / customers_start end
                    as retention_rate_end_minus_new
            from {RETENTION} order by activity_month""",
        )
        if len(d.retention):
            last = d.retention.iloc[-1]
            d.kpis["retention_month"] = last["activity_month"]
            d.kpis["retention_rate"] = None if pd.isna(last["retention_rate"]) else float(last["retention_rate"])
            d.kpis["churn_rate"] = None if pd.isna(last["churn_rate"]) else float(last["churn_rate"])

    if cat.has(SNAPSHOT, "customer_id", "lifecycle_stage", "dbt_valid_from", "dbt_valid_to"):
        # status on each recorded date: the version valid on that date, per customer
        d.lifecycle = _frame(
            con,
            f"""
            with recorded as (
                select distinct cast(dbt_valid_from as date) as status_date from {SNAPSHOT}
            )
            select recorded.status_date, s.lifecycle_stage, count(*) as customers
            from recorded
            inner join {SNAPSHOT} as s
                on cast(s.dbt_valid_from as date) <= recorded.status_date
                and (s.dbt_valid_to is null or cast(s.dbt_valid_to as date) > recorded.status_date)
            group by recorded.status_date, s.lifecycle_stage
            order by recorded.status_date, s.lifecycle_stage""",
        )

    if cat.has(DIM, "rfm_recency_score", "rfm_frequency_score", "rfm_segment", "total_revenue"):
        d.rfm_grid = _frame(
            con,
            f"""
            select rfm_recency_score, rfm_frequency_score, min(rfm_segment) as rfm_segment,
                count(*) as customers, sum(total_revenue) as revenue
            from {DIM} group by rfm_recency_score, rfm_frequency_score
            order by rfm_recency_score, rfm_frequency_score""",
        )
        d.rfm_segments = _frame(
            con,
            f"""
            select rfm_segment, count(*) as customers, sum(total_revenue) as revenue
            from {DIM} group by rfm_segment order by customers desc, rfm_segment""",
        )

    if cat.has(DIM, "value_tier", "revenue_last_12_months"):
        d.value_tiers = _frame(
            con,
            f"""
            select value_tier, count(*) as customers, sum(revenue_last_12_months) as revenue_last_12_months,
                sum(total_revenue) as revenue
            from {DIM} group by value_tier order by value_tier""",
        )

    if cat.has(DIM, "predicted_clv_365d", "customer_id"):
        d.clv = _frame(
            con,
            f"""
            select predicted_clv_365d from {DIM} where predicted_clv_365d is not null""",
        )
        columns = [c for c in ("rfm_segment", "value_tier", "frequency", "total_revenue", "p_alive") if cat.has(DIM, c)]
        extra = "".join(f", {c}" for c in columns)
        d.top_customers = _frame(
            con,
            f"""
            select customer_id, predicted_clv_365d{extra} from {DIM}
            where predicted_clv_365d is not null
            order by predicted_clv_365d desc, customer_id limit {TOP_CUSTOMERS}""",
        )

    if cat.has(ALERTS, "customer_id", "loss_rank"):
        d.alerts_total = int(_row(con, f"select count(*) from {ALERTS}")[0])
        d.alerts = _frame(con, f"select * from {ALERTS} order by loss_rank limit {MAX_ALERTS}")

    if cat.has(BREADTH, "category_breadth", "min_categories", "customers", "churn_rate"):
        d.category_breadth = _frame(con, f"select * from {BREADTH} order by min_categories")

    if cat.has(
        HOLDOUT,
        "model_name",
        "frequency_bucket",
        "bucket_order",
        "predicted_repeat_purchases",
        "actual_repeat_purchases",
    ):
        d.holdout = _frame(con, f"select * from {HOLDOUT} order by model_name, bucket_order")

    if cat.has(DIM, "p_alive", "frequency", "recency_days"):
        d.p_alive_grid = _frame(
            con,
            f"""
            select frequency, recency_days, tenure_days, p_alive from {DIM} where p_alive is not null""",
        )
    return d
