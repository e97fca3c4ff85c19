"""Load raw input files into the Spark warehouse's `raw` schema, read by Spark itself.

The same contract as loyalty.load (the DuckDB loader): the same files are accepted
(path, folder or glob of CSV/Parquet), every column is kept as trimmed text (empty = null),
and every row gets the same `raw_row_id` (file index x 10^12 + 1-based row number in its
file), `source_file` and `source_row_number`, so that rejected-row accounting and
row-for-row comparisons agree between engines.

Spark reads a file in parallel splits, so the row number in the file is rebuilt from the
split's byte offset (`_metadata.file_block_start`) and the read order inside the split
(`monotonically_increasing_id`): split offsets ordered, rows counted per split, offsets
summed (a small aggregate collected to the driver). Parquet has the row position itself
(`_metadata.row_index`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loyalty.errors import InputError
from loyalty.load import (
    CUSTOMER_OPTIONAL,
    CUSTOMER_REQUIRED,
    ROW_ID_FILE_FACTOR,
    TRANSACTION_OPTIONAL,
    TRANSACTION_REQUIRED,
    LoadResult,
    resolve_files,
)
from loyalty.spark.session import get_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split())[:300] if text else type(exc).__name__


def _read(spark: SparkSession, file: Path, what: str) -> DataFrame:
    try:
        if file.suffix.lower() == ".parquet":
            return spark.read.parquet(str(file))
        return (
            spark.read.option("header", True)
            .option("inferSchema", False)
            .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
            .option("mode", "PERMISSIVE")
            .csv(str(file))
        )
    except Exception as exc:
        raise InputError(f"Could not read the {what} file {file}: {_first_line(exc)}") from None


def _with_row_numbers(df: DataFrame, file: Path) -> DataFrame:
    """Add `_row` = 1-based row number in the file (header excluded)."""
    from pyspark.sql import functions as F

    if file.suffix.lower() == ".parquet":
        return df.withColumn("_row", F.col("_metadata.row_index") + 1)
    located = df.withColumn("_block", F.col("_metadata.file_block_start")).withColumn(
        "_seq", F.monotonically_increasing_id()
    )
    blocks = sorted(
        (int(r["_block"]), int(r["n"]), int(r["first"]))
        for r in located.groupBy("_block").agg(F.count("*").alias("n"), F.min("_seq").alias("first")).collect()
    )
    offsets = []
    done = 0
    for block, n, first in blocks:
        offsets.append((block, first, done))
        done += n
    spark = df.sparkSession
    starts = spark.createDataFrame(offsets, "_block long, _first long, _offset long")
    return (
        located.join(F.broadcast(starts), "_block")
        .withColumn("_row", F.col("_offset") + F.col("_seq") - F.col("_first") + 1)
        .drop("_block", "_seq", "_first", "_offset")
    )


def _normalized(
    spark: SparkSession,
    file: Path,
    file_index: int,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    what: str,
) -> DataFrame:
    from pyspark.sql import functions as F

    df = _read(spark, file, what)
    columns = {name.strip().lower(): name for name in df.columns}
    missing = [c for c in required if c not in columns]
    if missing:
        names = ", ".join(missing)
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"The {what} file {file} is missing the required column{plural} {names}.")
    numbered = _with_row_numbers(df, file)
    parts = []
    for name in required + optional:
        if name in columns:
            quoted = "`" + columns[name].replace("`", "``") + "`"
            parts.append(F.expr(f"nullif(trim(cast({quoted} as string)), '')").alias(name))
        else:
            parts.append(F.lit(None).cast("string").alias(name))
    return numbered.select(
        (F.lit(file_index).cast("bigint") * ROW_ID_FILE_FACTOR + F.col("_row")).alias("raw_row_id"),
        F.lit(str(file)).alias("source_file"),
        F.col("_row").cast("bigint").alias("source_row_number"),
        *parts,
        F.current_timestamp().alias("loaded_at"),  # one value per load (UTC session): source freshness
    )


def _load_table(
    spark: SparkSession,
    table: str,
    files: list[Path],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    what: str,
) -> int:
    frames = [
        _normalized(spark, file, index, required, optional, what)
        for index, file in enumerate(files, start=1)
    ]
    combined = frames[0]
    for frame in frames[1:]:
        combined = combined.unionByName(frame)
    try:
        combined.write.mode("overwrite").format("parquet").saveAsTable(f"raw.{table}")
    except InputError:
        raise
    except Exception as exc:
        names = ", ".join(str(f) for f in files)
        raise InputError(f"Could not load the {what} input {names}: {_first_line(exc)}") from None
    return int(spark.table(f"raw.{table}").count())


def _empty_customers(spark: SparkSession) -> None:
    cols = ", ".join(f"{c} string" for c in CUSTOMER_REQUIRED + CUSTOMER_OPTIONAL)
    schema = f"raw_row_id bigint, source_file string, source_row_number bigint, {cols}, loaded_at timestamp"
    spark.createDataFrame([], schema).write.mode("overwrite").format("parquet").saveAsTable("raw.customers")


def load_raw_spark(
    warehouse: Path,
    transactions: str | Path,
    customers: str | Path | None = None,
) -> LoadResult:
    """Replace raw.transactions (and raw.customers) in the Spark warehouse folder with the given input."""
    tx_files = resolve_files(transactions, "transactions")
    cust_files = resolve_files(customers, "customers") if customers else []
    spark = get_session(warehouse)
    spark.sql("create database if not exists raw")
    n_tx = _load_table(spark, "transactions", tx_files, TRANSACTION_REQUIRED, TRANSACTION_OPTIONAL, "transactions")
    if n_tx == 0:
        names = ", ".join(str(f) for f in tx_files)
        raise InputError(f"The transactions input {names} contains no rows.")
    if cust_files:
        n_cust = _load_table(spark, "customers", cust_files, CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL, "customers")
    else:
        _empty_customers(spark)
        n_cust = 0
    per_file = {
        str(r["source_file"]): int(r["n"])
        for r in spark.sql("select source_file, count(*) as n from raw.transactions group by 1 order by 1").collect()
    }
    return LoadResult(tx_files, cust_files, n_tx, n_cust, per_file)
