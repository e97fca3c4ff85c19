"""The contract of the CLV step's tables, the same on every engine.

What the step reads (queries on dbt's intermediate models) and the columns of the tables it
writes (clv.customer_scores; the appended history table clv.model_fits, in a
column-definition syntax both DuckDB and Spark accept). The engines (loyalty.engines) run
these reads and writes; the step (loyalty.clv_step) computes what is written.

The fits read compressed summaries: one row per distinct (frequency, recency, T), or
(frequency, monetary value), or BG/BB (x, t_x, n), with its number of customers, so that
what reaches the fitting process grows with the number of distinct rows, not with the
customers. The per-customer reads (SUMMARY_SQL, holdout_customers_sql) are what an engine
scores and checks where the data is (loyalty.clv.batches). The SQL is written in what DuckDB
and Spark SQL share; the one difference, the number of days between two dates, is a
function the engine passes in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: (start, end) -> SQL for the whole days from start to end, on the engine's dialect
DaysBetween = Callable[[str, str], str]

MODEL_PARAMS = ("r", "alpha", "a", "b", "s", "beta", "p", "q", "gamma", "delta")

#: one row per customer: what the scores are computed from (per customer, where the data is)
SUMMARY_SQL = """
    select customer_id, frequency, recency_days, tenure_days,
           cast(monetary_value as double) as monetary_value
    from intermediate.int_customers_summarized
"""
AS_OF_SQL = "select max(as_of_date) as as_of_date from intermediate.int_as_of_date"

# the fits' inputs: distinct rows with customer counts (the fitting code sorts them)
TRANSACTION_ROWS_SQL = """
    select frequency, recency_days, tenure_days, count(*) as n_customers
    from intermediate.int_customers_summarized
    group by frequency, recency_days, tenure_days
"""
SPEND_ROWS_SQL = """
    select frequency, cast(monetary_value as double) as monetary_value, count(*) as n_customers
    from intermediate.int_customers_summarized
    group by frequency, cast(monetary_value as double)
"""

#: clv.customer_scores: the customer, the scores (loyalty.clv.score_customers), then churn_model
SCORE_COLUMNS = (
    "customer_id",
    "p_alive_bg_nbd",
    "p_alive_pareto_nbd",
    "p_alive",
    "churn_probability",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "expected_avg_order_value",
    "predicted_clv_365d",
    "p_purchase_30d",
    "p_purchase_90d",
    "median_days_to_next_purchase_365d",
    "predicted_clv_365d_p10",
    "predicted_clv_365d_p90",
)
CUSTOMER_SCORES_COLUMNS = (
    "customer_id string, " + ", ".join(f"{name} double" for name in SCORE_COLUMNS[1:]) + ", churn_model string"
)


def _date(day: dt.date) -> str:
    return f"date '{day.isoformat()}'"


def holdout_customers_sql(calibration_end: dt.date, holdout_end: dt.date, days_between: DaysBetween) -> str:
    """One row per customer whose first purchase day is on or before calibration_end: the
    calibration summary (frequency, recency_days, tenure_days up to calibration_end) and
    actual_holdout, the purchase days in (calibration_end, holdout_end]."""
    cal_end = _date(calibration_end)
    return f"""
    with days as (
        select customer_id, purchase_date
        from intermediate.int_customer_purchase_days
        where purchase_date <= {_date(holdout_end)}
    ),
    calibration as (
        select customer_id, count(*) - 1 as frequency,
               min(purchase_date) as first_day, max(purchase_date) as last_day
        from days
        where purchase_date <= {cal_end}
        group by customer_id
    ),
    holdout as (
        select customer_id, count(*) as actual_holdout
        from days
        where purchase_date > {cal_end}
        group by customer_id
    )
    select calibration.customer_id,
           calibration.frequency,
           {days_between("calibration.first_day", "calibration.last_day")} as recency_days,
           {days_between("calibration.first_day", cal_end)} as tenure_days,
           coalesce(holdout.actual_holdout, 0) as actual_holdout
    from calibration
    left join holdout on calibration.customer_id = holdout.customer_id
"""


def calibration_rows_sql(calibration_end: dt.date, holdout_end: dt.date, days_between: DaysBetween) -> str:
    """The holdout check's calibration summary compressed: distinct (frequency, recency_days,
    tenure_days) with n_customers."""
    customers = holdout_customers_sql(calibration_end, holdout_end, days_between)
    return f"""
    select frequency, recency_days, tenure_days, count(*) as n_customers
    from ({customers}) as customers
    group by frequency, recency_days, tenure_days
"""


def _period_number(date_sql: str, period: str) -> str:
    """A date's calendar period as one increasing whole number (as loyalty.clv.bgbb numbers them)."""
    numbers = {
        "month": f"year({date_sql}) * 12 + month({date_sql}) - 1",
        "quarter": f"year({date_sql}) * 4 + cast(floor((month({date_sql}) - 1) / 3) as bigint)",
        "year": f"year({date_sql})",
    }
    if period not in numbers:
        raise ValueError(f"period must be one of {', '.join(numbers)}, not {period!r}")
    return numbers[period]


def opportunity_rows_sql(last_complete_period_end: dt.date, period: str) -> str:
    """BG/BB's summary (loyalty.clv.bgbb.opportunity_summary) compressed: distinct
    (frequency, recency, n_periods) with n_customers, customers with at least one whole
    period after the first purchase's only."""
    last = _period_number(_date(last_complete_period_end), period)
    return f"""
    with numbered as (
        select distinct customer_id, {_period_number("purchase_date", period)} as number
        from intermediate.int_customer_purchase_days
    ),
    firsts as (
        select customer_id, min(number) as first_number
        from numbered
        group by customer_id
    ),
    per_customer as (
        select
            firsts.customer_id,
            count(case when numbered.number > firsts.first_number and numbered.number <= {last} then 1 end)
                as frequency,
            coalesce(max(case when numbered.number > firsts.first_number and numbered.number <= {last}
                              then numbered.number - firsts.first_number end), 0) as recency,
            greatest({last} - firsts.first_number, 0) as n_periods
        from firsts
        inner join numbered on numbered.customer_id = firsts.customer_id
        group by firsts.customer_id, firsts.first_number
    )
    select frequency, recency, n_periods, count(*) as n_customers
    from per_customer
    where n_periods > 0
    group by frequency, recency, n_periods
"""


MODEL_FITS_COLUMNS = (
    "run_id string, model_name string, fit_purpose string, time_unit string, message string, "
    + ", ".join(f"param_{p} double" for p in MODEL_PARAMS)
    + ", log_likelihood double, n_customers bigint, converged boolean, is_selected boolean, "
    "as_of_date date, calibration_end_date date, fitted_at timestamp"
)
MODEL_FITS_NAMES = [part.split()[0] for part in MODEL_FITS_COLUMNS.split(", ")]


def missing_model_fits_columns(existing: list[str]) -> list[str]:
    """Column definitions ("name type") of MODEL_FITS_COLUMNS that an existing clv.model_fits
    lacks, in table order: an engine adds them before appending, so that a warehouse made
    before a column was added (param_delta, for BG/BB) keeps its history and takes new rows."""
    have = {name.lower() for name in existing}
    return [part for part in MODEL_FITS_COLUMNS.split(", ") if part.split()[0] not in have]
