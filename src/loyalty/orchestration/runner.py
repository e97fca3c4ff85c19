"""Start the flows of flows/pipeline.py from Python or the CLI, with or without a Prefect server.

With PREFECT_API_URL set (a `prefect server start` or Prefect Cloud), the run is recorded
there. Without it the CLI starts a temporary local server for the life of the process
(temporary_server.py, while the run's modules load) and the run history is kept in
$PREFECT_HOME (default ~/.prefect).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import fields
from pathlib import Path
from typing import Any, TextIO

from loyalty.errors import LoyaltyError
from loyalty.orchestration.temporary_server import (
    STARTUP_TIMEOUT_DEFAULT_SECONDS,
    STARTUP_TIMEOUT_SETTING,
    temporary_server_address,
)
from loyalty.project import project_dir

# Set before Prefect is first imported in this process (its settings are read at import).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# (also the limit of a temporary server Prefect would start itself, e.g. for a flow run in tests)
os.environ.setdefault(STARTUP_TIMEOUT_SETTING, STARTUP_TIMEOUT_DEFAULT_SECONDS)

FLOWS_FILE = Path("flows") / "pipeline.py"
# at most this long for the run's last logs and events to reach the API (Prefect's own: 5 s)
DRAIN_TIMEOUT_SECONDS = 10.0
EPHEMERAL_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"


class OrchestrationError(LoyaltyError):
    """Prefect itself could not run the flow (e.g. its temporary server did not start)."""


def flow_entrypoint(name: str) -> str:
    return f"{project_dir() / FLOWS_FILE}:{name}"


_flows: dict[str, Any] = {}


def load_flow(name: str = "loyalty_pipeline") -> Any:
    """The flow object `name` of flows/pipeline.py (loaded once per process)."""
    if name not in _flows:
        from prefect.flows import load_flow_from_entrypoint

        _flows[name] = load_flow_from_entrypoint(flow_entrypoint(name), use_placeholder_flow=False)
    return _flows[name]


def preload_run_modules() -> None:
    """Import what every run needs (Prefect's flow engine and the flows, dbt, Great Expectations,
    pandas and scipy): ~10 s of CPU on an idle machine, done while a temporary Prefect server
    boots (temporary_server.ensure_prefect_api) instead of one step at a time during the run."""
    from loyalty.quality.project import import_gx

    import_gx()  # (with GX's analytics off, and pyspark's import guard: see import_gx)
    import dbt.cli.main  # noqa: F401
    import pandas  # noqa: F401
    import scipy.optimize  # noqa: F401

    load_flow("loyalty_pipeline")
    # The ~530,000 objects these imports made live as long as the command: moved out of the
    # collector's generations, the full collections of the run (automatic ones, and those that
    # close dbt's DuckDB connections, loyalty.dbt._release_connections) no longer walk them
    # each time. A 1,000-row run: 20.5 -> 18.5 s (benchmarks, README "Speed"). No connection
    # exists yet at this point, so none can be kept open by it.
    gc.freeze()


def flow_parameters(config: Any, **extra: Any) -> dict[str, Any]:
    """RunConfig -> parameters of loyalty_pipeline (one per RunConfig field, same names)."""
    params = {f.name: getattr(config, f.name) for f in fields(config)}
    params["warehouse"] = str(params["warehouse"])
    params.update({k: v for k, v in extra.items() if v is not None})
    return params


def drain_prefect_workers(timeout: float = DRAIN_TIMEOUT_SECONDS) -> None:
    """Send the run's remaining logs and events to the Prefect API now, while the flow's
    clients are alive. Left to the interpreter's exit (logging.shutdown), the same drain of the
    log worker waited for its whole 5 s timeout after every command on this stack (py-spy: the
    main thread in APILogHandler.flush; drained here it takes ~0.03 s and the exit then finds
    no worker left)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    # shipping the run's logs must not change the run's outcome (nor hide the step's error)
    with suppress(Exception):
        APILogWorker.drain_all(timeout=timeout)
        EventsWorker.drain_all(timeout=timeout)


