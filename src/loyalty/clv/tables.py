"""The contract of the CLV step's tables, the same on every engine.

What the step reads (three queries on dbt's intermediate models) and the columns of the
appended history table clv.model_fits, in a column-definition syntax both DuckDB and
Spark accept. The engines (loyalty.engines) run these reads and writes; the step
(loyalty.clv_step) computes what is written.
"""

from __future__ import annotations

MODEL_PARAMS = ("r", "alpha", "a", "b", "s", "beta", "p", "q", "gamma", "delta")

SUMMARY_SQL = """
    select customer_id, frequency, recency_days, tenure_days,
           cast(monetary_value as double) as monetary_value
    from intermediate.int_customers_summarized
    order by customer_id
"""
PURCHASE_DAYS_SQL = """
    select customer_id, purchase_date as transaction_date, cast(purchase_amount as double) as amount
    from intermediate.int_customer_purchase_days
    order by customer_id, purchase_date
"""
AS_OF_SQL = "select max(as_of_date) as as_of_date from intermediate.int_as_of_date"

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
