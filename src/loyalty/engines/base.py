"""What differs between the engines a warehouse can be built on, behind one interface.

A run works on two locations of one warehouse:

    P  the published warehouse (`--warehouse`): what analysts and BI tools open, read-only.
       A run never writes it except through `publish`, once every build phase and every
       check has passed.
    W  the run's private work location beside it (`work_path(P)`): every write of a run
       (load, dbt, CLV scores) goes there; dbt's and Great Expectations' state live beside
       it. W persists between runs.

`prepare(P)` runs first, under the run lock: it removes what a killed run left behind,
restores W from P when the last run on W did not publish (W is marked dirty before the
first write and clean after publish), and marks W dirty. The rest of the run uses `work`.

One implementation per engine (loyalty.engines.duckdb, loyalty.engines.spark), chosen
once from the dbt target by `loyalty.engines.get_engine`; no other module asks which
engine it runs on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty.errors import LoyaltyError
from loyalty.project import MARTS_SCHEMA, project_dir

if TYPE_CHECKING:
    import pandas as pd

    from loyalty.clv.batches import CustomerScorer, HoldoutPredictor
    from loyalty.dbt import DbtResult
    from loyalty.load import LoadResult
    from loyalty.load_extra import ExtraLoadResult
    from loyalty.quality import QualityReport


@dataclass
class ExportResult:
    out: Path
    files: dict[str, Path]
    rows: dict[str, int]


@dataclass
class ClvFitInputs:
    """What the CLV fits read, compressed (the SQL is loyalty.clv.tables'): distinct
    (frequency, recency_days, tenure_days) and (frequency, monetary_value) rows, each with
    its n_customers, in any order."""

    transactions: pd.DataFrame
    spend: pd.DataFrame


class Engine(ABC):
    """One warehouse engine: DuckDB (a file) or Spark (a folder with its metastore)."""

    target: str  # the dbt target (profiles.yml output)
    label: str  # for people: "DuckDB", "Spark"
    default_warehouse: Path  # P when neither --warehouse nor $LOYALTY_WAREHOUSE names one, in the project

    # ---- where things are
    def warehouse_path(self, explicit: str | os.PathLike[str] | None = None) -> Path:
        """The published warehouse P: the argument, else $LOYALTY_WAREHOUSE, else the default;
        raises LoyaltyError when the path is of the other engine's kind."""
        if explicit:
            path = Path(explicit)
        elif os.environ.get("LOYALTY_WAREHOUSE"):
            path = Path(os.environ["LOYALTY_WAREHOUSE"])
        else:
            path = project_dir() / self.default_warehouse
        path = path.resolve()
        self.check_warehouse_kind(path)
        return path

    @abstractmethod
    def check_warehouse_kind(self, path: Path) -> None:
        """Raise LoyaltyError when what is at path is another engine's kind of warehouse."""

    @abstractmethod
    def work_path(self, warehouse: Path) -> Path:
        """The run's work location W of the published warehouse P."""

    # ---- write, audit, publish
    @abstractmethod
    def prepare(self, warehouse: Path) -> list[str]:
        """Before a run's first write (under the run lock): clean up after killed runs,
        restore W from P when W is dirty, mark W dirty. Returns what it did, for the log."""

    @abstractmethod
    def publish(self, warehouse: Path) -> None:
        """Make W's state the published P, all at once; mark W clean."""

    # ---- the steps' engine work (all on W)
    @abstractmethod
    def load(
        self,
        work: Path,
        transactions: str,
        customers: str | None,
        full_refresh: bool = False,
        variables: dict[str, Any] | None = None,
    ) -> LoadResult:
        """Bring raw.transactions up to the input files (as text; only what was not loaded before
        where the engine can, everything again with full_refresh) and replace raw.customers.
        variables: the run's dbt vars (an engine that builds incrementally rebuilds in full when
        those its incremental models depend on changed)."""

    @abstractmethod
    def load_extra(self, work: Path, surveys: str | None, balances: str | None) -> ExtraLoadResult:
        """Replace raw.survey_responses, raw.survey_attribute_scores and raw.balances (empty when not given)."""

    @abstractmethod
    def run_dbt(
        self,
        work: Path,
        args: list[str],
        variables: dict[str, Any] | None = None,
        *,
        skip_tests_enforced_by_constraints: bool = False,
    ) -> DbtResult:
        """`dbt <args>` on this engine's target; raises BuildError naming the failed nodes.

        skip_tests_enforced_by_constraints: leave out of a build the `not_null` data tests that
        this engine's tables enforce as constraints (loyalty.dbt.tests_enforced_by_constraints),
        where it does enforce them; the result's left_to_constraints names them."""

    # The CLV step (loyalty.clv_step): small reads on the driver, per-customer work where the data is.
    @abstractmethod
    def read_clv_as_of(self, work: Path) -> dt.date | None:
        """The run's as-of date (None without a valid purchase)."""

    @abstractmethod
    def read_clv_fit_inputs(self, work: Path) -> ClvFitInputs:
        """The scoring fits' compressed summaries."""

    @abstractmethod
    def read_calibration_rows(self, work: Path, calibration_end: dt.date, holdout_end: dt.date) -> pd.DataFrame:
        """The holdout check's calibration summary, compressed (frequency, recency_days,
        tenure_days, n_customers): loyalty.clv.tables.calibration_rows_sql."""

    @abstractmethod
    def read_opportunity_rows(self, work: Path, last_complete_period_end: dt.date, period: str) -> pd.DataFrame:
        """BG/BB's compressed summary (frequency, recency, n_periods, n_customers):
        loyalty.clv.tables.opportunity_rows_sql."""

    @abstractmethod
    def holdout_sums(
        self, work: Path, calibration_end: dt.date, holdout_end: dt.date, predictor: HoldoutPredictor
    ) -> pd.DataFrame:
        """`predictor` applied to the calibration customers (holdout_customers_sql) in batches,
        its per-bucket sums added (at least per bucket: loyalty.clv.batches.holdout_tables adds the rest)."""

    @abstractmethod
    def write_clv_scores(self, work: Path, scorer: CustomerScorer) -> int:
        """`scorer` applied to every customer (SUMMARY_SQL) in batches, written as
        clv.customer_scores (replaced); returns the number of customers scored."""

    @abstractmethod
    def write_clv_fits(self, work: Path, fits: pd.DataFrame, holdout: pd.DataFrame) -> None:
        """Replace clv.holdout_validation, append to clv.model_fits."""

    @abstractmethod
    def write_subscription_outputs(
        self, work: Path, survival: pd.DataFrame, scores: pd.DataFrame, rejected: pd.DataFrame, fits: pd.DataFrame
    ) -> None:
        """Replace clv.subscription_survival, clv.subscriber_scores and clv.rejected_subscriptions,
        append the sBG fit to clv.model_fits; raises LoyaltyError on an engine without them."""

    @abstractmethod
    def check_raw(self, work: Path, max_rejected_share: float) -> QualityReport:
        """The checks on the classified raw input (W); raises QualityError on a critical failure."""

    @abstractmethod
    def check_marts(self, work: Path) -> QualityReport:
        """The checks on every mart (W); raises QualityError on a critical failure."""

    # ---- reading
    @abstractmethod
    def connect_read_only(self, location: Path) -> Any:
        """A read-only connection with DuckDB's API (execute/fetchone/fetchall/df/close)."""

    @abstractmethod
    def export(self, warehouse: Path, out: Path) -> ExportResult:
        """Every mart of the published warehouse as `<out>/<mart>.parquet`."""

    def data_docs(self, warehouse: Path) -> Path | None:
        """The Data Docs index of this warehouse's checks, when the engine has them."""
        return None

    def state_dir(self, warehouse: Path) -> Path:
        """dbt's target/log folder of the runs on this warehouse."""
        from loyalty.dbt import state_dir

        return state_dir(self.work_path(warehouse))

    def mart_names(self, warehouse: Path) -> list[str]:
        con = self.connect_read_only(warehouse)
        try:
            rows = con.execute(
                "select table_name from information_schema.tables "
                f"where table_schema = '{MARTS_SCHEMA}' and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        finally:
            con.close()
        return [str(r[0]) for r in rows]

    def _export_folder(self, warehouse: Path, out: Path) -> list[str]:
        """Checks shared by the exports: the warehouse has marts, the folder can be made."""
        if not warehouse.exists():
            raise LoyaltyError(f"The warehouse {warehouse} does not exist: build it with `loyalty run` first.")
        marts = self.mart_names(warehouse)
        if not marts:
            raise LoyaltyError(f"The warehouse {warehouse} has no marts: build it with `loyalty run` first.")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LoyaltyError(f"Could not create the export folder {out}: {exc.strerror}.") from None
        return marts


# ---- the work location's state file: "dirty" from a run's first write until its publish

STATE_FILE = "state.json"


def read_state(folder: Path) -> str | None:
    """ "clean", "dirty", or None when no run has written the state (a new or unknown W)."""
    try:
        return str(json.loads((folder / STATE_FILE).read_text())["state"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(folder: Path, state: str) -> None:
    """Write the state durably (temp file, fsync, rename, fsync of the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{STATE_FILE}.{os.getpid()}"
    body = {"state": state, "pid": os.getpid(), "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    with open(tmp, "w") as handle:
        handle.write(json.dumps(body) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / STATE_FILE)
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
