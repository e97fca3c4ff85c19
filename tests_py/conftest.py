"""Shared fixtures: real warehouses built once per test session by the real CLI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from filelock import FileLock

from forked_cli import run_loyalty
from loyalty.clv.summary import summarize_transactions
from loyalty.pipeline import CONSTRAINED_TESTS_SETTING, UNIT_TESTS_SETTING

# dbt's unit tests check the models' code on fixed rows: the suite runs them once, in the run of
# `fixture_warehouse` (test_build_phases.py checks that every one of them ran and passed), and
# `make dbt-test` runs them again; the suite's other runs leave them out (README, "Development").
os.environ.setdefault(UNIT_TESTS_SETTING, "skip")
# Likewise the not_null tests that the marts' NOT NULL constraints enforce (a run's default:
# left out on DuckDB): the fixture's run runs them, the others leave them out as production does.
os.environ.setdefault(CONSTRAINED_TESTS_SETTING, "skip")
# No dbt file log in the suite's runs (no test reads it): dbt's file logger formats every event,
# debug ones included, before its level filter. A 1,000-row run with it at info, the runs'
# default (loyalty.dbt.dbt_env), and without it, five alternated pairs: 46.6 s against 43.1 s
# mean wall, 56.1 s against 53.0 s CPU.
os.environ.setdefault("DBT_LOG_LEVEL_FILE", "none")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# the public CDNOW sample, shipped with the tests (source and published figures: its README.md)
CDNOW_CSV = FIXTURES / "cdnow" / "cdnow_sample_transactions.csv"
CDNOW_AS_OF = "1998-06-30"
# the published calibration period of Fader, Hardie & Lee (2005): 1997-01-01 .. 1997-09-30
CDNOW_CALIBRATION_END = "1997-09-30"
RUN_OUTPUT = "loyalty-run.stdout"  # beside a fixture warehouse: the stdout of the run that built it


# Test tiers (markers registered in pyproject.toml): `make test-fast` runs
# `pytest -m "not spark and not slow"`, `make test` runs everything. A test is `slow` when it
# starts a real run of its own (or its module's): marked with @pytest.mark.slow, or because it
# uses a fixture named here or in its module's SLOW_FIXTURES. The fast tier keeps one real run,
# the session's fixture warehouse, and everything that needs no run.
SLOW_FIXTURES = {"cdnow_warehouse"}  # a full pipeline run of the CDNOW sample with both CLV fits


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start Spark live in tests_py/test_spark*.py: they are `spark`. A test that needs
    the CDNOW warehouse is `slow`: the first one to ask for it pays for a whole pipeline run on
    6,919 transactions with the CLV fits; so is a test using one of its module's SLOW_FIXTURES.
    Other slow tests carry @pytest.mark.slow themselves."""
    for item in items:
        if item.path.name.startswith("test_spark"):
            item.add_marker(pytest.mark.spark)
        slow_fixtures = SLOW_FIXTURES | set(getattr(getattr(item, "module", None), "SLOW_FIXTURES", ()))
        if slow_fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def run_cli(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `loyalty <args>` as a user would, in a process of its own (env: settings on top of
    os.environ). The process is forked from one that has imported the package (forked_cli.py;
    LOYALTY_TEST_SPAWN=1 starts a new interpreter instead)."""
    proc = run_loyalty(list(args), {**os.environ, **(env or {})}, REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"loyalty {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@contextmanager
def connect(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        yield con
    finally:
        con.close()


def cdnow_as_contract(out: Path) -> Path:
    """The CDNOW sample in our input contract: transaction_id = row number, amount = dollar_value."""
    duckdb.sql(
        f"""
        copy (
            select
                'cd' || lpad(cast(row_number() over () as varchar), 6, '0') as transaction_id,
                customer_id,
                date as transacted_at,
                dollar_value as amount,
                number_of_cds as quantity
            from read_csv('{CDNOW_CSV}')
        ) to '{out}' (header true)
        """
    )
    return out


def _start_prefect_server() -> tuple[subprocess.Popen[bytes], Path, str] | None:
    """A real Prefect server on a free port, its home in a temporary folder; None if it does
    not answer within 3 minutes."""
    home = Path(tempfile.mkdtemp(prefix="loyalty-tests-prefect-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    with open(home / "server.log", "wb") as log:  # the server keeps its own descriptor
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("prefect")),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if response.status == 200:
                    return server, home, api
        except OSError:
            pass
        time.sleep(1)
    _stop(server, home)
    return None


def _stop(server: subprocess.Popen[bytes], home: Path) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(home, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    """One real Prefect server for the whole session, started by the main pytest process
    before pytest-xdist starts its workers, so that the workers' in-process flows and each
    `loyalty run` they start report to it (PREFECT_API_URL in the environment they inherit)
    instead of starting a temporary server of their own (~15-20 s each). If it does not come
    up, the runs fall back to their temporary servers, as for a user without a server."""
    if hasattr(config, "workerinput") or os.environ.get("PREFECT_API_URL"):
        return  # an xdist worker (it inherited the server), or a server given from outside
    started = _start_prefect_server()
    if started is not None:
        server, home, api = started
        os.environ["PREFECT_API_URL"] = api
        os.environ["PREFECT_HOME"] = str(home)
        config.stash[_PREFECT_SERVER] = (server, home)


def pytest_unconfigure(config: pytest.Config) -> None:
    started = config.stash.get(_PREFECT_SERVER, None)
    if started is not None:
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.pop("PREFECT_HOME", None)
        _stop(*started)


_PREFECT_SERVER = pytest.StashKey[tuple[subprocess.Popen[bytes], Path]]()


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder `build` fills once per test session, also when pytest-xdist runs the modules
    in several worker processes: the first worker to ask builds it under a file lock in the
    session's shared temporary folder, the others wait for it and use the same folder. (A
    failed build leaves no `done` mark: the next one to ask builds again, from scratch.)"""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # pytest-of-<user>/pytest-N, beside the workers' folders
    folder = shared / f"shared-{name}"
    with FileLock(str(shared / f"shared-{name}.lock")):
        if not (folder / ".done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".done").touch()
    return folder


@pytest.fixture(scope="session")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests_py/fixtures (every kind of bad row) built with the default as-of date."""
    return built_once(tmp_path_factory, "fixtures", _build_fixture_warehouse) / "fixtures.duckdb"


def _build_fixture_warehouse(folder: Path) -> None:
    warehouse = folder / "fixtures.duckdb"
    proc = run_cli(
        "run",
        "--transactions",
        str(FIXTURES / "transactions.csv"),
        "--customers",
        str(FIXTURES / "customers.csv"),
        "--warehouse",
        str(warehouse),
        # the fixture is made of bad rows on purpose (7 of 18 rows up to the as-of date)
        "--var",
        "max_rejected_share=0.5",
        # this run is the one that runs dbt's unit tests and the tests left to constraints by default
        # (test_build_phases.py)
        env={UNIT_TESTS_SETTING: "run", CONSTRAINED_TESTS_SETTING: "run"},
    )
    (warehouse.parent / RUN_OUTPUT).write_text(proc.stdout)  # what the user saw (test_report.py)


@pytest.fixture(scope="session")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cdnow_as_contract(tmp_path_factory.mktemp("cdnow_input") / "cdnow.csv")


@pytest.fixture(scope="session")
def cdnow_warehouse(tmp_path_factory: pytest.TempPathFactory, cdnow_csv: Path) -> Path:
    """The public CDNOW sample built as of 1998-06-30, CLV holdout check calibrated to 1997-09-30,
    with the BG/BB fit on calendar months (dbt var bgbb_period=month) as well."""

    def build(folder: Path) -> None:
        proc = run_cli(
            "run",
            "--transactions",
            str(cdnow_csv),
            "--as-of",
            CDNOW_AS_OF,
            "--calibration-end",
            CDNOW_CALIBRATION_END,
            "--warehouse",
            str(folder / "cdnow.duckdb"),
            "--var",
            "bgbb_period=month",
        )
        (folder / RUN_OUTPUT).write_text(proc.stdout)

    return built_once(tmp_path_factory, "cdnow", build) / "cdnow.duckdb"


# --- CLV model tests (tests_py/clv): the CDNOW sample and its 39-week calibration summary as
# Fader, Hardie & Lee (2005) used it. One conftest for the whole suite: a second conftest.py
# would shadow this one for `from conftest import ...`.


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    raw = pd.read_csv(CDNOW_CSV, dtype={"master_id": str})
    return raw.rename(columns={"date": "transaction_date", "dollar_value": "amount"})


@pytest.fixture(scope="session")
def cdnow_calibration(cdnow_transactions: pd.DataFrame) -> pd.DataFrame:
    """Day-grain summary at 1997-09-30: T = 1997-09-30 - first purchase day."""
    return summarize_transactions(cdnow_transactions, CDNOW_CALIBRATION_END)


@pytest.fixture(scope="session")
def cdnow_weeks(cdnow_calibration: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T) in weeks, as in FHL 2005."""
    s = cdnow_calibration
    return (
        s["frequency"].to_numpy(dtype=float),
        s["recency_days"].to_numpy(dtype=float) / 7.0,
        s["tenure_days"].to_numpy(dtype=float) / 7.0,
    )
