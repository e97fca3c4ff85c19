"""`loyalty export`: every mart of a warehouse as one Parquet file, `<out>/<mart>.parquet`.

The same file layout and column types from either engine (BI tools that read Parquet use
it, and so does the engine parity test): DuckDB writes with COPY; Spark writes one file
per mart from a single partition (no collect to the driver) and the part file is moved to
its name. A mart's files are written beside the target first and moved into place, so an
interrupted export never leaves a half-written `<mart>.parquet`. From DuckDB, each file
also carries the mart's table and column descriptions as Parquet key-value metadata
(`description`, `column_descriptions`); the Spark export does not yet.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty.errors import LoyaltyError
from loyalty.spark.query import connect_read_only, is_spark_warehouse

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import DataFrame

MARTS_SCHEMA = "marts"


@dataclass
class ExportResult:
    out: Path
    files: dict[str, Path]
    rows: dict[str, int]


def mart_names(warehouse: Path) -> list[str]:
    con = connect_read_only(warehouse)
    try:
        rows = con.execute(
            "select table_name from information_schema.tables "
            f"where table_schema = '{MARTS_SCHEMA}' and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


# Parquet key-value metadata of each exported file (DuckDB engine): the mart's description and
# a JSON object {column: description}, from the comments dbt's persist_docs wrote in the warehouse.
DESCRIPTION_KEY = "description"
COLUMN_DESCRIPTIONS_KEY = "column_descriptions"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duckdb_kv_metadata(con: duckdb.DuckDBPyConnection, mart: str) -> str:
    """The KV_METADATA option of COPY for one mart: its table and column comments."""
    row = con.execute(
        "select comment from duckdb_tables() where schema_name = ? and table_name = ?", [MARTS_SCHEMA, mart]
    ).fetchone()
    table_comment = row[0] if row else None
    columns = con.execute(
        "select column_name, comment from duckdb_columns() where schema_name = ? and table_name = ? "
        "order by column_index",
        [MARTS_SCHEMA, mart],
    ).fetchall()
    described = {str(name): str(comment) for name, comment in columns if comment}
    return (
        f"kv_metadata {{{_sql_string(DESCRIPTION_KEY)}: {_sql_string(table_comment or '')}, "
        f"{_sql_string(COLUMN_DESCRIPTIONS_KEY)}: {_sql_string(json.dumps(described))}}}"
    )


def _export_duckdb(warehouse: Path, marts: list[str], out: Path) -> dict[str, int]:
    import duckdb

    rows: dict[str, int] = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for mart in marts:
            tmp = out / f".{mart}.{uuid.uuid4().hex}.parquet"
            path = str(tmp).replace("'", "''")
            metadata = _duckdb_kv_metadata(con, mart)
            con.execute(f"copy (select * from {MARTS_SCHEMA}.{mart}) to '{path}' (format parquet, {metadata})")
            tmp.replace(out / f"{mart}.parquet")
            (count,) = con.execute(f"select count(*) from {MARTS_SCHEMA}.{mart}").fetchone()  # type: ignore[misc]
            rows[mart] = int(count)
    finally:
        con.close()
    return rows


def _wall_clock_timestamps(df: DataFrame) -> DataFrame:
    """Spark's timestamps are instants (shown in the session's UTC); write them as DuckDB does,
    as wall-clock timestamps without a time zone (Parquet isAdjustedToUTC=false)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    return df.select(
        *[
            F.col(f"`{field.name}`").cast("timestamp_ntz").alias(field.name)
            if isinstance(field.dataType, TimestampType)
            else F.col(f"`{field.name}`")
            for field in df.schema.fields
        ]
    )


def _export_spark(warehouse: Path, marts: list[str], out: Path) -> dict[str, int]:
    from loyalty.spark.session import get_session

    spark = get_session(warehouse)
    rows: dict[str, int] = {}
    for mart in marts:
        table = _wall_clock_timestamps(spark.table(f"{MARTS_SCHEMA}.{mart}"))
        tmp = out / f".{mart}.{uuid.uuid4().hex}"
        try:
            table.coalesce(1).write.mode("overwrite").parquet(str(tmp))
            parts = sorted(tmp.glob("part-*.parquet"))
            if len(parts) != 1:
                raise LoyaltyError(f"Spark wrote {len(parts)} files for the mart {mart}, expected one.")
            parts[0].replace(out / f"{mart}.parquet")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows[mart] = int(table.count())
    return rows


def export_marts(warehouse: Path, out: Path) -> ExportResult:
    """Write every table of the `marts` schema as `<out>/<mart>.parquet`; return files and row counts."""
    if not warehouse.exists():
        raise LoyaltyError(f"The warehouse {warehouse} does not exist: build it with `loyalty run` first.")
    marts = mart_names(warehouse)
    if not marts:
        raise LoyaltyError(f"The warehouse {warehouse} has no marts: build it with `loyalty run` first.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LoyaltyError(f"Could not create the export folder {out}: {exc.strerror}.") from None
    if is_spark_warehouse(warehouse):
        rows = _export_spark(warehouse, marts, out)
    else:
        rows = _export_duckdb(warehouse, marts, out)
    return ExportResult(out, {m: out / f"{m}.parquet" for m in marts}, rows)
