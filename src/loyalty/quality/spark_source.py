"""The Spark engine's batch source: GX validates Spark DataFrames, so Spark computes the checks.

The run's GX project copy uses GX's Spark data source (project.prepare_run_project with
"spark"), the committed suites, validation definitions and checkpoints stay as they are,
and each batch is the suite's relation or query as a lazy Spark DataFrame: GX turns every
expectation into Spark aggregations, and only their results (counts, a few unexpected
values and their index columns) reach this process. Suites' queries are written in the
SQL DuckDB and Spark share.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty.quality.batches import BatchReadError, Catalog, relation_sql
from loyalty.spark import catalog as spark_catalog
from loyalty.spark.catalog import quote

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: the schemas whose tables the suites name (meta relation / requires)
CHECKED_SCHEMAS = ("raw", "intermediate", "marts")


class SparkSource:
    """Batches of the Spark warehouse folder `warehouse`, in this process's Spark session."""

    datasource_type = "spark"

    def __init__(self, warehouse: Path) -> None:
        from loyalty.spark.session import get_session

        self.spark = get_session(warehouse)

    def catalog(self) -> Catalog:
        return {
            f"{schema}.{name}": [column for column, _ in spark_catalog.columns(self.spark, schema, name)]
            for schema, name, _ in spark_catalog.relations(self.spark, CHECKED_SCHEMAS)
        }

    def first_value(self, sql: str) -> Any | None:
        rows = self.spark.sql(sql).take(1)
        return rows[0][0] if rows else None

    def relation_sql(self, relation: str, wanted: Iterable[str], catalog: Catalog) -> str:
        return relation_sql(relation, wanted, catalog, quote=quote)

    def read(self, sql: str) -> tuple[DataFrame, int]:
        try:
            frame = self.spark.sql(sql)
            n_rows = frame.count()
        except Exception as exc:  # noqa: BLE001 - Spark's analysis and runtime errors become one line
            raise BatchReadError(" ".join(str(exc).split())[:300]) from None
        return frame, n_rows

    def close(self) -> None:
        """The session is the run's: it stays open."""
