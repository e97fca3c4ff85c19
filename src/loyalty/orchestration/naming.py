"""Readable flow run names for the Prefect UI: which warehouse, as of which date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loyalty.pipeline import RunConfig


def _params() -> dict[str, Any]:
    from prefect.runtime import flow_run

    return dict(flow_run.parameters or {})


def _warehouse(params: dict[str, Any]) -> str:
    return Path(str(params["warehouse"])).name if params.get("warehouse") else "default warehouse"


def pipeline_run_name() -> str:
    """`fixtures.duckdb as of 2024-03-31` (or `as of latest` when the date is left open)."""
    params = _params()
    return f"{_warehouse(params)} as of {params.get('as_of') or 'latest'}"


def backfill_run_name() -> str:
    params = _params()
    if params.get("as_of_dates"):
        dates = sorted(str(d) for d in params["as_of_dates"])
        span = f"{dates[0]}..{dates[-1]} ({len(dates)} dates)"
    else:
        span = f"{params.get('start')}..{params.get('end')} every {params.get('every', 'month')}"
    return f"backfill {_warehouse(params)} {span}"


def read_as_of_date(connection: Any) -> dt.date | None:
    """The as-of date the inputs phase resolved (intermediate.int_as_of_date), or None."""
    try:
        rows = connection.execute("select max(as_of_date) from intermediate.int_as_of_date").fetchall()
    finally:
        connection.close()
    value = rows[0][0] if rows else None
    return value.date() if isinstance(value, dt.datetime) else value


def as_of_run_name(warehouse: Path, as_of_date: dt.date) -> str:
    """`fixtures.duckdb as of 2024-03-31`: the name of a pipeline run once its as-of date is known."""
    return f"{warehouse.name} as of {as_of_date.isoformat()}"


def name_run_by_as_of(config: RunConfig) -> str | None:
    """Rename the current flow run by the as-of date dbt resolved (read from the run's work
    location), so that a run started with the date left open ("as of latest") is listed by the
    date it describes. Returns the name, or None outside a flow run. The name is cosmetic: a
    failure to rename is logged, not raised."""
    from prefect.client.orchestration import get_client
    from prefect.logging import get_run_logger
    from prefect.runtime import flow_run

    if not flow_run.id:
        return None
    try:
        as_of_date = read_as_of_date(config.engine.connect_read_only(config.work))
        if as_of_date is None:
            return None
        name = as_of_run_name(config.warehouse, as_of_date)
        if flow_run.name != name:
            with get_client(sync_client=True) as client:
                client.update_flow_run(flow_run.id, name=name)
            get_run_logger().info("Flow run renamed %r -> %r (the resolved as-of date).", flow_run.name, name)
        return name
    except Exception as exc:  # noqa: BLE001 - a run name must never fail a run
        get_run_logger().warning("Could not rename the flow run by its as-of date: %s", str(exc).splitlines()[0])
        return None