@contextmanager
def flow_run_settings() -> Iterator[None]:
    """Prefect settings of the flow runs this process calls: on the temporary server it started
    (temporary_server.py), flow-run heartbeats are off; on a configured server, Prefect's own.

    A heartbeat tells a server that a flow run is still alive, so that one whose process died
    can be marked crashed. The temporary server stops with the process that runs the flow, so
    nothing is left to read them; and the heartbeat thread sleeps in 1 s steps, so the end of
    every flow run waited up to 1 s for it (py-spy: the main thread in `_send_heartbeats`'s
    join, 0.9 s of a 1,000-row run)."""
    if temporary_server_address() is None:
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _call(flow: Any, params: dict[str, Any]) -> Any:
    try:
        with flow_run_settings():
            return flow(**params)
    except RuntimeError as exc:
        if EPHEMERAL_TIMEOUT in str(exc):
            raise OrchestrationError(
                "Prefect's temporary local server did not start in time; start one with "
                "`prefect server start` and set PREFECT_API_URL, or raise "
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS."
            ) from None
        raise
    finally:
        drain_prefect_workers()


def run_flow(config: Any, *, lock_timeout_seconds: float | None = None) -> Any:
    """Run loyalty_pipeline for this RunConfig; return its Summary or raise the step's LoyaltyError."""
    return _call(load_flow("loyalty_pipeline"), flow_parameters(config, lock_timeout_seconds=lock_timeout_seconds))


def run_backfill(
    *,
    transactions: str,
    customers: str | None,
    as_of_dates: list[dt.date] | None,
    start: dt.date | None,
    end: dt.date | None,
    every: str,
    warehouse: Path,
    full_refresh: bool = False,
    target: str = "duckdb",
    variables: dict[str, Any] | None = None,
    lock_timeout_seconds: float | None = None,
) -> list[Any]:
    """Run loyalty_backfill; return one Summary per as-of date, oldest first."""
    params: dict[str, Any] = dict(
        transactions=transactions,
        customers=customers,
        as_of_dates=as_of_dates,
        start=start,
        end=end,
        every=every,
        warehouse=str(warehouse),
        full_refresh=full_refresh,
        target=target,
        variables=variables or {},
    )
    if lock_timeout_seconds is not None:
        params["lock_timeout_seconds"] = lock_timeout_seconds
    return _call(load_flow("loyalty_backfill"), params)


class _ProgressHandler(logging.Handler):
    """Prefect's run logs as short progress lines (no tracebacks, no errors: the CLI reports those)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            return
        if not (record.name.startswith(("prefect.flow_runs", "prefect.task_runs")) or record.name == "prefect"):
            return
        try:
            if self._link_to_temporary_server(record):
                return
            who = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
            time = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
            line = f"{time} {who}: {record.getMessage()}" if who else f"{time} {record.getMessage()}"
            self.stream.write(line.splitlines()[0] + "\n")
            self.stream.flush()
        except Exception:  # noqa: BLE001 - never let progress output break a run
            self.handleError(record)

    @staticmethod
    def _link_to_temporary_server(record: logging.LogRecord) -> bool:
        from loyalty.orchestration.temporary_server import temporary_server_address

        address = temporary_server_address()
        return address is not None and str(record.msg).startswith(f"View at {address}/")


def _drop_all(record: logging.LogRecord) -> bool:
    return False


@contextmanager
def console_progress(stream: TextIO | None = None) -> Iterator[None]:
    """For the CLI: progress lines on `stream` during the run, Prefect's console output off.

    Prefect's own console handler prints tracebacks and, at exit, server messages; the CLI
    reports errors in one sentence instead, so that handler stays silent for the rest of
    the process. Runs are still logged in full to the Prefect API (the UI shows every line).
    """
    import prefect.main  # noqa: F401 - configures Prefect's logging (once per process)
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and _drop_all not in handler.filters:
            handler.addFilter(_drop_all)
    progress = _ProgressHandler(stream or sys.stdout)
    prefect_logger = logging.getLogger("prefect")
    prefect_logger.addHandler(progress)
    try:
        yield
    finally:
        prefect_logger.removeHandler(progress)
