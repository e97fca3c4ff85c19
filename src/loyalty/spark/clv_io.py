"""The CLV step's reads and writes on a Spark warehouse (loyalty.engines.spark calls these).

Reads the same three tables with the same columns and pandas types as the DuckDB path
(loyalty.engines.duckdb) and writes the same three `clv.*` tables with the same
column types, as plain parquet tables: customer_scores and holdout_validation replaced,
model_fits appended (its history). The pandas <-> Spark hand-over goes through Arrow.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from loyalty.clv.tables import (
    AS_OF_SQL,
    MODEL_FITS_COLUMNS,
    MODEL_FITS_NAMES,
    PURCHASE_DAYS_SQL,
    SUMMARY_SQL,
    missing_model_fits_columns,
)
from loyalty.spark.session import get_session

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame, SparkSession


def _arrow(spark: SparkSession) -> None:
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")


def read_clv_inputs(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, dt.date | None]:
    """(customer summary, purchase days, as-of date), typed as DuckDB's `.df()` gives them."""
    spark = get_session(warehouse)
    _arrow(spark)
    summary = spark.sql(SUMMARY_SQL).toPandas()
    days = spark.sql(PURCHASE_DAYS_SQL).toPandas()
    days["transaction_date"] = pd.to_datetime(days["transaction_date"])
    row = spark.sql(AS_OF_SQL).collect()
    return summary, days, row[0][0] if row else None


def _spark_type(dtype: np.dtype | pd.api.extensions.ExtensionDtype, values: pd.Series) -> str:
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
    added = missing_model_fits_columns(spark.table("clv.model_fits").columns)
    if added:  # a warehouse made before a column was added keeps its fit history
        spark.sql(f"alter table clv.model_fits add columns ({', '.join(added)})")
    typed = (
        fits.reindex(columns=MODEL_FITS_NAMES)
        .astype(object)
        # pandas-stubs has no overload for other=None, which pandas documents for object frames
        .where(fits.reindex(columns=MODEL_FITS_NAMES).notna(), None)  # type: ignore[call-overload]
    )
    _frame(spark, typed, MODEL_FITS_COLUMNS).select(*MODEL_FITS_NAMES).write.insertInto("clv.model_fits")
