"""The Prefect tasks of a warehouse run: each wraps one step of `loyalty.pipeline`.

The steps write the run's work location, never the published warehouse that analysts read
(loyalty.engines); `publish-warehouse` swaps it in at the end. Every step retries with
backoff when, and only when, a DuckDB file it opens is locked by another process (see
retry.py: a run never opens the published file for writing, so a reader of it never
causes this; a process holding the work file would); any other failure (bad input, a failed
dbt test, a failed expectation) ends the step at once with the step's own sentence.
Results are never cached: each step has side effects and must run every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from loyalty import pipeline
from loyalty.errors import LoyaltyError
from loyalty.load import LoadResult
from loyalty.orchestration.dbt_nodes import log_phase_nodes
from loyalty.orchestration.lock import LockInfo, warehouse_lock
from loyalty.orchestration.naming import name_run_by_as_of
from loyalty.orchestration.publish import (
    COHORT_ARTIFACT_KEY,
    SUMMARY_ARTIFACT_KEY,
    cohort_table,
    headline_markdown,
)
from loyalty.orchestration.retry import (
    TRANSIENT_RETRY_DELAYS,
    WarehouseLockedError,
    first_line,
    is_transient,
    retry_on_transient,
)
from loyalty.pipeline import RunConfig, Summary
from loyalty.quality.report import QualityReport

T = TypeVar("T")

WAREHOUSE_STEP: dict[str, Any] = {
    "retries": len(TRANSIENT_RETRY_DELAYS),
    "retry_delay_seconds": TRANSIENT_RETRY_DELAYS,
    "retry_condition_fn": retry_on_transient,
    "cache_policy": NO_CACHE,
    "persist_result": False,
}


def _step(fn: Callable[[], T]) -> T:
    """Run a step; a DuckDB lock conflict, however it was wrapped, becomes WarehouseLockedError
    (exit code 75, "try again later") with the step's sentence.

    A LoyaltyError is re-raised without the step's frames: Prefect keeps the exception in the
    run's state, and those frames would keep the step's DuckDB connection objects alive until
    the interpreter exits (duckdb 2.x then prints "nanobind: leaked instance" warnings).
    """
    try:
        return fn()
    except LoyaltyError as exc:
        if is_transient(exc) and not isinstance(exc, WarehouseLockedError):
            # e.g. the loader's "Could not open the warehouse ...: Could not set lock on file"
            raise WarehouseLockedError(str(exc)) from None
        exc.__context__ = exc.__cause__ = None
        raise exc.with_traceback(None) from None
    except duckdb.Error as exc:
        if is_transient(exc):
            raise WarehouseLockedError(f"The warehouse file is locked by another process: {first_line(exc)}") from None
        raise


def run_config(**parameters: Any) -> RunConfig:
    """The RunConfig of a flow run's parameters (the engine and warehouse are resolved there, once)."""
    try:
        return RunConfig(**parameters)
    except LoyaltyError as exc:
        exc.__context__ = exc.__cause__ = None
        raise exc.with_traceback(None) from None


@contextmanager
def hold_warehouse(config: RunConfig, timeout_seconds: float) -> Iterator[float]:
    """The run's exclusive hold on its warehouse (lock.py); logs when it had to wait."""
    logger = get_run_logger()
    from prefect.runtime import flow_run

    label = f"flow run {flow_run.name!r} ({flow_run.id})" if flow_run.id else None

    def waiting(holder: LockInfo) -> None:
        logger.warning(
            "Waiting up to %.0f s for the warehouse %s, in use by %s.",
            timeout_seconds,
            config.warehouse,
            holder.describe(),
        )

    with warehouse_lock(config.warehouse, timeout=timeout_seconds, run_name=label, on_wait=waiting) as waited:
        if waited >= 1:
            logger.info("Got the warehouse lock after waiting %.1f s.", waited)
        yield waited


@task(name="prepare-work-location", **WAREHOUSE_STEP)
def prepare_work(config: RunConfig) -> None:
    """Clean up after killed runs, restore the work location if the last run did not publish,
    mark it dirty (loyalty.engines)."""
    for line in _step(lambda: pipeline.prepare_step(config)):
        get_run_logger().warning(line)


@task(name="load-raw-input", **WAREHOUSE_STEP)
def load_raw_input(config: RunConfig) -> LoadResult:
    """Load the transactions (and customers) files into raw.* as text, every row kept."""
    result = _step(lambda: pipeline.load_step(config))
    get_run_logger().info(
        "Loaded %s transaction rows from %d file(s) and %s customer rows.",
        f"{result.n_transaction_rows:,}",
        len(result.transaction_files),
        f"{result.n_customer_rows:,}",
    )
    if result.incremental is not None:  # DuckDB: what this run added (loyalty.incremental)
        get_run_logger().info(result.incremental.describe())
    return result


