"""Read what a suite validates out of the DuckDB warehouse, whole, as a pandas DataFrame.

A suite's `meta` says where its batch comes from: `relation` (a table: only the columns its
expectations and its checkpoint's index columns name are read) or `query` (a SQL statement,
stored as a list of lines). Rows are never sampled. Data travels as Arrow: strings stay
Arrow-backed (`string[pyarrow]`, a fraction of the memory of Python objects) and decimals
become float64 (GX compares numbers; the money reconciliation sums in SQL, exactly).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd
import pyarrow as pa

Catalog = dict[str, list[str]]  # "schema.table" -> column names in table order


def read_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "order by table_schema, table_name, ordinal_position"
    ).fetchall()
    catalog: Catalog = {}
    for schema, table, column in rows:
        catalog.setdefault(f"{schema}.{table}", []).append(str(column))
    return catalog


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_sql(relation: str, wanted: Iterable[str], catalog: Catalog) -> str:
    """select the wanted columns that exist (in table order) from the relation."""
    wanted_set = set(wanted)
    columns = [c for c in catalog[relation] if c in wanted_set]
    select = ", ".join(_quote(c) for c in columns) if columns else "1 as row_present"
    schema, table = relation.split(".", 1)
    return f"select {select} from {_quote(schema)}.{_quote(table)}"


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
