"""The tables, views and columns of a Spark warehouse, listed with few metastore calls.

`spark.catalog.listTables` fetches every table's full metadata one by one, and `listColumns`
fetches it again per table: on the parity test's warehouse (9 schemas, 65 relations) the two
took 10-18 s. `show tables` and `show views` list a schema's names in one call each (~1 s for
all schemas), and a relation's columns come from its analysed schema (`spark.table`), asked
only for the relations whose columns are wanted. Types are Spark's catalog names (`bigint`,
`int`, `decimal(18,2)`), as listColumns gives them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def databases(spark: Any) -> list[str]:
    return [str(row[0]) for row in spark.sql("show databases").collect()]


def relations(spark: Any, schemas: Iterable[str] | None = None) -> list[tuple[str, str, bool]]:
    """(schema, name, is_view) of every table and view (not the session's temporary views) in
    `schemas` (default: every database), sorted by schema and name."""
    known = databases(spark)
    wanted = known if schemas is None else [s for s in schemas if s in known]
    found: list[tuple[str, str, bool]] = []
    for schema in wanted:
        tables = [
            str(row.tableName) for row in spark.sql(f"show tables in {quote(schema)}").collect() if not row.isTemporary
        ]
        views = {
            str(row.viewName) for row in spark.sql(f"show views in {quote(schema)}").collect() if not row.isTemporary
        }
        found.extend((schema, name, name in views) for name in tables)
    return sorted(found)


def columns(spark: Any, schema: str, name: str) -> list[tuple[str, str]]:
    """(column, Spark type name) of one relation, in its order."""
    fields = spark.table(f"{quote(schema)}.{quote(name)}").schema.fields
    return [(field.name, field.dataType.simpleString()) for field in fields]
