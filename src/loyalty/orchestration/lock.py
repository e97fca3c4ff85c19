"""One writer per warehouse: an exclusive file lock beside the warehouse file.

`loyalty run` (a Prefect flow run), a scheduled deployment run and a backfill can all point
at the same warehouse. DuckDB itself allows one writing process per file, but it fails at
once instead of waiting, and between two of our steps (load, dbt, GX, CLV) the file is free,
so two runs could interleave their steps and leave marts built from two different inputs.
The lock is held for the whole run: a second run waits up to `timeout` seconds and then
fails with one sentence naming the run that holds it.

The lock is `flock(2)` on `<warehouse>.lock`: the kernel releases it when the holding process
ends, even if it is killed, so a crashed run never leaves a stale lock behind. The file is
never deleted (deleting a lock file that another process is waiting on would let a third
process lock a new file of the same name). It holds a line of JSON naming the holder.

Within one thread the lock is re-entrant, so a backfill can hold it across the runs it makes.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loyalty.errors import LoyaltyError

POLL_SECONDS = 0.5


class WarehouseBusyError(LoyaltyError):
    """Another run held the warehouse lock for longer than this run was willing to wait."""

    exit_code = 75  # EX_TEMPFAIL: try again later


def lock_path(warehouse: Path) -> Path:
    """`build/loyalty.duckdb` -> `build/loyalty.duckdb.lock` (also for a Spark warehouse folder)."""
    return warehouse.parent / f"{warehouse.name}.lock"


@dataclass
class LockInfo:
    """Who holds (or last held) the lock, as written in the lock file."""

    pid: int | None = None
    host: str | None = None
    run: str | None = None
    since: str | None = None

    def describe(self) -> str:
        who = self.run or "another run"
        parts = [
            p
            for p in (f"pid {self.pid}" if self.pid else None, self.host, f"since {self.since}" if self.since else None)
            if p
        ]
        return f"{who} ({', '.join(parts)})" if parts else who


def read_holder(warehouse: Path) -> LockInfo:
    """The holder recorded in the lock file (empty when no run has written one)."""
    try:
        data: dict[str, Any] = json.loads(lock_path(warehouse).read_text() or "{}")
    except (OSError, ValueError):
        return LockInfo()
    return LockInfo(pid=data.get("pid"), host=data.get("host"), run=data.get("run"), since=data.get("since"))


def is_locked(warehouse: Path) -> bool:
    """True when some open file description holds the lock (another process, or this one)."""
    path = lock_path(warehouse)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock if it got one
    return False


_held: dict[tuple[Path, int], int] = {}
_held_guard = threading.Lock()


@contextmanager
def warehouse_lock(
    warehouse: Path,
    *,
    timeout: float,
    run_name: str | None = None,
    on_wait: Callable[[LockInfo], None] | None = None,
) -> Iterator[float]:
    """Hold the warehouse's lock for the body; yield the seconds spent waiting for it.

    Waits at most `timeout` seconds (0: do not wait) for another holder to finish, calling
    `on_wait(holder)` once when it has to wait, then raises WarehouseBusyError.
    """
    path = lock_path(warehouse)
    key = (path.resolve(), threading.get_ident())
    with _held_guard:
        if key in _held:  # re-entered by the same thread (a backfill's runs)
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield 0.0
        finally:
            with _held_guard:
                _held[key] -= 1
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started = time.monotonic()
        told = False
        attempts = 0
        while True:
            attempts += 1
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                holder = read_holder(warehouse)
                if waited >= timeout:
                    raise WarehouseBusyError(
                        f"The warehouse {warehouse} is in use by {holder.describe()}; "
                        f"gave up after waiting {waited:.0f} s (raise the lock timeout to wait longer)."
                    ) from None
                if not told and on_wait is not None:
                    on_wait(holder)
                    told = True
                time.sleep(min(POLL_SECONDS, max(timeout - waited, 0.01)))
        waited = 0.0 if attempts == 1 else time.monotonic() - started
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run": run_name,
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        with _held_guard:
            _held[key] = 1
        try:
            yield waited
        finally:
            with _held_guard:
                del _held[key]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