@task(name="dbt-build-inputs", **WAREHOUSE_STEP)
def build_inputs(config: RunConfig) -> None:
    """dbt build of staging and int_transactions_validated (every raw row classified), with tests."""
    left = _step(lambda: pipeline.build_step(config, "inputs"))
    log_phase_nodes("inputs", config.engine.state_dir(config.warehouse), get_run_logger(), left)
    name_run_by_as_of(config)


@task(name="dbt-build-marts", **WAREHOUSE_STEP)
def build_marts(config: RunConfig) -> None:
    """dbt build of the marts with their data tests and unit tests."""
    left = _step(lambda: pipeline.build_step(config, "marts"))
    log_phase_nodes("marts", config.engine.state_dir(config.warehouse), get_run_logger(), left)


@task(name="fit-clv-models", **WAREHOUSE_STEP)
def fit_clv(config: RunConfig) -> None:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma, check them on the holdout, write clv.* scores."""
    report = _step(lambda: pipeline.clv_step(config))
    logger = get_run_logger()
    for line in report.lines():
        logger.info(line)
    for message in report.warnings:
        logger.warning(message)


@task(name="dbt-build-clv-marts", **WAREHOUSE_STEP)
def build_clv_marts(config: RunConfig) -> None:
    """dbt build of what joins the CLV scores (dim_customers and everything after it), with tests."""
    left = _step(lambda: pipeline.build_step(config, "clv"))
    log_phase_nodes("clv", config.engine.state_dir(config.warehouse), get_run_logger(), left)


@task(name="validate-raw-input", **WAREHOUSE_STEP)
def validate_raw_input(config: RunConfig) -> QualityReport:
    """Great Expectations on the classified raw rows (e.g. the share rejected), before any mart is built."""
    return _quality(lambda: pipeline.validate_raw_step(config))


@task(name="validate-marts", **WAREHOUSE_STEP)
def validate_marts(config: RunConfig) -> QualityReport:
    """Great Expectations on every mart that exists, after the last build phase."""
    return _quality(lambda: pipeline.validate_marts_step(config))


def _quality(fn: Callable[[], QualityReport]) -> QualityReport:
    """Run a quality step; log its headline and each warning (a critical failure raises)."""
    report = _step(fn)
    logger = get_run_logger()
    logger.info(report.headline())
    for check in report.warnings:
        logger.warning("warning: %s", check.sentence())
    return report


@task(name="publish-warehouse", **WAREHOUSE_STEP)
def publish(config: RunConfig) -> None:
    """Replace the published warehouse with the checked work location, all at once."""
    _step(lambda: pipeline.publish_step(config))
    get_run_logger().info("Published %s.", config.warehouse)


@task(name="summarize-marts", **WAREHOUSE_STEP)
def summarize_marts(config: RunConfig) -> Summary:
    """Read the headline numbers of the published warehouse."""
    return _step(lambda: pipeline.summarize_step(config))


@task(name="write-report", **WAREHOUSE_STEP)
def write_report(config: RunConfig) -> Path:
    """The analysts' HTML report of the published marts (loyalty.report): one file that opens offline."""
    from loyalty.report import write_report as write

    path = _step(lambda: write(config.warehouse, target=config.target))
    get_run_logger().info("Report: %s", path)
    return path


@task(name="publish-run-summary", **WAREHOUSE_STEP)
def publish_run_summary(config: RunConfig, summary: Summary, links: dict[str, str] | None = None) -> list[str]:
    """Markdown artifact with the headline numbers and table artifact of the latest cohorts."""
    from prefect.runtime import flow_run

    label = f"{config.warehouse.name} as of {summary.as_of_date}"
    target_dir = config.engine.state_dir(config.warehouse) / "target"
    all_links = {
        f"dbt results, {phase} phase": str(target_dir / f"run_results_{phase}.json")
        for phase in pipeline.BUILD_PHASES
        if (target_dir / f"run_results_{phase}.json").is_file()
    }
    if summary.data_docs:
        all_links["Data Docs (Great Expectations)"] = str(summary.data_docs)
    all_links.update(links or {})
    markdown = headline_markdown(summary, run_label=label, links=all_links)
    ids = [
        str(
            create_markdown_artifact(
                markdown=markdown, key=SUMMARY_ARTIFACT_KEY, description=f"Headline numbers of {label}"
            )
        )
    ]
    table = cohort_table(summary)
    if table:
        ids.append(
            str(
                create_table_artifact(
                    table=table, key=COHORT_ARTIFACT_KEY, description=f"Retention (%) of the latest cohorts, {label}"
                )
            )
        )
    get_run_logger().info("Published the run summary of %s (flow run %s).", label, flow_run.name)
    return ids
