"""Read a Spark warehouse folder with the part of DuckDB's connection API the project uses.

`SparkConnection(warehouse)` (loyalty.engines.spark's `connect_read_only`) offers
`execute(sql, params)` with `?` placeholders, `fetchone()`, `fetchall()`, `df()` (pandas),
`sql(sql).to_arrow_table()`, `close()`. On
Spark, `information_schema.tables` and `information_schema.columns` (which Spark's session
catalog does not have) are served from Spark's catalog with DuckDB's column names, and
DuckDB's double-quoted identifiers become Spark's backticks (Spark would read "x" as a
string), so code written against DuckDB reads a Spark warehouse unchanged.

The SQL itself must be portable (no DuckDB-only functions); the summary, the run report
and the export only select, count and sum.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from pathlib import Path
from typing import Any

from loyalty.spark.session import get_session

_INFO_SCHEMA = re.compile(r"\binformation_schema\.(tables|columns)\b", re.IGNORECASE)


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def backtick_identifiers(sql: str) -> str:
    """DuckDB/ANSI `"name"` identifiers -> Spark's `` `name` `` (text in single quotes untouched)."""
    out = []
    quote: str | None = None
    for ch in sql:
        if quote == "'":
            quote = None if ch == "'" else quote
            out.append(ch)
        elif quote == '"':
            if ch == '"':
                quote = None
                out.append("`")
            else:
                out.append("``" if ch == "`" else ch)
        elif ch == "'":
            quote = "'"
            out.append(ch)
        elif ch == '"':
            quote = '"'
            out.append("`")
        else:
            out.append(ch)
    return "".join(out)


def bind(sql: str, params: list[Any] | tuple[Any, ...] | None) -> str:
    """Replace each `?` outside quotes with the next parameter as a SQL literal."""
    if not params:
        return sql
    values = iter(params)
    out = []
    quote: str | None = None
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
            out.append(ch)
        elif ch in ("'", '"', "`"):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append(_literal(next(values)))
        else:
            out.append(ch)
    return "".join(out)


class _Relation:
    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def to_arrow_table(self) -> Any:
        return self.frame.toArrow()

    def df(self) -> Any:
        return self.frame.toPandas()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.frame.collect()]


class SparkConnection:
    """DuckDB-style read access to the Spark session of a warehouse folder."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        self.spark = get_session(warehouse)
        self._rows: list[tuple[Any, ...]] = []
        self._last: Any = None
        self._catalog_views: set[str] = set()
        self._relations: list[tuple[str, str, bool]] | None = None  # listed once, when a query first needs it

    def _register_catalog_views(self, views: set[str]) -> None:
        """Register the information_schema views the query names (`tables`, `columns`), once
        per connection (a read-only connection: its warehouse's tables do not change under it)."""
        from loyalty.spark import catalog

        if self._relations is None:
            self._relations = catalog.relations(self.spark)
        relations = self._relations
        if "tables" in views and "tables" not in self._catalog_views:
            tables = [(schema, name, "VIEW" if is_view else "BASE TABLE") for schema, name, is_view in relations]
            self.spark.createDataFrame(
                tables, "table_schema string, table_name string, table_type string"
            ).createOrReplaceTempView("loyalty_information_schema_tables")
            self._catalog_views.add("tables")
        if "columns" in views and "columns" not in self._catalog_views:
            columns = [
                (schema, name, column, position, data_type)
                for schema, name, _ in relations
                for position, (column, data_type) in enumerate(catalog.columns(self.spark, schema, name), start=1)
            ]
            self.spark.createDataFrame(
                columns,
                "table_schema string, table_name string, column_name string, ordinal_position int, data_type string",
            ).createOrReplaceTempView("loyalty_information_schema_columns")
            self._catalog_views.add("columns")

    def _frame(self, sql: str, params: list[Any] | tuple[Any, ...] | None = None) -> Any:
        text = backtick_identifiers(bind(sql, params))
        named = {m.group(1).lower() for m in _INFO_SCHEMA.finditer(text)}
        if named:
            self._register_catalog_views(named)
            text = _INFO_SCHEMA.sub(lambda m: f"loyalty_information_schema_{m.group(1).lower()}", text)
        return self.spark.sql(text)

    def execute(self, sql: str, params: list[Any] | tuple[Any, ...] | None = None) -> SparkConnection:
        self._last = self._frame(sql, params)
        self._rows = [tuple(row) for row in self._last.collect()]
        return self

    def df(self) -> Any:
        """The last result as a pandas DataFrame (as DuckDB's `execute(...).df()`)."""
        return self._last.toPandas()

    def sql(self, sql: str) -> _Relation:
        """A lazy result with `to_arrow_table()` / `df()` (as DuckDB's `con.sql(...)`)."""
        return _Relation(self._frame(sql))

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def close(self) -> None:
        """The session stays up for the rest of the process (later steps use it)."""
        self._rows = []

    def __enter__(self) -> SparkConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
