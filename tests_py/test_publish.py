"""Write, audit, publish: a run never changes the published warehouse until it has passed.

The engine tests work on real DuckDB files and real reader processes, without dbt. The run
tests (marked slow) start real `loyalty run` processes, SIGKILL their process group at each
step boundary and at random moments, and compare the published file, table by table, with
the last good run's (or, once a run has published, with a reference build of its input).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import FIXTURES, REPO
from loyalty.engines import get_engine
from loyalty.engines.base import read_state
from loyalty.engines.duckdb import work_folder
from loyalty.pipeline import RunConfig

DUCKDB = get_engine("duckdb")
WAIT_LIMIT_S = 900


# ---------------------------------------------------------------- helpers


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(path: Path, schemas: tuple[str, ...] = ("raw", "marts", "snapshots", "clv")) -> dict[str, list[str]]:
    """Every base table of the schemas, as sorted rows (repr of each row)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' order by 1, 2"
            ).fetchall()
            if s in schemas
        ]
        return {name: sorted(repr(row) for row in con.execute(f"select * from {name}").fetchall()) for name in names}
    finally:
        con.close()


def make_work(warehouse: Path, customers: list[str]) -> Path:
    """A work file holding marts.dim_customers with these customers (what a run would build)."""
    work = DUCKDB.work_path(warehouse)
    work.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(work))
    try:
        con.execute("create schema if not exists marts")
        con.execute("create or replace table marts.dim_customers (customer_id varchar)")
        con.executemany("insert into marts.dim_customers values (?)", [[c] for c in customers])
    finally:
        con.close()
    return work


def customers_in(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("select customer_id from marts.dim_customers order by 1").fetchall()]
    finally:
        con.close()


READER = """
import duckdb, sys
path = sys.argv[1]
con = duckdb.connect(path, read_only=True)
for line in sys.stdin:
    if line.strip() == "reconnect":
        con.close()
        con = duckdb.connect(path, read_only=True)
    print(",".join(r[0] for r in con.execute("select customer_id from marts.dim_customers order by 1").fetchall()),
          flush=True)
"""


