"""The engines a warehouse is built on, one implementation each behind `Engine` (base.py).

engine = get_engine("duckdb")            # or "spark": the dbt target
warehouse = engine.warehouse_path(None)  # P, resolved once per run
work = engine.work_path(warehouse)       # W, where the run writes
"""

from __future__ import annotations

from loyalty.engines.base import ClvFitInputs, Engine, ExportResult
from loyalty.errors import LoyaltyError

TARGETS = ("duckdb", "spark")


def get_engine(target: str) -> Engine:
    """The engine of a dbt target (one instance per call; engines hold no state)."""
    if target == "duckdb":
        from loyalty.engines.duckdb import DuckDBEngine

        return DuckDBEngine()
    if target == "spark":
        from loyalty.engines.spark import SparkEngine

        return SparkEngine()
    raise LoyaltyError(f"The target {target!r} is not one of {', '.join(TARGETS)}.")


__all__ = ["TARGETS", "ClvFitInputs", "Engine", "ExportResult", "get_engine"]
