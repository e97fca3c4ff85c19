"""The Spark engine's batch source: GX validates Spark DataFrames, so Spark computes the checks.

The run's GX project copy uses GX's Spark data source (project.prepare_run_project with
"spark"), the committed suites, validation definitions and checkpoints stay as they are,
and each batch is the suite's relation or query as a lazy Spark DataFrame: GX turns every
expectation into Spark aggregations, and only their results (counts, a few unexpected
values and their index columns) reach this process. Suites' queries are written in the
SQL DuckDB and Spark share.

Each batch is persisted (memory, then disk) while its checkpoint runs: GX computes an
expectation's metrics in several Spark jobs, which would otherwise each run the batch's query
again from the table files. Only the columns a suite reads are listed: the catalog knows every
relation's name from one listing per schema and asks for a relation's columns when a suite
selects from it (listing every column of the three schemas took 3-7 s per phase on the parity
test's warehouse).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty.quality.batches import BatchReadError, Catalog, relation_sql
from loyalty.spark import catalog as spark_catalog
from loyalty.spark.catalog import quote

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: the schemas whose tables the suites name (meta relation / requires)
CHECKED_SCHEMAS = ("raw", "intermediate", "marts")


class _LazyCatalog(Mapping[str, list[str]]):
    """The relations of the checked schemas; a relation's columns are read on first use."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark
        # the listing's names, in its order (a dict: ordered, and `in` without a scan)
        self._names = {f"{schema}.{name}": None for schema, name, _ in spark_catalog.relations(spark, CHECKED_SCHEMAS)}
        self._columns: dict[str, list[str]] = {}

    def __contains__(self, relation: object) -> bool:
        # by name only: Mapping's default would read the columns of every relation asked about
        return relation in self._names

    def __getitem__(self, relation: str) -> list[str]:
        if relation not in self:
            raise KeyError(relation)
        if relation not in self._columns:
            schema, name = relation.split(".", 1)
            self._columns[relation] = [column for column, _ in spark_catalog.columns(self._spark, schema, name)]
        return self._columns[relation]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class SparkSource:
    """Batches of the Spark warehouse folder `warehouse`, in this process's Spark session."""

    datasource_type = "spark"

    def __init__(self, warehouse: Path) -> None:
        from loyalty.spark.session import get_session

        self.spark = get_session(warehouse)
        self._persisted: DataFrame | None = None

    def catalog(self) -> Catalog:
        return _LazyCatalog(self.spark)

    def first_value(self, sql: str) -> Any | None:
        rows = self.spark.sql(sql).take(1)
        return rows[0][0] if rows else None

    def relation_sql(self, relation: str, wanted: Iterable[str], catalog: Catalog) -> str:
        return relation_sql(relation, wanted, catalog, quote=quote)

    def read(self, sql: str) -> tuple[DataFrame, int]:
        """The batch, persisted until the next batch is read or the source is closed."""
        from pyspark import StorageLevel

        self._unpersist()
        try:
            frame = self.spark.sql(sql).persist(StorageLevel.MEMORY_AND_DISK)
            self._persisted = frame
            n_rows = frame.count()
        except Exception as exc:  # noqa: BLE001 - Spark's analysis and runtime errors become one line
            self._unpersist()
            raise BatchReadError(" ".join(str(exc).split())[:300]) from None
        return frame, n_rows

    def _unpersist(self) -> None:
        if self._persisted is not None:
            self._persisted.unpersist()
            self._persisted = None

    def close(self) -> None:
        """Drops the last batch's persisted rows; the session is the run's: it stays open."""
        self._unpersist()
