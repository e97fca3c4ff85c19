"""Run dbt in this process against the Spark session of the warehouse folder.

The embedded metastore of a warehouse folder admits one process, and this process already
holds it (the loader wrote the raw tables). dbt-spark's `session` method takes the running
session (SparkSession.builder.getOrCreate), so dbt runs here through dbtRunner
(loyalty.dbt.run_dbt_in_process, as on DuckDB: one parse per run, the same environment,
profile, target/log folder and one-sentence failures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loyalty.dbt import DbtResult, run_dbt_in_process
from loyalty.spark.session import get_session


def run_dbt_in_session(
    args: list[str],
    warehouse: Path,
    *,
    variables: dict[str, Any] | None = None,
    check: bool = True,
) -> DbtResult:
    """`dbt <args> --target spark` in-process; raise BuildError naming the failed nodes when check and dbt fails."""
    get_session(warehouse)  # start (or reuse) the session dbt-spark will pick up
    return run_dbt_in_process(args, warehouse, variables=variables, target="spark", check=check)