class Reader:
    """An analyst's tool in another process, holding a read-only connection open."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", READER, str(path)], text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def ask(self, command: str = "read") -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> int:
        self.proc.communicate(timeout=60)
        return self.proc.returncode


# ---------------------------------------------------------------- the engine, without dbt


def test_publish_replaces_the_published_file_with_the_work_file_and_marks_it_clean(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    assert DUCKDB.prepare(warehouse) == []  # a new warehouse: nothing to restore
    assert read_state(work_folder(warehouse)) == "dirty"
    make_work(warehouse, ["a", "b"])
    assert not warehouse.exists()  # nothing is published before publish
    DUCKDB.publish(warehouse)
    assert customers_in(warehouse) == ["a", "b"]
    assert read_state(work_folder(warehouse)) == "clean"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb", "w.duckdb.work"]  # no temp file left


def test_a_reader_of_the_published_file_keeps_its_version_until_it_reconnects(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    DUCKDB.prepare(warehouse)
    make_work(warehouse, ["a"])
    DUCKDB.publish(warehouse)
    reader = Reader(warehouse)
    try:
        assert reader.ask() == "a"
        DUCKDB.prepare(warehouse)  # the reader holds the published file: the run is not blocked
        make_work(warehouse, ["a", "b", "c"])
        DUCKDB.publish(warehouse)
        assert reader.ask() == "a"  # the old version, whole
        assert reader.ask("reconnect") == "a,b,c"
    finally:
        assert reader.close() == 0


def test_a_dirty_work_file_is_restored_from_the_published_one(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    DUCKDB.prepare(warehouse)
    make_work(warehouse, ["a"])
    DUCKDB.publish(warehouse)
    published = sha256(warehouse)
    DUCKDB.prepare(warehouse)
    make_work(warehouse, ["x", "y"])  # a run wrote its work file, then failed or was killed
    assert read_state(work_folder(warehouse)) == "dirty"
    done = DUCKDB.prepare(warehouse)
    assert done == [
        f"Restored the work file from the published warehouse {warehouse} (the last run on it did not publish)."
    ]
    assert customers_in(DUCKDB.work_path(warehouse)) == ["a"]
    assert sha256(warehouse) == published  # the published file was only read


def test_a_dirty_work_file_without_a_published_one_starts_empty(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    DUCKDB.prepare(warehouse)
    make_work(warehouse, ["x"])  # the first run ever was killed before publishing
    assert DUCKDB.prepare(warehouse) == ["Started from an empty work file (there is no published warehouse yet)."]
    assert not DUCKDB.work_path(warehouse).exists()


def test_a_clean_work_file_is_kept_between_runs(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    DUCKDB.prepare(warehouse)
    work = make_work(warehouse, ["a"])
    DUCKDB.publish(warehouse)
    inode = work.stat().st_ino
    assert DUCKDB.prepare(warehouse) == []
    assert work.stat().st_ino == inode  # reused, not copied again (incremental models will rely on it)


def test_copies_left_by_a_killed_publish_are_removed_by_the_next_run(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    DUCKDB.prepare(warehouse)
    make_work(warehouse, ["a"])
    DUCKDB.publish(warehouse)
    stale = tmp_path / ".w.duckdb.publish-123-abcdef12"
    stale.write_bytes(b"half a copy")
    assert DUCKDB.prepare(warehouse) == [f"Removed {stale.name}, left by a run that was stopped while copying."]
    assert not stale.exists()
    assert customers_in(warehouse) == ["a"]


def test_the_engine_resolves_the_warehouse_once_and_refuses_the_other_engines_kind(tmp_path: Path) -> None:
    from loyalty.errors import LoyaltyError

    config = RunConfig(transactions="t.csv", warehouse=tmp_path / "a" / ".." / "w.duckdb")
    assert config.warehouse == tmp_path / "w.duckdb"
    assert config.work == tmp_path / "w.duckdb.work" / "warehouse.duckdb"
    (tmp_path / "folder").mkdir()
    with pytest.raises(LoyaltyError, match="is a folder: the duckdb target needs a DuckDB file"):
        RunConfig(transactions="t.csv", warehouse=tmp_path / "folder")
    (tmp_path / "file").write_text("")
    with pytest.raises(LoyaltyError, match="is a file: the spark target needs a folder"):
        RunConfig(transactions="t.csv", warehouse=tmp_path / "file", target="spark")


# ---------------------------------------------------------------- real runs, killed


STEP_LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<step>[a-z-]+)-[0-9a-f]+: Finished in state Completed")
STEPS_BEFORE_PUBLISH = [
    "prepare-work-location",
    "load-raw-input",
    "dbt-build-inputs",
    "validate-raw-input",
    "dbt-build-marts",
    "fit-clv-models",
    "dbt-build-clv-marts",
    "validate-marts",
]
LENIENT = ("--var", "max_rejected_share=0.5")


def run_args(transactions: Path | str, warehouse: Path, *extra: str) -> list[str]:
    """`loyalty run` as conftest.fixture_warehouse runs it (the new input's reference build)."""
    return [
        sys.executable,
        "-m",
        "loyalty.cli",
        "run",
        "--transactions",
        str(transactions),
        "--customers",
        str(FIXTURES / "customers.csv"),
        "--warehouse",
        str(warehouse),
        *LENIENT,
        *extra,
    ]


def run(args: list[str], *, kill_after: str | None = None, kill_at: float | None = None) -> dict[str, Any]:
    """Run `loyalty run` in its own process group; SIGKILL the group when the step `kill_after`
    has finished, or `kill_at` seconds after the start. Returns exit code, output, and whether
    the kill happened before the run ended."""
    proc = subprocess.Popen(
        args, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    killed = threading.Event()

    def kill() -> None:
        if proc.poll() is None:
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(kill_at, kill) if kill_at is not None else None
    if timer:
        timer.start()
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        match = STEP_LINE.match(line)
        if kill_after and match and match.group("step") == kill_after:
            kill()
            break
    proc.wait(timeout=WAIT_LIMIT_S)
    if timer:
        timer.cancel()
    return {"code": proc.returncode, "output": "".join(lines), "killed": killed.is_set()}


def marts(path: Path) -> dict[str, list[str]]:
    # rpt_clv_model_fits shows the appended history of fits, which differs between a warehouse
    # with earlier runs and a fresh one; every other mart depends only on the run's input
    return {k: v for k, v in tables(path, ("marts",)).items() if k != "marts.rpt_clv_model_fits"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    lines = (FIXTURES / "transactions.csv").read_text().splitlines()
    old = folder / "old.csv"
    old.write_text("\n".join(lines[:7]) + "\n")  # c1's and c2's rows
    return {"old": old, "new": FIXTURES / "transactions.csv"}


@pytest.fixture(scope="module")
def published(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse whose last good run published the old input."""
    warehouse = tmp_path_factory.mktemp("published") / "w.duckdb"
    result = run(run_args(inputs["old"], warehouse))
    assert result["code"] == 0, result["output"]
    return warehouse


@pytest.fixture(scope="module")
def references(inputs: dict[str, Path], published: Path, fixture_warehouse: Path) -> dict[str, Any]:
    """The marts of each input built on a warehouse of its own: the old one is `published`, the
    new one (tests_py/fixtures) the session's fixture warehouse, built with the same arguments."""
    out = {"old": marts(published), "new": marts(fixture_warehouse)}
    assert out["old"] != out["new"]
    return out


@pytest.mark.slow
def test_a_run_failing_after_the_marts_phase_leaves_the_published_warehouse_unchanged(
    published: Path, inputs: dict[str, Path]
) -> None:
    before, before_tables = sha256(published), tables(published)
    result = run(run_args(inputs["new"], published, "--var", "clv_time_unit=months"))
    assert result["code"] != 0
    assert re.search(r"dbt-build-marts-[0-9a-f]+: Finished in state Completed", result["output"]), result["output"]
    assert "clv_time_unit must be days or weeks" in result["output"]
    assert sha256(published) == before and tables(published) == before_tables


def kill_and_rerun(
    published: Path, inputs: dict[str, Path], references: dict[str, Any], boundaries: list[str], random_kills: int
) -> None:
    """Kill runs of the new input after each step in `boundaries` (the published file must stay
    the old run's, byte for byte), then right after publish (the new marts, whole), then at
    random moments of runs alternating the inputs (always one run's marts, whole); then a run
    to the end, with no repair in between, publishes its input's marts."""
    before, before_tables = sha256(published), tables(published)
    assert marts(published) == references["old"]
    for step in boundaries:
        result = run(run_args(inputs["new"], published), kill_after=step)
        assert result["killed"], f"the run ended before {step} finished:\n{result['output']}"
        assert sha256(published) == before, f"killed after {step}"
        assert tables(published) == before_tables, f"killed after {step}"
        assert read_state(work_folder(published)) == "dirty"
    started = time.monotonic()
    result = run(run_args(inputs["new"], published), kill_after="publish-warehouse")
    seconds = time.monotonic() - started  # about a whole run
    assert result["killed"], result["output"]
    assert marts(published) == references["new"]
    if not random_kills:
        return  # the run killed after publish started from a dirty work file: it needed no repair
    rng = random.Random(20261129)
    for i in range(random_kills):
        name = ("old", "new")[i % 2]
        run(run_args(inputs[name], published), kill_at=rng.uniform(0.1, 1.0) * seconds)
        assert marts(published) in (references["old"], references["new"]), f"random kill {i}"
    result = run(run_args(inputs["old"], published))
    assert result["code"] == 0, result["output"]
    assert marts(published) == references["old"]
    assert read_state(work_folder(published)) == "clean"


@pytest.mark.slow
def test_a_run_killed_after_the_marts_phase_or_before_publish_leaves_the_last_good_marts(
    published: Path, inputs: dict[str, Path], references: dict[str, Any]
) -> None:
    kill_and_rerun(published, inputs, references, ["dbt-build-marts", "validate-marts"], random_kills=0)


@pytest.mark.soak
def test_a_run_killed_at_every_step_and_at_random_moments_leaves_one_runs_marts(
    published: Path, inputs: dict[str, Path], references: dict[str, Any]
) -> None:
    kill_and_rerun(published, inputs, references, STEPS_BEFORE_PUBLISH, random_kills=4)


# ---------------------------------------------------------------- the Spark engine's folder (no JVM needed)


def test_a_spark_warehouse_left_dirty_is_restored_to_the_last_good_run_and_export_refuses_it(
    tmp_path: Path,
) -> None:
    from loyalty.engines.spark import publish_folder
    from loyalty.errors import LoyaltyError

    spark = get_engine("spark")
    warehouse = tmp_path / "spark"
    assert spark.work_path(warehouse) == warehouse  # built in place: Spark's table paths are absolute
    spark.prepare(warehouse)
    (warehouse / "tables").mkdir(parents=True)
    (warehouse / "tables" / "dim_customers").write_text("good run")
    spark.publish(warehouse)
    assert read_state(publish_folder(warehouse)) == "clean"
    assert spark.prepare(warehouse) == []  # keeps a copy of the good run, then the run writes in place
    (warehouse / "tables" / "dim_customers").write_text("half of a failed run")
    (warehouse / "tables" / "fct_transactions").write_text("half of a failed run")
    with pytest.raises(LoyaltyError, match="did not finish: its tables are a mix of two runs"):
        spark.export(warehouse, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert spark.prepare(warehouse) == [
        f"Restored {warehouse} as the last good run left it (the last run did not publish)."
    ]
    assert sorted(p.name for p in (warehouse / "tables").iterdir()) == ["dim_customers"]
    assert (warehouse / "tables" / "dim_customers").read_text() == "good run"
