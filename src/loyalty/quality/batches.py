"""Read what a suite validates out of the warehouse, whole: a batch source per engine.

A suite's `meta` says where its batch comes from: `relation` (a table: only the columns its
expectations and its checkpoint's index columns name are read) or `query` (a SQL statement,
stored as a list of lines, in the SQL DuckDB and Spark share). Rows are never sampled.

`DuckDBSqlSource` (the DuckDB engine's) hands GX the batch as a query on the DuckDB file
(GX's SQL data source through duckdb-engine): DuckDB computes every expectation, and only
its results (counts, a few unexpected values and their index columns) reach this process,
so the checks' memory does not grow with the data. The Spark engine's source
(quality/spark_source.py) hands GX a Spark DataFrame, so that Spark computes them.

`DuckDBSource` reads the batch into this process as a pandas DataFrame instead (GX's pandas
data source): the DuckDB engine's source until 2026-11-30, kept for a warehouse path that a
SQLAlchemy URL cannot name (a `?` or a `$` in it). Data travels as Arrow: strings
stay Arrow-backed (`string[pyarrow]`) and decimals become float64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd
import pyarrow as pa

from loyalty.duckdb_config import connect as duckdb_connect
from loyalty.duckdb_config import memory_limit

# "schema.table" -> column names in table order (a source may list a relation's columns only
# when they are asked for: spark_source.py)
Catalog = Mapping[str, list[str]]


def read_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "order by table_schema, table_name, ordinal_position"
    ).fetchall()
    catalog: dict[str, list[str]] = {}
    for schema, table, column in rows:
        catalog.setdefault(f"{schema}.{table}", []).append(str(column))
    return catalog


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_sql(relation: str, wanted: Iterable[str], catalog: Catalog, quote: Callable[[str], str] = _quote) -> str:
    """select the wanted columns that exist (in table order) from the relation."""
    wanted_set = set(wanted)
    columns = [c for c in catalog[relation] if c in wanted_set]
    select = ", ".join(quote(c) for c in columns) if columns else "1 as row_present"
    schema, table = relation.split(".", 1)
    return f"select {select} from {quote(schema)}.{quote(table)}"


class BatchReadError(Exception):
    """A batch could not be read; the message is the reason, in one line."""


AS_OF_SQL = "select max(as_of_date) from intermediate.int_as_of_date"


class BatchSource(Protocol):
    """Where a phase's batches come from (one per engine)."""

    datasource_type: str  # the GX data source type of the run's project: "pandas" or "spark"

    def catalog(self) -> Catalog: ...

    def first_value(self, sql: str) -> Any | None:
        """The first column of the query's first row (None without rows)."""
        ...

    def relation_sql(self, relation: str, wanted: Iterable[str], catalog: Catalog) -> str: ...

    def read(self, sql: str) -> tuple[Any, int]:
        """(the batch GX validates, its number of rows); raises BatchReadError."""
        ...

    def close(self) -> None: ...


def as_of_date(source: BatchSource, catalog: Catalog) -> Any | None:
    """The run's as-of date (intermediate.int_as_of_date), or None before the inputs phase built it."""
    if "intermediate.int_as_of_date" not in catalog:
        return None
    return source.first_value(AS_OF_SQL)


class DuckDBSource:
    """Batches read from a DuckDB file into pandas (opened read-only)."""

    datasource_type = "pandas"

    def __init__(self, warehouse: Path) -> None:
        self.con = duckdb_connect(warehouse, read_only=True)

    def catalog(self) -> Catalog:
        return read_catalog(self.con)

    def first_value(self, sql: str) -> Any | None:
        rows = self.con.execute(sql).fetchall()
        return rows[0][0] if rows else None

    def relation_sql(self, relation: str, wanted: Iterable[str], catalog: Catalog) -> str:
        return relation_sql(relation, wanted, catalog)

    def read(self, sql: str) -> tuple[pd.DataFrame, int]:
        try:
            frame = read_frame(self.con, sql)
        except duckdb.Error as exc:
            raise BatchReadError(str(exc).strip().splitlines()[0]) from None
        return frame, len(frame)

    def close(self) -> None:
        self.con.close()


def _to_pandas_type(arrow_type: pa.DataType) -> pa.DataType | None:
    if pa.types.is_decimal(arrow_type):
        return pa.float64()
    if pa.types.is_string_view(arrow_type):
        return pa.large_string()
    return None


def read_frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    table = con.sql(sql).to_arrow_table()
    casts = {name: _to_pandas_type(table.schema.field(name).type) for name in table.column_names}
    for name, target in casts.items():
        if target is not None:
            index = table.column_names.index(name)
            table = table.set_column(index, name, table.column(name).cast(target))
    string_types = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}
    return table.to_pandas(types_mapper=string_types.get, date_as_object=False)


# GX's SQL data source and DuckDBSqlSource connect with the same URL and arguments: DuckDB lets
# a process open one file several times only with one configuration (duckdb-engine adds its
# user agent to it), and then the connections share one database and its memory budget.
SQL_CONNECT_ARGS: dict[str, Any] = {"read_only": True}


def sqlalchemy_url(warehouse: Path) -> str | None:
    """The SQLAlchemy URL of the DuckDB file, or None when a URL cannot name the path (it
    would not parse back to the same path: a `?` in it) or when GX's
    configuration would substitute part of it (`$`)."""
    from sqlalchemy.engine import URL, make_url

    path = str(Path(warehouse).resolve())
    url = URL.create("duckdb", database=path).render_as_string(hide_password=False)
    if "$" in path or make_url(url).database != path:
        return None
    return url


def source_for(warehouse: Path) -> BatchSource:
    """The DuckDB engine's batch source: the SQL one, or the pandas one for a path a URL cannot name."""
    url = sqlalchemy_url(warehouse)
    return DuckDBSqlSource(warehouse, url) if url else DuckDBSource(warehouse)


class DuckDBSqlSource(DuckDBSource):
    """Batches of the DuckDB file as queries GX runs in DuckDB (GX's SQL data source); the
    catalog and single values are read as DuckDBSource reads them, on a connection opened
    like GX's."""

    datasource_type = "sql"

    def __init__(self, warehouse: Path, url: str) -> None:
        import sqlalchemy as sa

        self.url = url
        self.engine = sa.create_engine(url, connect_args=dict(SQL_CONNECT_ARGS))
        try:
            self.raw = self.engine.raw_connection()
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise BatchReadError(str(exc.orig).strip().splitlines()[0]) from None
        self.con = self.raw.driver_connection
        self.con.execute(f"set memory_limit = '{memory_limit()}'")

    def read(self, sql: str) -> tuple[str, int]:  # type: ignore[override]
        """(the query itself, which GX runs as the batch; its number of rows)."""
        try:
            row = self.con.execute(f"select count(*) from ({sql}) as batch").fetchone()
        except duckdb.Error as exc:
            raise BatchReadError(str(exc).strip().splitlines()[0]) from None
        return sql, int(row[0]) if row else 0

    def close(self) -> None:
        self.raw.close()
        self.engine.dispose()
