"""Run dbt in this process against the Spark session of the warehouse folder.

The DuckDB engine runs dbt as a subprocess (loyalty.dbt). The Spark target cannot: the
embedded metastore of a warehouse folder admits one process, and this process already
holds it (the loader wrote the raw tables). dbt-spark's `session` method takes the
running session (SparkSession.builder.getOrCreate), so dbt runs here through dbtRunner,
with the same environment, profile, target/log folder and one-sentence failures as the
subprocess runner.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loyalty.dbt import DbtResult, dbt_env, failure_sentence, read_run_results, state_dir
from loyalty.errors import BuildError
from loyalty.project import project_dir
from loyalty.spark.session import get_session

# dbt's in-process runner keeps global state (flags, logging): one invocation at a time.
_dbt_lock = threading.Lock()


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_dbt_in_session(
    args: list[str],
    warehouse: Path,
    *,
    variables: dict[str, Any] | None = None,
    check: bool = True,
) -> DbtResult:
    """`dbt <args> --target spark` in-process; raise BuildError naming the failed nodes when check and dbt fails."""
    from dbt.cli.main import dbtRunner

    get_session(warehouse)  # start (or reuse) the session dbt-spark will pick up
    project = project_dir()
    command = [*args, "--project-dir", str(project), "--profiles-dir", str(project), "--target", "spark"]
    if variables:
        command += ["--vars", json.dumps(variables)]
    env = dbt_env(warehouse, "spark")
    output = io.StringIO()
    with _dbt_lock, _environment(env), contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        outcome = dbtRunner().invoke(command)
    text = output.getvalue()
    if outcome.exception is not None:
        text += f"\nerror: {outcome.exception}"
    results = read_run_results(state_dir(warehouse) / "target" / "run_results.json")
    result = DbtResult(["dbt", *command], 0 if outcome.success else 1, text, results)
    if check and not outcome.success:
        raise BuildError(
            failure_sentence(args[0] if args else "dbt", result, state_dir(warehouse) / "target" / "manifest.json")
        )
    return result
