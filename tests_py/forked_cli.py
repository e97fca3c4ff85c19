"""`loyalty <args>` in a new process forked from one that has already imported the package.

Every `loyalty run` started as a new interpreter spends ~15-20 s of CPU importing Prefect,
Great Expectations, dbt, pandas and scipy before it reads a row; the suite starts dozens of
them. The tests' `run_cli` (conftest.py) therefore starts each command in a child process
forked from a multiprocessing fork server that imported those modules once (the way a
long-lived worker would run it). The child is still a process of its own, with its own
environment, working folder, stdout and stderr, and it runs the same entry point as the
`loyalty` command (`loyalty.cli:entry`, which calls `main`) to its exit code, atexit handlers included.

Set LOYALTY_TEST_SPAWN=1 to start every command as a new interpreter instead
(`python -m loyalty.cli`), e.g. to rule the fork server out when a test fails.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from multiprocessing.context import ForkServerContext
from pathlib import Path

# what `loyalty run` imports before its first step (module names, imported in the fork server)
PRELOAD = ["forked_cli_preload"]
SPAWN_SETTING = "LOYALTY_TEST_SPAWN"

_context: ForkServerContext | None = None


def _fork_server() -> ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        assert isinstance(context, ForkServerContext)
        context.set_forkserver_preload(PRELOAD)
        _context = context
    return _context


def _child(args: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """In the forked process: the environment, folder and output files of a new process, then
    the CLI's entry point, which ends the process with the command's exit code."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["loyalty", *args]
    from loyalty.cli import entry

    entry(args)  # exit handlers, then os._exit with the command's code


def run_loyalty(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `loyalty <args>` to its end in a new process; stdout and stderr as text."""
    if env.get(SPAWN_SETTING) == "1":
        return subprocess.run(
            [sys.executable, "-m", "loyalty.cli", *args], capture_output=True, text=True, cwd=cwd, env=env
        )
    with tempfile.TemporaryDirectory(prefix="loyalty-cli-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = _fork_server().Process(target=_child, args=(list(args), dict(env), str(cwd), str(out), str(err)))
        process.start()
        process.join()
        assert process.exitcode is not None
        # (a negative exit code -N: killed by signal N, as subprocess reports it)
        return subprocess.CompletedProcess(
            ["loyalty", *args], process.exitcode, out.read_text(errors="replace"), err.read_text(errors="replace")
        )
