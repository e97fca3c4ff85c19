"""Shared fixtures: real warehouses built once per test session by the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from loyalty.clv.summary import summarize_transactions
from loyalty.pipeline import UNIT_TESTS_SETTING

# dbt's unit tests check the models' code on fixed rows: the suite runs them once, in the run of
# `fixture_warehouse` (test_build_phases.py checks that every one of them ran and passed), and
# `make dbt-test` runs them again; the suite's other runs leave them out (README, "Development").
os.environ.setdefault(UNIT_TESTS_SETTING, "skip")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# the public CDNOW sample, shipped with the tests (source and published figures: its README.md)
CDNOW_CSV = FIXTURES / "cdnow" / "cdnow_sample_transactions.csv"
CDNOW_AS_OF = "1998-06-30"
# the published calibration period of Fader, Hardie & Lee (2005): 1997-01-01 .. 1997-09-30
CDNOW_CALIBRATION_END = "1997-09-30"
RUN_OUTPUT = "loyalty-run.stdout"  # beside a fixture warehouse: the stdout of the run that built it


# Test tiers (markers registered in pyproject.toml): `make test-fast` runs
# `pytest -m "not spark and not slow"`, `make test` runs everything.
SLOW_FIXTURES = {"cdnow_warehouse"}  # a full pipeline run of the CDNOW sample with both CLV fits


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start Spark live in tests_py/test_spark*.py: they are `spark`. A test that needs
    the CDNOW warehouse is `slow`: the first one to ask for it pays for a whole pipeline run on
    6,919 transactions with the CLV fits. Other slow tests carry @pytest.mark.slow themselves."""
    for item in items:
        if item.path.name.startswith("test_spark"):
            item.add_marker(pytest.mark.spark)
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def run_cli(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `loyalty <args>` as a user would, in a separate process (env: settings on top of os.environ)."""
    proc = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
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


@pytest.fixture(scope="session", autouse=True)
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """One real Prefect server for the session, so that each `loyalty run` subprocess reports to
    it instead of starting a temporary server of its own (~20 s each). If it does not come up,
    the runs fall back to their temporary servers, as for a user without a server."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    home = tmp_path_factory.mktemp("prefect_home")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    up = False
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                up = response.status == 200
        except OSError:
            pass
        if up:
            break
        time.sleep(1)
    if up:
        os.environ["PREFECT_API_URL"] = api
        os.environ["PREFECT_HOME"] = str(home)
    try:
        yield api if up else None
    finally:
        if up:
            os.environ.pop("PREFECT_API_URL", None)
            os.environ.pop("PREFECT_HOME", None)
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests_py/fixtures (every kind of bad row) built with the default as-of date."""
    warehouse = tmp_path_factory.mktemp("fixtures") / "fixtures.duckdb"
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
        env={UNIT_TESTS_SETTING: "run"},  # this run is the one that runs dbt's unit tests (test_build_phases.py)
    )
    (warehouse.parent / RUN_OUTPUT).write_text(proc.stdout)  # what the user saw (test_report.py)
    return warehouse


@pytest.fixture(scope="session")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cdnow_as_contract(tmp_path_factory.mktemp("cdnow_input") / "cdnow.csv")


@pytest.fixture(scope="session")
def cdnow_warehouse(tmp_path_factory: pytest.TempPathFactory, cdnow_csv: Path) -> Path:
    """The public CDNOW sample built as of 1998-06-30, CLV holdout check calibrated to 1997-09-30."""
    warehouse = tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb"
    proc = run_cli(
        "run",
        "--transactions",
        str(cdnow_csv),
        "--as-of",
        CDNOW_AS_OF,
        "--calibration-end",
        CDNOW_CALIBRATION_END,
        "--warehouse",
        str(warehouse),
    )
    (warehouse.parent / RUN_OUTPUT).write_text(proc.stdout)
    return warehouse


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
