"""What a dbt phase did, node by node, for the task log: from dbt's run_results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_run_results(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(path.read_text())["results"])
    except (OSError, ValueError, KeyError):
        return []


def node_lines(results: list[dict[str, Any]]) -> list[str]:
    """One line per node, in the order dbt finished them: status, seconds, kind and name, and
    for failures and warnings dbt's message, e.g. `success  0.42 s  model dim_customers`."""
    lines = []
    for r in results:
        unique_id = str(r.get("unique_id", "?"))
        kind, _, rest = unique_id.partition(".")
        name = rest.split(".", 1)[-1] if "." in rest else rest
        if kind == "test":  # test.loyalty.<name>.<hash>: the readable name, never dbt's hash
            name = name.split(".", 1)[0]
        status = str(r.get("status", "?"))
        seconds = float(r.get("execution_time") or 0.0)
        line = f"{status:<7} {seconds:6.2f} s  {kind} {name}"
        message = " ".join(str(r.get("message") or "").split())
        if status not in ("success", "pass") and message:
            line += f" ({message[:200]})"
        lines.append(line)
    return lines


def phase_summary(phase: str, results: list[dict[str, Any]], left_to_constraints: int = 0) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[str(r.get("status", "?"))] = counts.get(str(r.get("status", "?")), 0) + 1
    total = sum(float(r.get("execution_time") or 0.0) for r in results)
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    summary = f"dbt {phase} phase: {len(results)} nodes ({parts}), {total:.1f} s of node time"
    if left_to_constraints:
        summary += f"; {left_to_constraints} not_null tests left to the tables' NOT NULL constraints"
    return summary + "."


def log_phase_nodes(phase: str, dbt_state: Path, logger: Any, left_to_constraints: list[str] | None = None) -> None:
    """Log the phase's summary and its nodes (dbt's `target/run_results.json` in the run's dbt
    state folder) as one record: the Prefect UI shows every line; the CLI's progress shows the
    first (the summary). left_to_constraints: the data tests the phase left to the engine's
    constraints (loyalty.pipeline.constrained_tests_run), listed after the nodes."""
    results = read_run_results(dbt_state / "target" / "run_results.json")
    skipped = left_to_constraints or []
    if results:
        lines = [phase_summary(phase, results, len(skipped)), *(f"  {line}" for line in node_lines(results))]
        lines += [f"  constraint  test {name}" for name in skipped]
        logger.info("\n".join(lines))
