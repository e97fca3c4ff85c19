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
        raise BuildError(failure_sentence(args[0] if args else "dbt", result, results_path.with_name("manifest.json")))
    return result


def read_run_results(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(path.read_text())["results"])
    except (OSError, ValueError, KeyError):
        return []


def _node_name(unique_id: str) -> str:
    """test.loyalty.not_null_x.9ffb551a3b -> not_null_x; model.loyalty.dim_customers -> dim_customers."""
    parts = unique_id.split(".")
    if parts[0] == "unit_test" and len(parts) >= 4:
        return f"{parts[3]} (unit test of {parts[2]})"
    return parts[2] if len(parts) >= 3 else unique_id


def _manifest_nodes(manifest: Path | None) -> dict[str, Any]:
    if manifest is None:
        return {}
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return {}
    return {**data.get("nodes", {}), **data.get("unit_tests", {})}


def _test_meaning(node: dict[str, Any], failures: Any) -> str:
    """What a failed test means for the data, in words, from its kind and arguments."""
    count = f"{failures} " if isinstance(failures, int) and failures > 0 else ""
    meta = node.get("test_metadata") or {}
    kind = meta.get("name")
    kwargs = meta.get("kwargs") or {}
    column = kwargs.get("column_name") or node.get("column_name") or "?"
    model = str(node.get("attached_node") or "?").split(".")[-1]
    if kind == "not_null":
        return f"{model}.{column} must always have a value, but {count}rows have none"
    if kind == "unique":
        return f"{model}.{column} must be unique, but {count}values occur more than once"
    if kind == "accepted_values":
        return f"{model}.{column} holds {count}values outside the accepted list {kwargs.get('values')}"
    if kind == "relationships":
        target = str(kwargs.get("to", "?")).replace("ref('", "").replace("')", "")
        return f"{count}values of {model}.{column} have no match in {target}.{kwargs.get('field', '?')}"
    if kind == "expression_is_true":
        return f"{count}rows of {model} break the rule {kwargs.get('expression', '?')}"
    if kind == "unique_combination_of_columns":
        return f"{model} must have one row per {', '.join(kwargs.get('combination_of_columns') or [])}"
    if node.get("resource_type") == "unit_test":
        described = " ".join(str(node.get("description") or "").split())
        return "the model's output differs from the hand-computed expected rows" + (
            f" ({described[:200]})" if described else ""
        )
    described = " ".join(str(node.get("description") or "").split())
    if not described:  # a singular test: its leading SQL comment says what it checks
        comments = []
        for line in str(node.get("raw_code") or "").splitlines():
            if not line.strip().startswith("--"):
                break
            comments.append(line.strip().lstrip("-").strip())
        described = " ".join(comments)
    described = described[:300].rstrip(". ")
    return f"{count}rows break the check" + (f": {described}" if described else "")


def failure_sentence(verb: str, result: DbtResult, manifest: Path | None = None) -> str:
    """One sentence: each failed node by its readable name (never dbt's hash) and what it means."""
    failed = [r for r in result.results if r.get("status") in ("error", "fail", "runtime error")]
    if failed:
        nodes = _manifest_nodes(manifest)
        parts = []
        for r in failed[:5]:
            unique_id = str(r.get("unique_id", "?"))
            name = _node_name(unique_id)
            node = nodes.get(unique_id, {})
            if unique_id.startswith(("test.", "unit_test.")) and r.get("status") == "fail":
                parts.append(f"test {name} failed: {_test_meaning(node, r.get('failures'))}")
            else:
                message = " ".join(str(r.get("message") or "").split())[:300]
                kind = unique_id.split(".")[0].replace("_", " ")
                parts.append(f"{kind} {name} could not run ({message})")
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        return f"dbt {verb} failed: {'; '.join(parts)}{more}."
    # dbt stopped before running nodes (compilation or parsing error): quote its error lines
    lines = [ln.strip() for ln in result.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    detail = " ".join((errors or lines)[-3:])[:600]
    return f"dbt {verb} failed: {detail}"
