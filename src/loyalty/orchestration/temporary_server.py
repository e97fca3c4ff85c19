"""A temporary Prefect server for a `loyalty` command run without a Prefect API configured.

Without PREFECT_API_URL, Prefect starts a temporary server itself (its SubprocessASGIServer)
when the flow is called: after the command's imports, and only after importing the whole
server into the command's own process as well (~5 s). On this project's 2-core machine that
cost a run ~20 s before its first step. `ensure_prefect_api` starts the same server (the
same uvicorn command and settings) as the command's first act, and the command imports dbt,
Great Expectations and pandas while it boots on the other core.

While the command imports, a thread waits for the server to answer and then sends it the
first queries of a flow run's start (TemporaryServer.warm_up): the first request of each kind
takes a new server ~0.2 s (its database and routes are set up on first use), time that now
passes on the server's core during the imports instead of at the flow's start.

The server is the command's child: it stops when the command ends, and on Linux it also dies
with the command when the command is killed (PR_SET_PDEATHSIG), so no server is left behind.
With PREFECT_API_URL set (`prefect server start`, Prefect Cloud) nothing is started.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

from loyalty.errors import LoyaltyError

STARTUP_TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
# The temporary server takes ~6 s to start on an idle 2-core machine and over 20 s (Prefect's
# default limit) on a busy one: this limit, unless STARTUP_TIMEOUT_SETTING says otherwise.
STARTUP_TIMEOUT_DEFAULT_SECONDS = "120"
_PR_SET_PDEATHSIG = 1
# read-only requests that set up on a new server what a flow run's start asks of it first (the
# client's version check, then creating the flow and the flow run): measured, the first of each
# took ~0.2 s, a later one <0.03 s
WARM_UP_REQUESTS: tuple[tuple[str, str, dict[str, int] | None], ...] = (
    ("GET", "/admin/version", None),
    ("POST", "/flow_runs/filter", {"limit": 1}),
    ("POST", "/flows/filter", {"limit": 1}),
)


class TemporaryServerError(LoyaltyError):
    """The temporary Prefect server did not start."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryServer:
    """One `uvicorn prefect.server.api.server:create_app` child process, as Prefect starts it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.errors: IO[bytes] | None = None  # the server's stderr, from start() to stop()
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        import prefect
        from prefect.settings import get_current_settings

        self.port = _free_port()
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        env = {
            **os.environ,
            # what Prefect's SubprocessASGIServer sets: no UI, no background services
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        command = [
            sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
            "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
            "--port", str(self.port), "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        # its error output goes to a file, not a pipe: a pipe nobody reads while the run goes on
        # would block the server once full
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.errors,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509 - no threads yet
        )

    def wait_until_healthy(self, timeout: float) -> None:
        """Return once GET /api/health answers 200; TemporaryServerError after `timeout` s or
        when the server exits."""
        assert self.process is not None and self.errors is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.errors.seek(0)
                detail = self.errors.read().decode(errors="replace")
                last = " ".join(detail.strip().splitlines()[-1:])[:300]
                raise TemporaryServerError(
                    f"Prefect's temporary local server exited with code {self.process.returncode}"
                    + (f" ({last})" if last else "")
                    + "; start one with `prefect server start` and set PREFECT_API_URL."
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TemporaryServerError(
            f"Prefect's temporary local server did not start within {timeout:.0f} s; start one with "
            f"`prefect server start` and set PREFECT_API_URL, or raise {STARTUP_TIMEOUT_SETTING}."
        )

    def warm_up(self) -> list[int]:
        """Send WARM_UP_REQUESTS; their HTTP statuses (0: no answer). Nothing is written."""
        statuses = []
        for method, path, body in WARM_UP_REQUESTS:
            request = urllib.request.Request(
                f"{self.api_url}{path}",
                method=method,
                data=None if body is None else json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
                    statuses.append(int(response.status))
            except (urllib.error.URLError, OSError):
                statuses.append(0)  # the flow's own requests will say what is wrong
        return statuses

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.errors is not None:
            self.errors.close()
            self.errors = None
        self.process = None


_started: list[TemporaryServer] = []
READY_THREAD_NAME = "temporary-prefect-server-ready"


class _Readiness(threading.Thread):
    """Waits until the server answers, then warms it up; keeps the error for the main thread."""

    def __init__(self, server: TemporaryServer, timeout: float) -> None:
        super().__init__(name=READY_THREAD_NAME, daemon=True)
        self.server = server
        self.timeout = timeout
        self.error: TemporaryServerError | None = None

    def run(self) -> None:
        try:
            self.server.wait_until_healthy(self.timeout)
        except TemporaryServerError as exc:
            self.error = exc
            return
        self.server.warm_up()


def temporary_server_address() -> str | None:
    """http://127.0.0.1:PORT of the temporary server this process started, if any (its UI is
    off and it stops with the process: links to it are of no use to a reader of the output)."""
    return _started[0].api_url.removesuffix("/api") if _started else None


def ensure_prefect_api(preload: Callable[[], None] | None = None) -> str:
    """The Prefect API this command's flow runs report to: the configured one, else a temporary
    server started now and stopped when the process exits. `preload` (the run's heavy imports)
    runs while the server boots.

    The temporary server's URL is set as PREFECT_API_URL for the rest of the process: Prefect's
    background workers (run logs, events) and its exit handlers, which flush them, must all
    find it; it stops after them (atexit runs in reverse order of registration)."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    if configured:
        if preload is not None:
            preload()
        return str(configured)
    server = TemporaryServer()
    server.start()
    atexit.register(server.stop)
    _started.append(server)
    ready = _Readiness(server, float(os.environ.get(STARTUP_TIMEOUT_SETTING, STARTUP_TIMEOUT_DEFAULT_SECONDS)))
    ready.start()
    if preload is not None:
        preload()
    ready.join()
    if ready.error is not None:
        raise ready.error
    os.environ["PREFECT_API_URL"] = server.api_url
    refresh_global_settings_context()  # every thread's client (logs, events) uses it
    return server.api_url
