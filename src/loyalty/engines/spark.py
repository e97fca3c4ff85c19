"""The Spark engine: the warehouse is a folder (table files + embedded Hive metastore).

    P   build/loyalty-spark/                      the warehouse folder (loyalty.spark.session)
        build/loyalty-spark.publish/state.json    "dirty" from a run's first write to its publish
        build/loyalty-spark.publish/last-good/    a copy of P as the last good run left it

Spark's table locations are absolute paths in the metastore, so a warehouse folder cannot be
copied or moved to another path and still work: a run cannot build in a separate folder and
swap it in. The closest honest equivalent, used here: before its first write a run keeps a
copy of P (`last-good/`, refreshed from P when the last run published); the run then
builds in P itself; publishing marks it clean. A run that failed or was killed leaves P
dirty, and the next run (or `loyalty export`, which refuses to read it) finds the mark and
restores P from the copy before doing anything else. What is NOT atomic on Spark: while a
run works, P holds a mix of old and new tables, and after a failure it stays so until the
next run restores it. No reader can see that mix while the run holds the folder (the
embedded metastore admits one process at a time), but a reader that opens P after a failed
run and before the next one is refused by `loyalty export` and the summary only, not by a
plain Spark session.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty.engines.base import ClvFitInputs, Engine, ExportResult, read_state, write_state
from loyalty.errors import LoyaltyError

if TYPE_CHECKING:
    import pandas as pd

    from loyalty.clv.batches import CustomerScorer, HoldoutPredictor
    from loyalty.dbt import DbtResult
    from loyalty.load import LoadResult
    from loyalty.load_extra import ExtraLoadResult
    from loyalty.quality import QualityReport

DEFAULT_SPARK_WAREHOUSE = Path("build") / "loyalty-spark"
SUBSCRIPTIONS_DUCKDB_ONLY = "The subscriptions input (--subscriptions) is supported with --target duckdb only."


def publish_folder(warehouse: Path) -> Path:
    return warehouse.parent / f"{warehouse.name}.publish"


class SparkEngine(Engine):
    target = "spark"
    label = "Spark"
    default_warehouse = DEFAULT_SPARK_WAREHOUSE

    def check_warehouse_kind(self, path: Path) -> None:
        if path.is_file():
            raise LoyaltyError(
                f"The warehouse {path} is a file: the spark target needs a folder "
                "(a file is a DuckDB warehouse: use --target duckdb)."
            )

    def work_path(self, warehouse: Path) -> Path:
        return warehouse  # built in place: see the module docstring

    # ---- write, audit, publish

    def prepare(self, warehouse: Path) -> list[str]:
        from loyalty.spark.session import stop_session

        stop_session()  # nothing of this process may hold the metastore while the folder is copied
        folder = publish_folder(warehouse)
        folder.mkdir(parents=True, exist_ok=True)
        done: list[str] = []
        for stale in folder.glob("last-good.tmp*"):
            shutil.rmtree(stale, ignore_errors=True)
        good = folder / "last-good"
        state = read_state(folder)
        if state == "dirty" or (state is None and good.is_dir()):
            shutil.rmtree(warehouse, ignore_errors=True)
            if good.is_dir():
                shutil.copytree(good, warehouse, symlinks=True)
                done.append(f"Restored {warehouse} as the last good run left it (the last run did not publish).")
            else:
                done.append(f"Emptied {warehouse}: the last run did not publish and there was no earlier one.")
        elif warehouse.is_dir():
            tmp = folder / "last-good.tmp"
            shutil.copytree(warehouse, tmp, symlinks=True)
            shutil.rmtree(good, ignore_errors=True)
            tmp.rename(good)
        elif good.is_dir():
            shutil.rmtree(good)  # P was removed after the last good run: start from nothing
        write_state(folder, "dirty")
        return done

    def publish(self, warehouse: Path) -> None:
        write_state(publish_folder(warehouse), "clean")

    def _refuse_dirty(self, warehouse: Path) -> None:
        if read_state(publish_folder(warehouse)) == "dirty":
            raise LoyaltyError(
                f"The last run on the Spark warehouse {warehouse} did not finish: its tables are a "
                "mix of two runs until the next `loyalty run` restores the last good state."
            )

    # ---- the steps' engine work

    def load(
        self,
        work: Path,
        transactions: str,
        customers: str | None,
        full_refresh: bool = False,
        variables: dict[str, Any] | None = None,
    ) -> LoadResult:
        # always every file: the Spark target rebuilds in full (README "Incremental daily runs")
        from loyalty.spark.load import load_raw_spark

        return load_raw_spark(work, transactions, customers)

    def load_extra(self, work: Path, surveys: str | None, balances: str | None) -> ExtraLoadResult:
        from loyalty.spark.load_extra import load_extra_raw_spark

        return load_extra_raw_spark(work, surveys, balances)

    def run_dbt(
        self,
        work: Path,
        args: list[str],
        variables: dict[str, Any] | None = None,
        *,
        skip_tests_enforced_by_constraints: bool = False,
    ) -> DbtResult:
        # Every data test runs here: the tables are parquet by default (dbt_project.yml), and
        # dbt-spark cannot enforce a NOT NULL constraint on them.
        # In this process: the warehouse's embedded metastore admits one process.
        from loyalty.spark.dbt import run_dbt_in_session

        return run_dbt_in_session(args, work, variables=variables)

    # the CLV step: only compressed rows and sums reach the driver (loyalty.spark.clv_io)
    def read_clv_as_of(self, work: Path) -> dt.date | None:
        from loyalty.spark.clv_io import read_as_of

        return read_as_of(work)

    def read_clv_fit_inputs(self, work: Path) -> ClvFitInputs:
        from loyalty.spark.clv_io import read_fit_inputs

        return ClvFitInputs(*read_fit_inputs(work))

    def read_calibration_rows(self, work: Path, calibration_end: dt.date, holdout_end: dt.date) -> pd.DataFrame:
        from loyalty.spark.clv_io import read_calibration_rows

        return read_calibration_rows(work, calibration_end, holdout_end)

    def read_opportunity_rows(self, work: Path, last_complete_period_end: dt.date, period: str) -> pd.DataFrame:
        from loyalty.spark.clv_io import read_opportunity_rows

        return read_opportunity_rows(work, last_complete_period_end, period)

    def holdout_sums(
        self, work: Path, calibration_end: dt.date, holdout_end: dt.date, predictor: HoldoutPredictor
    ) -> pd.DataFrame:
        from loyalty.spark.clv_io import holdout_sums

        return holdout_sums(work, calibration_end, holdout_end, predictor)

    def write_clv_scores(self, work: Path, scorer: CustomerScorer) -> int:
        from loyalty.spark.clv_io import write_scores

        return write_scores(work, scorer)

    def write_clv_fits(self, work: Path, fits: pd.DataFrame, holdout: pd.DataFrame) -> None:
        from loyalty.spark.clv_io import write_fits

        write_fits(work, fits, holdout)

    def write_subscription_outputs(
        self, work: Path, survival: pd.DataFrame, scores: pd.DataFrame, rejected: pd.DataFrame, fits: pd.DataFrame
    ) -> None:
        raise LoyaltyError(SUBSCRIPTIONS_DUCKDB_ONLY)

    def check_raw(self, work: Path, max_rejected_share: float) -> QualityReport:
        from loyalty.quality import validate_raw
        from loyalty.quality.spark_source import SparkSource

        return validate_raw(work, max_rejected_share=max_rejected_share, source=SparkSource(work))

    def check_marts(self, work: Path) -> QualityReport:
        from loyalty.quality import validate_marts
        from loyalty.quality.spark_source import SparkSource

        return validate_marts(work, source=SparkSource(work))

    def data_docs(self, warehouse: Path) -> Path | None:
        from loyalty.quality.project import data_docs_index

        index = data_docs_index(warehouse)
        return index if index.is_file() else None

    # ---- reading

    def connect_read_only(self, location: Path) -> Any:
        from loyalty.spark.query import SparkConnection

        return SparkConnection(location)

    def export(self, warehouse: Path, out: Path) -> ExportResult:
        from loyalty.spark.export import export_spark

        self._refuse_dirty(warehouse)
        marts = self._export_folder(warehouse, out)
        rows = export_spark(warehouse, marts, out)
        return ExportResult(out, {m: out / f"{m}.parquet" for m in marts}, rows)
