"""The optional survey and balance inputs in the Spark warehouse's `raw` schema.

The rows are built exactly as for DuckDB (loyalty.load_extra: same columns, text values,
raw_row_id, source_file, source_row_number) in an in-memory DuckDB database, then written
as Spark tables. These inputs are small beside the transactions (one row per response or
per customer and statement date), so they pass through the driver.
"""

from __future__ import annotations

from pathlib import Path

from loyalty.duckdb_config import connect as duckdb_connect
from loyalty.load_extra import ExtraLoadResult, check_extra_inputs, load_extra_into
from loyalty.spark.session import get_session

EXTRA_TABLES = ("survey_responses", "survey_attribute_scores", "balances")


def load_extra_raw_spark(warehouse: Path, surveys: str | Path | None, balances: str | Path | None) -> ExtraLoadResult:
    """Replace raw.survey_responses, raw.survey_attribute_scores and raw.balances (empty when not given)."""
    check_extra_inputs(surveys, balances)
    con = duckdb_connect()
    try:
        result = load_extra_into(con, surveys, balances)
        spark = get_session(warehouse)
        spark.sql("create database if not exists raw")
        for table in EXTRA_TABLES:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            schema = ", ".join(f"{name} {'bigint' if kind == 'BIGINT' else 'string'}" for name, kind in columns)
            rows = [tuple(row) for row in con.execute(f"select * from raw.{table}").fetchall()]
            spark.createDataFrame(rows, schema).write.mode("overwrite").format("parquet").saveAsTable(f"raw.{table}")
    finally:
        con.close()
    return result
