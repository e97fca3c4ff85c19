"""Run dbt against the committed project and profile.

A run's dbt phases run in the run's own process (`run_dbt_in_process`, dbtRunner): the
project is parsed once per run and the parsed manifest is reused by every later phase, which
saves a Python start, dbt's imports (~6 s) and a parse (~4-10 s) per phase. After each
invocation the DuckDB connections dbt-duckdb keeps are closed, so that the next steps (GX,
the CLV step, publish) can open the file in this process. `run_dbt` runs dbt as a subprocess
instead; tests use it to run one-off dbt commands on a warehouse.

Each warehouse (a run's work location, loyalty.engines) gets its own dbt target/log folder
beside it, so that two runs on different warehouses never share dbt's state.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loyalty.duckdb_config import MEMORY_LIMIT_ENV, memory_limit
from loyalty.errors import BuildError
from loyalty.project import project_dir


@dataclass
class DbtResult:
    command: list[str]
    returncode: int
    output: str
    results: list[dict[str, Any]]
    # data tests left out because the warehouse's constraints enforce what they check
    left_to_constraints: list[str] = field(default_factory=list)


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def state_dir(warehouse: Path) -> Path:
    """dbt's target and log folder for this warehouse (beside the warehouse file)."""
    return warehouse.parent / f"{warehouse.name}.dbt"


# The run's as-of date reaches dbt as an environment variable, not as the var as_of_date
# (int_as_of_date reads either), and so does each other var the run sets, as
# LOYALTY_VAR_<NAME> holding its JSON value (macros/run_var.sql reads it), not as --vars: dbt
# parses the whole project again whenever --vars differ from its saved parse (~10 s), but when
# an environment variable changes it re-reads only the files that read it. So runs with
# different settings share one saved parse, and a var that only the Python steps read
# (max_rejected_share, churn_model, ...) costs dbt nothing.
AS_OF_ENV = "LOYALTY_AS_OF_DATE"
VAR_ENV_PREFIX = "LOYALTY_VAR_"


def vars_env(variables: dict[str, Any] | None) -> dict[str, str]:
    """The environment that carries a run's dbt vars ('' = the as-of date is not set)."""
    rest = dict(variables or {})
    as_of = rest.pop("as_of_date", None)
    env = {AS_OF_ENV: "" if as_of is None else str(as_of)}
    for name, value in rest.items():
        env[VAR_ENV_PREFIX + name.upper()] = json.dumps(value, default=str)
    return env


def dbt_env(warehouse: Path, target: str = "duckdb", variables: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment of a dbt command on `warehouse`: os.environ with the project's dbt
    settings and the run's vars (vars_env), and no var of another run or of the caller's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(VAR_ENV_PREFIX)}
    env.update(vars_env(variables))
    env["LOYALTY_WAREHOUSE"] = str(warehouse)
    env["LOYALTY_TARGET"] = target
    env["DBT_TARGET_PATH"] = str(state_dir(warehouse) / "target")
    env["DBT_LOG_PATH"] = str(state_dir(warehouse) / "logs")
    env["DBT_USE_COLORS"] = "false"
    env[MEMORY_LIMIT_ENV] = memory_limit()  # validated here: profiles.yml passes it to DuckDB as is
    # dbt's file log (logs/dbt.log) at info: a line per node and every error. Its default,
    # debug, writes every query and event and costs about a quarter of a build's time
    # (py-spy on the marts phase of the fixture run: 17.9 s -> 13.5 s). Set
    # DBT_LOG_LEVEL_FILE=debug to get the queries back.
    env.setdefault("DBT_LOG_LEVEL_FILE", "info")
    # the captured console log (quoted when dbt fails before running any node) only needs
    # warnings and errors: formatting a start and an end line per node cost ~1 s per run
    env.setdefault("DBT_LOG_LEVEL", "warn")
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
    env = dbt_env(warehouse, target, variables)
    command = [dbt_executable(), *args, *_project_args()]
    target_dir = state_dir(warehouse) / "target"
    (target_dir / "run_results.json").unlink(missing_ok=True)  # a failure before any node must not quote an older run
    proc = subprocess.run(command, cwd=project_dir(), env=env, capture_output=True, text=True)
    return _result(args, command, proc.returncode, proc.stdout + proc.stderr, target_dir, check)


def _project_args() -> list[str]:
    project = str(project_dir())
    return ["--project-dir", project, "--profiles-dir", project]


