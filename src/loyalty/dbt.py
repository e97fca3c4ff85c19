"""Run dbt as a subprocess against the committed project and profile.

dbt runs in its own process (not dbtRunner) because dbt-duckdb keeps the DuckDB file open
for the life of the process, which would stop later steps from reading the warehouse.
Each warehouse (a run's work file, loyalty.engines) gets its own dbt target/log folder
beside it, so that two runs on different warehouses never share dbt's state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loyalty.errors import BuildError
from loyalty.project import project_dir


@dataclass
class DbtResult:
    command: list[str]
    returncode: int
    output: str
    results: list[dict[str, Any]]


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def state_dir(warehouse: Path) -> Path:
    """dbt's target and log folder for this warehouse (beside the warehouse file)."""
    return warehouse.parent / f"{warehouse.name}.dbt"


def dbt_env(warehouse: Path, target: str = "duckdb") -> dict[str, str]:
    env = dict(os.environ)
    env["LOYALTY_WAREHOUSE"] = str(warehouse)
    env["LOYALTY_TARGET"] = target
    env["DBT_TARGET_PATH"] = str(state_dir(warehouse) / "target")
    env["DBT_LOG_PATH"] = str(state_dir(warehouse) / "logs")
    env["DBT_USE_COLORS"] = "false"
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def run_dbt(
    args: list[str],
    warehouse: Path,
    *,
    variables: dict[str, Any] | None = None,
    target: str = "duckdb",
    check: bool = True,
) -> DbtResult:
    """Run `dbt <args>`; raise BuildError naming the failed nodes when check and dbt fails."""
    project = project_dir()
    command = [dbt_executable(), *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    if variables:
        command += ["--vars", json.dumps(variables)]
    env = dbt_env(warehouse, target)
    results_path = state_dir(warehouse) / "target" / "run_results.json"
    results_path.unlink(missing_ok=True)  # a failure before any node must not quote an older run
    proc = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    results = read_run_results(results_path)
    result = DbtResult(command, proc.returncode, output, results)
    if check and proc.returncode != 0:
        raise BuildError(failure_sentence(args[0] if args else "dbt", result))
    return result


def read_run_results(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(path.read_text())["results"])
    except (OSError, ValueError, KeyError):
        return []


def failure_sentence(verb: str, result: DbtResult) -> str:
    failed = [r for r in result.results if r.get("status") in ("error", "fail", "runtime error")]
    if failed:
        parts = []
        for r in failed[:5]:
            node = str(r.get("unique_id", "?")).split(".")[-1]
            message = " ".join(str(r.get("message") or "").split())[:300]
            parts.append(f"{node} ({message})")
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        return f"dbt {verb} failed: {'; '.join(parts)}{more}."
    # dbt stopped before running nodes (compilation or parsing error): quote its error lines
    lines = [ln.strip() for ln in result.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    detail = " ".join((errors or lines)[-3:])[:600]
    return f"dbt {verb} failed: {detail}"
