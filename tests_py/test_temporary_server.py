"""The temporary Prefect server of a `loyalty` command run without PREFECT_API_URL
(loyalty.orchestration.temporary_server): it serves the run's flow, and it never outlives the
command, whether the command ends or is killed."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO

# a command without a Prefect API: starts the temporary server, runs a flow against it, and
# prints the flow's return value, the API URL, the server's process id, the Prefect log workers
# left after the flow, whether the flow's log line reached the server and the flow-run heartbeat
# interval its engine read
COMMAND = """
import os, signal, sys, threading
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.flow_engine import FlowRunEngine
from prefect.logging.handlers import APILogWorker
from loyalty.orchestration import runner, temporary_server

# (during the imports, a thread waits for the server to answer and warms it up)
ready = lambda: any(t.name == temporary_server.READY_THREAD_NAME for t in threading.enumerate())
url = temporary_server.ensure_prefect_api(preload=lambda: print("preloaded", ready(), flush=True))
server = temporary_server._started[0]
print("ready", ready(), flush=True)
print("warm", *server.warm_up(), flush=True)

@flow
def add(a: int, b: int) -> int:
    get_run_logger().info("adding %s and %s", a, b)
    print("heartbeat", FlowRunEngine(flow=add).heartbeat_seconds, flush=True)
    return a + b

print("api", url, os.environ["PREFECT_API_URL"], flush=True)
print("pid", server.process.pid, flush=True)
state = runner._call(add, {"a": 2, "b": 3, "return_state": True})  # as `loyalty run` calls its flow
print("flow", state.result(), flush=True)
# the run's logs are on the server once the call returns, and no log worker is left for the
# interpreter's exit to flush (that flush waited 5 s at the end of every command)
print("workers", len(APILogWorker._instances), flush=True)
run_logs = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
with get_client(sync_client=True) as client:
    logs = client.read_logs(log_filter=run_logs)
print("logged", "adding 2 and 3" in [log.message for log in logs], flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _without_prefect_api(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): count it as gone (its parent, the command, is gone too)
    status = Path(f"/proc/{pid}/status")
    return not (status.is_file() and "\nState:\tZ" in status.read_text())


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


def _run_script(
    code: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`code` as a new Python process without a Prefect API (plus `env`), from the repository."""
    script = tmp_path / "command.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=REPO,
        env={**_without_prefect_api(tmp_path), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _run(mode: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    proc = _run_script(COMMAND, tmp_path, mode)
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    return proc, lines


def test_a_command_without_a_prefect_api_runs_its_flow_on_a_temporary_server_that_ends_with_it(
    tmp_path: Path,
) -> None:
    proc, lines = _run("exit", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert lines["flow"] == "5"
    assert (lines["workers"], lines["logged"]) == ("0", "True")
    assert lines["heartbeat"] == "None"  # nothing reads them on a server that ends with the command
    url, env_url = lines["api"].split()
    assert url == env_url  # every Prefect client of the process (log and event workers too) uses it
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
    assert proc.stdout.splitlines()[0] == "preloaded True"  # the run's imports happen during the boot
    assert lines["ready"] == "False"  # the server answered and was warmed up before the flow
    assert lines["warm"] == "200 200 200"  # the warm-up's requests are ones the server answers
    assert _gone_within(int(lines["pid"]), 10)


def test_a_temporary_server_that_fails_to_start_stops_the_command_in_one_sentence(tmp_path: Path) -> None:
    code = """
        from loyalty.orchestration import temporary_server
        try:
            temporary_server.ensure_prefect_api(preload=lambda: print("preloaded", flush=True))
        except temporary_server.TemporaryServerError as exc:
            print("error", exc)
        """
    # a database the server cannot create: its start-up fails and it exits
    database = f"sqlite+aiosqlite:///{tmp_path}/missing/folder/prefect.db"
    proc = _run_script(code, tmp_path, env={"PREFECT_API_DATABASE_CONNECTION_URL": database})
    assert proc.returncode == 0, proc.stderr
    preloaded, error = proc.stdout.splitlines()
    assert preloaded == "preloaded"  # the imports went on while the server failed
    assert error.startswith("error Prefect's temporary local server exited with code ")
    assert error.endswith("; start one with `prefect server start` and set PREFECT_API_URL.")


@pytest.mark.slow
def test_a_killed_command_takes_its_temporary_server_with_it(tmp_path: Path) -> None:
    proc, lines = _run("kill", tmp_path)
    assert proc.returncode == -signal.SIGKILL
    assert lines["flow"] == "5"
    assert _gone_within(int(lines["pid"]), 10)  # PR_SET_PDEATHSIG: no server left behind


def test_a_configured_prefect_api_is_used_and_nothing_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty.orchestration import temporary_server

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    try:
        preloaded = []
        assert temporary_server.ensure_prefect_api(preload=lambda: preloaded.append(1)) == "http://127.0.0.1:4200/api"
        assert preloaded == [1]
        assert temporary_server.temporary_server_address() is None
        from prefect.flow_engine import FlowRunEngine
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

        from loyalty.orchestration import runner

        with runner.flow_run_settings():  # a real server: Prefect's heartbeats, so it can tell a crashed run
            assert FlowRunEngine(flow=runner.load_flow()).heartbeat_seconds == PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
            assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == 180
    finally:
        monkeypatch.undo()
        refresh_global_settings_context()


def test_progress_lines_leave_out_links_to_the_temporary_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from loyalty.orchestration import temporary_server
    from loyalty.orchestration.runner import _ProgressHandler

    server = temporary_server.TemporaryServer()
    server.port = 8123
    monkeypatch.setattr(temporary_server, "_started", [server])
    out = io.StringIO()
    handler = _ProgressHandler(out)

    def emit(message: str) -> None:
        record = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1, message, None, None)
        record.flow_run_name = "w.duckdb as of 2025-12-31"
        record.created = 0.0
        handler.emit(record)

    emit("View at http://127.0.0.1:8123/runs/flow-run/1")  # dies with the command: left out
    emit("View at http://127.0.0.1:4200/runs/flow-run/2")  # a real server's UI: kept
    emit("Beginning flow run")
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "w.duckdb as of 2025-12-31: View at http://127.0.0.1:4200/runs/flow-run/2",
        "w.duckdb as of 2025-12-31: Beginning flow run",
    ]


def test_the_run_modules_preloaded_by_a_command_are_left_out_of_garbage_collection() -> None:
    """What preload_run_modules imports lives as long as the command: it is frozen (gc.freeze),
    so the run's full collections do not walk it again (a 1,000-row run: ~2 s less). In a new
    interpreter, since freezing is for the whole process."""
    script = textwrap.dedent(
        """
        import gc
        from loyalty.orchestration.runner import preload_run_modules
        before = gc.get_freeze_count()
        preload_run_modules()
        print(before, gc.get_freeze_count(), len(gc.get_objects()))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    before, frozen, tracked = map(int, proc.stdout.split())
    assert before == 0
    assert frozen > 200_000  # dbt, Prefect, GX, pandas and scipy: ~500,000 objects
    assert tracked < frozen / 10  # what a collection still walks afterwards
