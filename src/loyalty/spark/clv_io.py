"""The CLV step's reads and writes on a Spark warehouse (loyalty.clv_step supplies the fits).

Reads the same three tables with the same columns and pandas types as the DuckDB path
(loyalty.clv_step._read_inputs) and writes the same three `clv.*` tables with the same
column types, as plain parquet tables: customer_scores and holdout_validation replaced,
model_fits appended (its history). The pandas <-> Spark hand-over goes through Arrow.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from loyalty.spark.session import get_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MODEL_FITS_COLUMNS = (
    "run_id string, model_name string, fit_purpose string, time_unit string, message string, "
    "param_r double, param_alpha double, param_a double, param_b double, param_s double, param_beta double, "
    "param_p double, param_q double, param_gamma double, log_likelihood double, n_customers bigint, "
    "converged boolean, is_selected boolean, as_of_date date, calibration_end_date date, fitted_at timestamp"
)


def _arrow(spark: SparkSession) -> None:
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")


def read_clv_inputs(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, dt.date | None]:
    """(customer summary, purchase days, as-of date), typed as DuckDB's `.df()` gives them."""
    spark = get_session(warehouse)
    _arrow(spark)
    summary = spark.sql(
        """
        select customer_id, frequency, recency_days, tenure_days,
               cast(monetary_value as double) as monetary_value
        from intermediate.int_customers_summarized
        order by customer_id
        """
    ).toPandas()
    days = spark.sql(
        """
        select customer_id, purchase_date as transaction_date, cast(purchase_amount as double) as amount
        from intermediate.int_customer_purchase_days
        order by customer_id, purchase_date
        """
    ).toPandas()
    days["transaction_date"] = pd.to_datetime(days["transaction_date"])
    row = spark.sql("select max(as_of_date) as as_of_date from intermediate.int_as_of_date").collect()
    return summary, days, row[0][0] if row else None


def _spark_type(dtype: object, values: pd.Series) -> str:
    if dtype == object:  # noqa: E721 - python objects: the type of the first value decides
        first = values.dropna()
        sample = first.iloc[0] if len(first) else None
        if isinstance(sample, dt.datetime):
            return "timestamp"
        if isinstance(sample, dt.date):
            return "date"
        if isinstance(sample, bool):
            return "boolean"
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "int" if getattr(dtype, "itemsize", 8) <= 4 else "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    return "string"


def _frame(spark: SparkSession, frame: pd.DataFrame, schema: str | None = None) -> DataFrame:
    """pandas -> Spark with an explicit schema (from the dtypes unless given), also when empty."""
    if schema is None:
        schema = ", ".join(f"`{name}` {_spark_type(dtype, frame[name])}" for name, dtype in frame.dtypes.items())
    return spark.createDataFrame(frame, schema=schema)


def write_clv_outputs(warehouse: Path, scores: pd.DataFrame, fits: pd.DataFrame, holdout: pd.DataFrame) -> None:
    """Replace clv.customer_scores and clv.holdout_validation, append to clv.model_fits."""
    from pyspark.sql import functions as F

    spark = get_session(warehouse)
    _arrow(spark)
    spark.sql("create database if not exists clv")
    _frame(spark, scores).write.mode("overwrite").format("parquet").saveAsTable("clv.customer_scores")
    holdout_frame = (
        _frame(spark, holdout)
        .withColumn("calibration_end_date", F.to_date("calibration_end_date"))
        .withColumn("holdout_end_date", F.to_date("holdout_end_date"))
    )
    holdout_frame.write.mode("overwrite").format("parquet").saveAsTable("clv.holdout_validation")
    spark.sql(f"create table if not exists clv.model_fits ({MODEL_FITS_COLUMNS}) using parquet")
    names = [part.split()[0] for part in MODEL_FITS_COLUMNS.split(", ")]
    typed = fits.reindex(columns=names).astype(object).where(fits.reindex(columns=names).notna(), None)
    _frame(spark, typed, MODEL_FITS_COLUMNS).select(*names).write.insertInto("clv.model_fits")