def _result(
    args: list[str], command: list[str], returncode: int, output: str, target_dir: Path, check: bool
) -> DbtResult:
    """The invocation's DbtResult; BuildError naming the failed nodes when check and dbt failed."""
    result = DbtResult(command, returncode, output, read_run_results(target_dir / "run_results.json"))
    if check and returncode != 0:
        raise BuildError(failure_sentence(args[0] if args else "dbt", result, target_dir / "manifest.json"))
    return result


# dbt's in-process runner keeps global state (flags, logging, adapters): one invocation at a time.
_dbt_lock = threading.Lock()
# parsed manifests of this process, by (target folder, target, vars): a run's phases share one
_manifests: dict[tuple[str, str, str], Any] = {}


@contextlib.contextmanager
def _environment(env: dict[str, str], cwd: Path | None = None) -> Iterator[None]:
    """Set the variables of env that differ (env is os.environ plus dbt's settings, dbt_env) and
    the working folder, and put both back afterwards. Only the changed keys are touched, so the
    run's other threads (Prefect's log shipping) never see an emptied environment."""
    saved = {key: os.environ.get(key) for key, value in env.items() if os.environ.get(key) != value}
    stale = {key: os.environ[key] for key in os.environ if key.startswith(VAR_ENV_PREFIX) and key not in env}
    saved_cwd = os.getcwd()
    os.environ.update({key: env[key] for key in saved})
    for key in stale:
        del os.environ[key]
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.update(stale)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _release_connections() -> None:
    """Close what dbt-duckdb keeps open after an invocation (its DuckDB database stays open for
    the life of the process otherwise, and this process could not open the file again)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import cleanup_connections

    cleanup_connections()
    DuckDBConnectionManager.close_all_connections()
    gc.collect()


PARTIAL_PARSE = "partial_parse.msgpack"


def _parse_cache(target: str, env: dict[str, str]) -> Path:
    """The last parse of the project by any run with this target and the same profile values
    (dbt parses in full when they differ from its saved parse's: the DuckDB file's name, its
    memory limit; dbt-spark's profile check ignores the session's settings, where the Spark
    warehouse folder is named). Runs pass their settings in the environment (vars_env), so
    runs with different settings share one saved parse."""
    keys = () if target == "spark" else ("LOYALTY_WAREHOUSE", MEMORY_LIMIT_ENV)
    profile = "\0".join(env.get(key, "") for key in keys)
    digest = hashlib.sha256(profile.encode()).hexdigest()[:16]
    return project_dir() / "build" / ".dbt-parse-cache" / target / digest / PARTIAL_PARSE


def _seed_partial_parse(target_dir: Path, cache: Path) -> None:
    """A run starts from the last parse of the project by any run with the same profile (dbt
    checks that it still fits: the same dbt version, vars and profile values, and re-reads
    changed files and the files that read a changed environment variable; otherwise it parses
    in full). Saves most of a full parse (~10 s)."""
    if cache.is_file():
        with contextlib.suppress(OSError):
            target_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cache, target_dir / PARTIAL_PARSE)


def _keep_partial_parse(target_dir: Path, cache: Path) -> None:
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{PARTIAL_PARSE}.{os.getpid()}")
        shutil.copyfile(target_dir / PARTIAL_PARSE, tmp)
        os.replace(tmp, cache)  # atomic: a concurrent run reads the old file or the new one


def _invoke(command: list[str], manifest: Any = None) -> tuple[Any, str]:
    from dbt.cli.main import dbtRunner

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        outcome = dbtRunner(manifest=manifest).invoke(command)
    text = output.getvalue()
    if outcome.exception is not None:
        text += f"\nerror: {outcome.exception}"
    return outcome, text


# Commands whose only artifact we need is run_results.json: dbt would also write manifest.json
# twice per invocation (~1 s each for this project) although the parse that made the manifest
# already wrote it; they run with --no-write-json and their run_results.json is written here.
_RESULTS_ONLY = {"build", "run", "test", "seed", "snapshot"}


def _artifact_flags(args: list[str]) -> list[str]:
    return ["--no-write-json"] if args and args[0] in _RESULTS_ONLY else []


def _write_run_results(args: list[str], outcome: Any, path: Path) -> None:
    result: Any = getattr(outcome, "result", None)
    if _artifact_flags(args) and hasattr(result, "write"):
        path.parent.mkdir(parents=True, exist_ok=True)
        result.write(str(path))


def tests_enforced_by_constraints(manifest: Any) -> dict[str, str]:
    """The `not_null` data tests that the warehouse's NOT NULL constraints make redundant.

    A model with an enforced contract is created with its columns' constraints (`create table
    ... (customer_id varchar not null, ...)`, then `insert`): a null in a `not_null`-constrained
    column fails the model's build, so the data test on that column can never fail after it.
    Only models materialized as tables count (every run creates them again, constraints
    included); an incremental model's table may predate a constraint added to its contract
    since, so its tests always run. `manifest` is dbt's parsed Manifest (dbtRunner's parse).
    Returns {test name: unique id of its model}."""
    tests = {}
    for node in manifest.nodes.values():
        metadata = getattr(node, "test_metadata", None)
        if node.resource_type != "test" or metadata is None or metadata.name != "not_null":
            continue
        model = manifest.nodes.get(getattr(node, "attached_node", None) or "")
        column = getattr(node, "column_name", None)
        if model is None or column is None or not node.config.enabled:
            continue
        contract = getattr(model, "contract", None)
        rebuilt_with_constraints = model.config.materialized == "table" and contract is not None and contract.enforced
        if model.resource_type != "model" or not rebuilt_with_constraints:
            continue
        info = model.columns.get(column)
        if info is not None and any(c.type == "not_null" for c in info.constraints):  # (a str Enum)
            tests[node.name] = model.unique_id
    return dict(sorted(tests.items()))


def with_excluded(args: list[str], names: list[str]) -> list[str]:
    """dbt arguments `args` with `names` added to their `--exclude` (or to a new one)."""
    if not names:
        return list(args)
    if "--exclude" not in args:
        return [*args, "--exclude", *names]
    at = args.index("--exclude") + 1
    while at < len(args) and not args[at].startswith("--"):
        at += 1
    return [*args[:at], *names, *args[at:]]


def run_dbt_in_process(
    args: list[str],
    warehouse: Path,
    *,
    variables: dict[str, Any] | None = None,
    target: str = "duckdb",
    check: bool = True,
    skip_tests_enforced_by_constraints: bool = False,
) -> DbtResult:
    """`dbt <args>` in this process (dbtRunner), parsing the project once per (warehouse, target,
    vars) and reusing that manifest; raise BuildError naming the failed nodes when check and dbt fails.

    With skip_tests_enforced_by_constraints, a build or test leaves out the data tests that the
    warehouse's constraints make redundant (tests_enforced_by_constraints); the result lists them."""
    warehouse = Path(os.path.abspath(warehouse))  # dbt runs in the warehouse's folder (below)
    env = dbt_env(warehouse, target, variables)
    common = [*_project_args(), "--target", target]
    target_dir = state_dir(warehouse) / "target"
    results_path = target_dir / "run_results.json"
    # the parse depends on the vars (a model's `enabled`), not on the as-of date (only SQL text)
    run_vars = {name: value for name, value in env.items() if name.startswith(VAR_ENV_PREFIX)}
    key = (str(target_dir), target, json.dumps(run_vars, sort_keys=True))
    cwd = None
    if target != "spark":
        # The profile names the file relative to the warehouse's folder, and dbt runs there: dbt's
        # partial parsing starts over when the profile's connection values change, so with the
        # same relative name every warehouse can reuse the last parse (_seed_partial_parse).
        env["LOYALTY_WAREHOUSE"] = warehouse.name
        cwd = warehouse.parent
    enforced: dict[str, str] = {}
    with _dbt_lock, _environment(env, cwd):
        try:
            results_path.unlink(missing_ok=True)  # a failure before any node must not quote an older run
            manifest = _manifests.get(key)
            if manifest is None:
                cache = _parse_cache(target, env)
                _seed_partial_parse(target_dir, cache)
                parsed, text = _invoke(["parse", *common])
                if parsed.success:
                    manifest = _manifests[key] = parsed.result
                    _keep_partial_parse(target_dir, cache)
            if manifest is not None:
                if skip_tests_enforced_by_constraints and args and args[0] in ("build", "test"):
                    enforced = tests_enforced_by_constraints(manifest)
                    args = with_excluded(args, list(enforced))
                outcome, text = _invoke([*args, *common, *_artifact_flags(args)], manifest)
                success = bool(outcome.success)
                _write_run_results(args, outcome, results_path)
            else:  # the parse failed: its error is the answer
                success = False
        finally:
            if target != "spark":  # dbt-spark's session belongs to the Spark engine (loyalty.spark.session)
                _release_connections()
    result = _result(args, ["dbt", *args, *common], 0 if success else 1, text, target_dir, check)
    # the tests left out of what this invocation built (a test runs with its model)
    built = {str(r.get("unique_id")) for r in result.results}
    result.left_to_constraints = [name for name, model in enforced.items() if model in built]
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
