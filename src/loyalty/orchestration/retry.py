"""Which failures are worth retrying.

Only one kind is: a DuckDB file a step opens is locked by another process. A run opens
only its private work file (loyalty.engines), never the published warehouse, so analysts'
tools reading the published file never cause this; a process that opened the work file
itself (a script, a `dbt` command pointed at it) does. DuckDB then refuses to open the
file at once ("Could not set lock on file ..."); trying again a little later succeeds once
that process lets go. The error reaches us in several wrappings: as an InputError from the
loader, a BuildError quoting dbt's output, a duckdb.IOException from a direct connection,
so the test is on the message.

Everything else (bad input, a failed dbt test, a failed expectation) is a data error:
retrying would fail the same way, so the step fails at once with its own message.
"""

from __future__ import annotations

from typing import Any

from loyalty.errors import LoyaltyError

# DuckDB's wording when another process holds the file (duckdb 1.x and 2.x).
TRANSIENT_MARKERS = ("Could not set lock on file", "Conflicting lock is held")

# Retries of a step that hit a transient error, and the waits before each (seconds).
TRANSIENT_RETRY_DELAYS: list[float] = [2, 4, 8, 16, 32]


class WarehouseLockedError(LoyaltyError):
    """The DuckDB file was held by another process for longer than the retries waited."""

    exit_code = 75  # EX_TEMPFAIL


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: the warehouse file is locked by another process."""
    if isinstance(exc, WarehouseLockedError):
        return True
    text = str(exc)
    return any(marker in text for marker in TRANSIENT_MARKERS)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only when the failure is transient; log why."""
    exc = state.result(raise_on_failure=False)  # the step's exception, without raising it again
    if not isinstance(exc, BaseException):
        return False
    from prefect.logging.loggers import task_run_logger

    logger = task_run_logger(task_run, task=task)
    if is_transient(exc):
        logger.warning("The warehouse is locked by another process; will retry: %s", first_line(exc))
        return True
    logger.info("Not retrying: this is a data error, not a transient one.")
    return False
