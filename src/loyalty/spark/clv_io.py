"""The CLV step's reads and writes on a Spark warehouse (loyalty.engines.spark calls these).

What reaches the driver is small: the as-of date, the compressed summaries the fits read
(distinct rows with customer counts, loyalty.clv.tables' SQL), and the holdout check's sums
per frequency bucket. Per-customer work runs in Spark: the scores with `mapInPandas`, in
Python workers that get the fitted models (loyalty.clv.batches.CustomerScorer) and write
straight into clv.customer_scores; the holdout predictions the same way, summed per bucket
by Spark. Every driver-side collect goes through `collect_small`, which a test counts.
Writes the same `clv.*` tables with the same column types as the DuckDB engine, as plain
parquet tables: customer_scores and holdout_validation replaced, model_fits appended (its
history). The pandas <-> Spark hand-over goes through Arrow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from loyalty.clv.tables import (
    AS_OF_SQL,
    CUSTOMER_SCORES_COLUMNS,
    MODEL_FITS_COLUMNS,
    MODEL_FITS_NAMES,
    SPEND_ROWS_SQL,
    SUMMARY_SQL,
    TRANSACTION_ROWS_SQL,
    calibration_rows_sql,
    holdout_customers_sql,
    missing_model_fits_columns,
    opportunity_rows_sql,
)
from loyalty.spark.session import get_session

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame, SparkSession

    from loyalty.clv.batches import CustomerScorer, HoldoutPredictor

#: called with (what, rows) for every DataFrame the CLV path brings to the driver (tests count them)
on_collect: Callable[[str, int], None] | None = None


def days_between(start: str, end: str) -> str:
    return f"datediff({end}, {start})"


def _arrow(spark: SparkSession) -> None:
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")


def _session(warehouse: Path) -> SparkSession:
    spark = get_session(warehouse)
    _arrow(spark)
    return spark


def collect_small(frame: DataFrame, what: str) -> pd.DataFrame:
    """A result that is small by construction (compressed rows, sums) as pandas, counted."""
    out = frame.toPandas()
    if on_collect is not None:
        on_collect(what, len(out))
    return out


def read_as_of(warehouse: Path) -> dt.date | None:
    values = collect_small(_session(warehouse).sql(AS_OF_SQL), "as_of_date")["as_of_date"].tolist()
    value = values[0] if values else None
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def read_fit_inputs(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The compressed transaction and spend summaries (distinct rows, n_customers)."""
    spark = _session(warehouse)
    return (
        collect_small(spark.sql(TRANSACTION_ROWS_SQL), "transaction_rows"),
        collect_small(spark.sql(SPEND_ROWS_SQL), "spend_rows"),
    )


def read_calibration_rows(warehouse: Path, calibration_end: dt.date, holdout_end: dt.date) -> pd.DataFrame:
    sql = calibration_rows_sql(calibration_end, holdout_end, days_between)
    return collect_small(_session(warehouse).sql(sql), "calibration_rows")


def read_opportunity_rows(warehouse: Path, last_complete_period_end: dt.date, period: str) -> pd.DataFrame:
    sql = opportunity_rows_sql(last_complete_period_end, period)
    return collect_small(_session(warehouse).sql(sql), "opportunity_rows")


def _batches(
    function: Callable[[pd.DataFrame], pd.DataFrame],
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def apply(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield function(batch)

    return apply


def holdout_sums(
    warehouse: Path, calibration_end: dt.date, holdout_end: dt.date, predictor: HoldoutPredictor
) -> pd.DataFrame:
    """The holdout check's sums per frequency bucket: predicted in Spark's workers, summed by Spark."""
    from pyspark.sql import functions as F

    from loyalty.clv.batches import HOLDOUT_SUM_COLUMNS, HOLDOUT_SUMS_SCHEMA

    spark = _session(warehouse)
    customers = spark.sql(holdout_customers_sql(calibration_end, holdout_end, days_between))
    parts = customers.mapInPandas(_batches(predictor), schema=HOLDOUT_SUMS_SCHEMA)
    summed = parts.groupBy("frequency_bucket").agg(*(F.sum(c).alias(c) for c in HOLDOUT_SUM_COLUMNS[1:]))
    return collect_small(summed, "holdout_sums")


def write_scores(warehouse: Path, scorer: CustomerScorer) -> int:
    """Score every customer in Spark's workers and replace clv.customer_scores; the number of rows."""
    spark = _session(warehouse)
    spark.sql("create database if not exists clv")
    summary = spark.sql(SUMMARY_SQL)
    scores = summary.mapInPandas(_batches(scorer), schema=CUSTOMER_SCORES_COLUMNS)
    scores.write.mode("overwrite").format("parquet").saveAsTable("clv.customer_scores")
    counted = collect_small(spark.sql("select count(*) as n from clv.customer_scores"), "score_count")
    return int(counted["n"].to_numpy()[0])


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


def write_fits(warehouse: Path, fits: pd.DataFrame, holdout: pd.DataFrame) -> None:
    """Replace clv.holdout_validation, append to clv.model_fits (both small)."""
    from pyspark.sql import functions as F

    spark = _session(warehouse)
    spark.sql("create database if not exists clv")
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
