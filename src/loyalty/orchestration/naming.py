"""Readable flow run names for the Prefect UI: which warehouse, as of which date."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
