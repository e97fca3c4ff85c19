"""The steps of a warehouse run, as plain functions (the Prefect flow calls these).

prepare the work location -> load raw input -> dbt build of the input layer (staging, as-of
date, validated rows) -> raw checks -> dbt build of the marts (models, data tests, unit
tests) -> CLV fits -> dbt build of the CLV marts -> mart checks -> publish -> summary.

Every step before `publish_step` writes only the run's work location (config.work); the
published warehouse (config.warehouse) changes all at once in `publish_step`, after every
build phase and check has passed (write, audit, publish: loyalty.engines). A run that fails
or is killed before that leaves the published marts as the last good run left them.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty.engines import Engine, get_engine
from loyalty.errors import LoyaltyError
from loyalty.load import LoadResult
from loyalty.summary import Summary, summarize

if TYPE_CHECKING:
    from loyalty.clv_step import ClvReport
    from loyalty.quality import QualityReport


@dataclass
class RunConfig:
    transactions: str
    customers: str | None = None
    as_of: dt.date | None = None
    # the published warehouse; None = the engine's default ($LOYALTY_WAREHOUSE, else build/...),
    # resolved in __post_init__, so that it is always a Path after construction
    warehouse: Path = None  # type: ignore[assignment]  # set in __post_init__
    full_refresh: bool = False
    target: str = "duckdb"
    # dbt vars set for this run (`loyalty run --var name=value`), on top of dbt_project.yml
    variables: dict[str, Any] = field(default_factory=dict)
    # CLV holdout check: calibrate up to this date (default: as-of date - var clv_holdout_days)
    calibration_end: dt.date | None = None
    # optional survey and balance inputs (loyalty.load_extra); their raw tables are empty without them
    surveys: str | None = None
    balances: str | None = None

    def __post_init__(self) -> None:
        # the engine and the warehouse path are resolved here, once (LoyaltyError when the path
        # is of the other engine's kind)
        self.warehouse = self.engine.warehouse_path(self.warehouse)

    @property
    def engine(self) -> Engine:
        return get_engine(self.target)

    @property
    def work(self) -> Path:
        """Where this run writes (the published warehouse changes only in publish_step)."""
        return self.engine.work_path(self.warehouse)

    def dbt_vars(self) -> dict[str, Any]:
        return {**self.variables, "as_of_date": self.as_of.isoformat() if self.as_of else None}


def prepare_step(config: RunConfig) -> list[str]:
    """Before the first write, under the run lock: clean up after killed runs, restore the work
    location from the published warehouse when the last run did not publish, mark it dirty."""
    return config.engine.prepare(config.warehouse)


def load_step(config: RunConfig) -> LoadResult:
    result = config.engine.load(
        config.work, config.transactions, config.customers, full_refresh=config.full_refresh, variables=config.variables
    )
    config.engine.load_extra(config.work, config.surveys, config.balances)  # empty tables when not given
    return result


# dbt selection of each build phase. "inputs" ends with every raw row classified
# (int_transactions_validated); "marts" is everything that does not need the CLV scores;
# "clv" is what does (downstream of the tables clv_step writes, source `clv`). A test runs
# in the phase that builds the last of its parents (indirect selection "buildable").
BUILD_PHASES: dict[str, list[str]] = {
    "inputs": ["--select", "+int_transactions_validated"],
    "marts": ["--exclude", "+int_transactions_validated", "source:clv+"],
    # assert_raw_rows_reconcile reads the raw source (an inputs-phase node, excluded from
    # "marts" with all its tests) beside two marts: it is selected by name in the last phase
    "clv": ["--select", "source:clv+", "assert_raw_rows_reconcile"],
}


UNIT_TESTS_SETTING = "LOYALTY_DBT_UNIT_TESTS"
CONSTRAINED_TESTS_SETTING = "LOYALTY_DBT_CONSTRAINED_TESTS"


def _run_or_skip(setting: str) -> bool:
    value = os.environ.get(setting, "skip").strip().lower()
    if value not in ("run", "skip"):
        raise LoyaltyError(f"{setting} must be run or skip, not {value!r}.")
    return value == "run"


def unit_tests_run() -> bool:
    """Whether a run's build phases include dbt's unit tests: only with LOYALTY_DBT_UNIT_TESTS=run.

    Unit tests check the models' code on fixed, hand-made rows, so their outcome changes only
    when the code does; dbt advises running them in development and CI rather than on every
    production build, and they cost ~6 s of a run whatever its size. The default (`skip`)
    leaves them to CI (the test suite's fixture run, `make dbt-test`); `run` adds them to
    every build phase, before the publish."""
    return _run_or_skip(UNIT_TESTS_SETTING)


def constrained_tests_run() -> bool:
    """Whether a run's build phases include the `not_null` data tests that the engine's NOT NULL
    constraints already enforce: only with LOYALTY_DBT_CONSTRAINED_TESTS=run.

    A mart's enforced contract creates its table with the constraints, so on an engine that
    enforces them (DuckDB) a null fails the model's build and such a test can never fail after
    it (loyalty.dbt.tests_enforced_by_constraints), while dbt spends ~15-25 ms of Python on each
    whatever the data's size (32 tests; a 1,000-row run's dbt phases: 9.85 -> 9.18 s, README
    "Speed"). The default (`skip`) leaves them out where the engine enforces the
    constraints (never on Spark's parquet tables); CI's fixture run sets `run`, so that they
    are still proven."""
    return _run_or_skip(CONSTRAINED_TESTS_SETTING)


def build_step(config: RunConfig, phase: str) -> list[str]:
    """dbt build (models, data tests and unit tests) of one phase of BUILD_PHASES; returns the
    data tests left to the engine's constraints (constrained_tests_run)."""
    args = ["build", *BUILD_PHASES[phase], "--indirect-selection", "buildable"]
    if not unit_tests_run():
        args += ["--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        args.append("--full-refresh")
    result = config.engine.run_dbt(
        config.work,
        args,
        variables=config.dbt_vars(),
        skip_tests_enforced_by_constraints=not constrained_tests_run(),
    )
    # keep each phase's results: tests_py/test_build_phases.py checks that the phases together
    # run every model, snapshot, seed, data test and unit test of the project
    results = config.engine.state_dir(config.warehouse) / "target"
    if (results / "run_results.json").is_file():
        shutil.copyfile(results / "run_results.json", results / f"run_results_{phase}.json")
    return result.left_to_constraints


def clv_step(config: RunConfig) -> ClvReport:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma on the customer summary, check them on a
    holdout period and write the scores that the "clv" phase joins (loyalty.clv_step)."""
    from loyalty.clv_step import clv_step as fit_and_score

    return fit_and_score(config, calibration_end=config.calibration_end)


def validate_raw_step(config: RunConfig) -> QualityReport:
    """Great Expectations on the raw input, after build_step(config, "inputs") classified every
    row and before any mart is built: raises QualityError when a critical expectation fails,
    e.g. more than the dbt var max_rejected_share of the rows dated up to the as-of date are
    rejected. Warnings are in the report (loyalty.quality)."""
    from loyalty.project import dbt_vars

    limit = float(dbt_vars(config.dbt_vars())["max_rejected_share"])
    return config.engine.check_raw(config.work, max_rejected_share=limit)


def validate_marts_step(config: RunConfig) -> QualityReport:
    """Great Expectations on every mart that exists, after the last build phase: raises
    QualityError when a critical expectation fails (loyalty.quality)."""
    return config.engine.check_marts(config.work)


def publish_step(config: RunConfig) -> None:
    """Make the work location the published warehouse, all at once (loyalty.engines); from here
    on readers that connect see this run's marts, readers already connected the last run's."""
    config.engine.publish(config.warehouse)


def summarize_step(config: RunConfig) -> Summary:
    """Headline numbers of the published warehouse (read-only, after publish_step)."""
    return summarize(config.engine, config.warehouse)
