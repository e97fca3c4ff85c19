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

The columns are checked on the file's header first, with the DuckDB loader's own check
(`loyalty.load.file_columns`: missing and duplicate names). A CSV line with the wrong number
of fields (or a broken quote) is kept as a row with every value null and the line in
`raw_line` (Spark's corrupt-record column), as the DuckDB loader does. A Parquet
`timestamp with time zone` becomes UTC text with `+00`, as DuckDB writes it. JSON Lines
input is read by the DuckDB target only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loyalty.duckdb_config import connect as duckdb_connect
from loyalty.errors import InputError
from loyalty.load import (
    CUSTOMER_OPTIONAL,
    CUSTOMER_REQUIRED,
    ROW_ID_FILE_FACTOR,
    TRANSACTION_OPTIONAL,
    TRANSACTION_REQUIRED,
    CsvOptions,
    LoadResult,
    file_columns,
    file_format,
    resolve_files,
)
from loyalty.spark.session import get_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split())[:300] if text else type(exc).__name__


CORRUPT = "_corrupt_record"


def _read(spark: SparkSession, file: Path, what: str, header: list[str], options: CsvOptions) -> DataFrame:
    from pyspark.sql.types import StringType, StructField, StructType

    if file_format(file) == "jsonl":
        raise InputError(
            f"The {what} file {file} is JSON Lines, which the spark target does not read: "
            "convert it to Parquet or CSV, or use --target duckdb."
        )
    try:
        if file_format(file) == "parquet":
            return spark.read.parquet(str(file))
        # the header's names as the schema (all text), plus the corrupt-record column that
        # receives a line with the wrong number of fields
        schema = StructType([StructField(name, StringType()) for name in header] + [StructField(CORRUPT, StringType())])
        return (
            spark.read.schema(schema)
            .option("header", True)
            .option("enforceSchema", True)
            .option("sep", options.delimiter)
            .option("encoding", options.spark_encoding)
            .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT)
            .csv(str(file))
        )
    except Exception as exc:
        raise InputError(f"Could not read the {what} file {file}: {_first_line(exc)}") from None


def _sql_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _text(df: DataFrame, name: str) -> str:
    """SQL text of a column as the DuckDB loader casts it (timestamps with time zone: UTC and +00)."""
    from pyspark.sql.types import TimestampType

    quoted = "`" + name.replace("`", "``") + "`"
    if isinstance(df.schema[name].dataType, TimestampType):  # an instant: UTC wall clock + offset
        return f"concat(regexp_replace(date_format({quoted}, 'yyyy-MM-dd HH:mm:ss.SSSSSS'), '[.]?0+$', ''), '+00')"
    return f"cast({quoted} as string)"


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
    options: CsvOptions,
) -> DataFrame:
    from pyspark.sql import functions as F

    con = duckdb_connect()
    try:
        columns = file_columns(con, file, what, required, options)
    finally:
        con.close()
    df = _read(spark, file, what, list(columns.values()), options)
    numbered = _with_row_numbers(df, file)
    if CORRUPT in df.columns:
        # a malformed line: no values, only the line (as DuckDB's loader). Spark reads bytes
        # that are not UTF-8 as U+FFFD where DuckDB rejects the line: the same here, with the
        # line rebuilt from its fields and '?' for the bad bytes (as DuckDB shows it).
        fields = ", ".join("`" + name.replace("`", "``") + "`" for name in columns.values())
        joined = f"concat_ws({_sql_text(options.delimiter)}, {fields})"
        bad_text = (
            f"when instr({joined}, '\ufffd') > 0 then replace({joined}, '\ufffd', '?')"
            if options.encoding == "utf-8"
            else ""
        )
        numbered = numbered.withColumn(
            "_raw_line",
            F.expr(f"case when {CORRUPT} is not null then regexp_replace({CORRUPT}, '[\\r\\n]+$', '') {bad_text} end"),
        )
    else:
        numbered = numbered.withColumn("_raw_line", F.lit(None).cast("string"))
    parts = []
    for name in required + optional:
        if name in columns:
            value = f"case when _raw_line is null then nullif(trim({_text(df, columns[name])}), '') end"
            parts.append(F.expr(value).alias(name))
        else:
            parts.append(F.lit(None).cast("string").alias(name))
    raw_line = F.col("_raw_line").alias("raw_line")
    return numbered.select(
        (F.lit(file_index).cast("bigint") * ROW_ID_FILE_FACTOR + F.col("_row")).alias("raw_row_id"),
        F.lit(str(file)).alias("source_file"),
        F.col("_row").cast("bigint").alias("source_row_number"),
        *parts,
        raw_line,
        F.current_timestamp().alias("loaded_at"),  # one value per load (UTC session): source freshness
    )


def _load_table(
    spark: SparkSession,
    table: str,
    files: list[Path],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    what: str,
    options: CsvOptions,
) -> int:
    frames = [
        _normalized(spark, file, index, required, optional, what, options) for index, file in enumerate(files, start=1)
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
    schema = (
        f"raw_row_id bigint, source_file string, source_row_number bigint, {cols}, raw_line string, loaded_at timestamp"
    )
    spark.createDataFrame([], schema).write.mode("overwrite").format("parquet").saveAsTable("raw.customers")


def load_raw_spark(
    warehouse: Path,
    transactions: str | Path,
    customers: str | Path | None = None,
    options: CsvOptions | None = None,
) -> LoadResult:
    """Replace raw.transactions (and raw.customers) in the Spark warehouse folder with the given input."""
    options = options or CsvOptions.from_env()
    tx_files = resolve_files(transactions, "transactions")
    cust_files = resolve_files(customers, "customers") if customers else []
    spark = get_session(warehouse)
    spark.sql("create database if not exists raw")
    n_tx = _load_table(
        spark, "transactions", tx_files, TRANSACTION_REQUIRED, TRANSACTION_OPTIONAL, "transactions", options
    )
    if n_tx == 0:
        names = ", ".join(str(f) for f in tx_files)
        raise InputError(f"The transactions input {names} contains no rows.")
    if cust_files:
        n_cust = _load_table(spark, "customers", cust_files, CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL, "customers", options)
        malformed = spark.sql(
            "select source_file, source_row_number from raw.customers where raw_line is not null"
            " order by raw_row_id limit 1"
        ).collect()
        if malformed:
            raise InputError(
                f"Row {malformed[0]['source_row_number']} of the customers file {malformed[0]['source_file']} "
                "cannot be split into the header's columns (wrong number of fields, a broken quote or bytes that "
                "are not text): fix that line."
            )
    else:
        _empty_customers(spark)
        n_cust = 0
    per_file = {
        str(r["source_file"]): int(r["n"])
        for r in spark.sql("select source_file, count(*) as n from raw.transactions group by 1 order by 1").collect()
    }
    return LoadResult(tx_files, cust_files, n_tx, n_cust, per_file)
