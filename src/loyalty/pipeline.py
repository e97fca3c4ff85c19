"""The steps of a warehouse run, as plain functions (the Prefect flow calls these).

load raw input -> dbt build of the input layer (staging, as-of date, validated rows)
-> dbt build of the marts (models, data tests, unit tests) -> summary of the marts.

The build is split in phases so that checks on the input (Great Expectations) and the
CLV fit can run between them, and so that a run whose input fails leaves the marts of
the previous good run untouched.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty.dbt import run_dbt, state_dir
from loyalty.errors import InputError
from loyalty.load import LoadResult, load_raw
from loyalty.project import warehouse_path

if TYPE_CHECKING:
    from loyalty.clv_step import ClvReport
    from loyalty.quality import QualityReport


@dataclass
class RunConfig:
    transactions: str
    customers: str | None = None
    as_of: dt.date | None = None
    warehouse: Path = field(default_factory=warehouse_path)
    full_refresh: bool = False
    target: str = "duckdb"
    # dbt vars set for this run (`loyalty run --var name=value`), on top of dbt_project.yml
    variables: dict[str, Any] = field(default_factory=dict)
    # CLV holdout check: calibrate up to this date (default: as-of date - var clv_holdout_days)
    calibration_end: dt.date | None = None
    # optional survey and balance inputs (loyalty.load_extra); their raw tables are empty without them
    surveys: str | None = None
    balances: str | None = None

    def dbt_vars(self) -> dict[str, Any]:
        return {**self.variables, "as_of_date": self.as_of.isoformat() if self.as_of else None}


def parse_as_of(text: str | None) -> dt.date | None:
    if text is None or text == "":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"The as-of date {text!r} is not a date in the form YYYY-MM-DD.") from None


def load_step(config: RunConfig) -> LoadResult:
    if config.target == "spark":  # Spark reads the files itself (same raw layout and row ids)
        from loyalty.spark.load import load_raw_spark

        from loyalty.spark.load_extra import load_extra_raw_spark

        result = load_raw_spark(config.warehouse, config.transactions, config.customers)
        load_extra_raw_spark(config.warehouse, config.surveys, config.balances)
        return result
    from loyalty.load_extra import load_extra_raw

    result = load_raw(config.warehouse, config.transactions, config.customers)
    load_extra_raw(config.warehouse, config.surveys, config.balances)
    return result


# dbt selection of each build phase. "inputs" ends with every raw row classified
# (int_transactions_validated); "marts" is everything that does not need the CLV scores;
# "clv" is what does (downstream of the tables clv_step writes, source `clv`). A test runs
# in the phase that builds the last of its parents (indirect selection "buildable").
BUILD_PHASES: dict[str, list[str]] = {
    "inputs": ["--select", "+int_transactions_validated"],
    "marts": ["--exclude", "+int_transactions_validated", "source:clv+"],
    "clv": ["--select", "source:clv+"],
}


def build_step(config: RunConfig, phase: str) -> None:
    """dbt build (models, data tests and unit tests) of one phase of BUILD_PHASES."""
    args = ["build", *BUILD_PHASES[phase], "--indirect-selection", "buildable"]
    if config.full_refresh:
        args.append("--full-refresh")
    if config.target == "spark":  # in this process: the Spark warehouse admits one process
        from loyalty.spark.dbt import run_dbt_in_session

        run_dbt_in_session(args, config.warehouse, variables=config.dbt_vars())
        return
    run_dbt(args, config.warehouse, variables=config.dbt_vars(), target=config.target)
    # keep each phase's results: tests_py/test_build_phases.py checks that the phases together
    # run every model, snapshot, seed, data test and unit test of the project
    results = state_dir(config.warehouse) / "target"
    shutil.copyfile(results / "run_results.json", results / f"run_results_{phase}.json")


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
    from loyalty.quality import QualityReport, validate_raw

    if config.target != "duckdb":
        return QualityReport(phase="raw", not_run="the checks read a DuckDB warehouse")
    limit = float(dbt_vars(config.dbt_vars())["max_rejected_share"])
    return validate_raw(config.warehouse, max_rejected_share=limit)


def validate_marts_step(config: RunConfig) -> QualityReport:
    """Great Expectations on every mart that exists, after the last build phase: raises
    QualityError when a critical expectation fails (loyalty.quality)."""
    from loyalty.quality import QualityReport, validate_marts

    if config.target != "duckdb":
        return QualityReport(phase="marts", not_run="the checks read a DuckDB warehouse")
    return validate_marts(config.warehouse)


@dataclass
class Summary:
    warehouse: Path
    as_of_date: dt.date | None
    raw_rows: int
    valid_rows: int
    rejected_rows: int
    rejected_by_reason: dict[str, int]
    customers: int
    repeat_customers: int
    total_revenue: float
    cohorts: int
    month1_retention: float | None
    marts: list[str]
    engine: str = "DuckDB"
    data_docs: Path | None = None  # Great Expectations Data Docs of this warehouse, once built

    def lines(self) -> list[str]:
        rejected = ", ".join(f"{k} {v:,}" for k, v in self.rejected_by_reason.items()) or "none"
        retention = "n/a" if self.month1_retention is None else f"{self.month1_retention:.1%}"
        share = self.repeat_customers / self.customers if self.customers else 0.0
        return [
            f"Warehouse: {self.warehouse} ({self.engine}; marts in schema `marts`)",
            f"Marts: {', '.join(self.marts)}",
            f"As-of date: {self.as_of_date}",
            f"Input rows: {self.raw_rows:,} = {self.valid_rows:,} valid + {self.rejected_rows:,} rejected ({rejected})",
            f"Customers: {self.customers:,}, of whom repeat buyers {self.repeat_customers:,} ({share:.1%})",
            f"Net revenue: {self.total_revenue:,.2f}",
            f"Cohorts: {self.cohorts}; average month-1 retention: {retention}",
        ] + ([f"Data Docs (Great Expectations): {self.data_docs}"] if self.data_docs else [])


def summarize(warehouse: Path) -> Summary:
    """Headline numbers of the marts of a DuckDB file or a Spark warehouse folder."""
    from loyalty.spark.query import connect_read_only, is_spark_warehouse

    con = connect_read_only(warehouse)
    try:
        def one(sql: str) -> Any:
            row = con.execute(sql).fetchone()
            return row[0] if row else None

        by_reason = dict(
            con.execute(
                "select reject_reason, count(*) from marts.rejected_transactions group by 1 order by 2 desc, 1"
            ).fetchall()
        )
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        return Summary(
            warehouse=warehouse,
            as_of_date=one("select max(as_of_date) from intermediate.int_as_of_date"),
            raw_rows=int(one("select count(*) from raw.transactions")),
            valid_rows=int(one("select count(*) from marts.fct_transactions")),
            rejected_rows=int(one("select count(*) from marts.rejected_transactions")),
            rejected_by_reason={str(k): int(v) for k, v in by_reason.items()},
            customers=int(one("select count(*) from marts.dim_customers")),
            repeat_customers=int(one("select count(*) from marts.dim_customers where frequency > 0")),
            total_revenue=float(one("select coalesce(sum(total_revenue), 0) from marts.dim_customers")),
            cohorts=int(one("select count(distinct cohort_month) from marts.rpt_cohort_retention_monthly")),
            month1_retention=one(
                "select avg(retention_rate) from marts.rpt_cohort_retention_monthly "
                "where months_since_first_purchase = 1"
            ),
            marts=marts,
            engine="Spark" if is_spark_warehouse(warehouse) else "DuckDB",
            data_docs=_data_docs(warehouse),
        )
    finally:
        con.close()


def _data_docs(warehouse: Path) -> Path | None:
    from loyalty.quality.project import data_docs_index

    index = data_docs_index(warehouse)
    return index if index.is_file() else None


def run_pipeline(config: RunConfig) -> Summary:
    """Run every step as the Prefect flow `loyalty_pipeline` (flows/pipeline.py), the one place
    that orders the steps; add a new step there, not here."""
    from loyalty.orchestration.runner import run_flow

    return run_flow(config)
