"""The DuckDB memory budget every connection of a run shares (loyalty.duckdb_config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from loyalty.dbt import dbt_env
from loyalty.duckdb_config import MEMORY_LIMIT_ENV, ConfigError, connect, memory_limit
from test_cli_input_errors import assert_one_sentence_error


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "40%"), ("", "40%"), ("8GB", "8GB"), ("512MiB", "512MiB"), (" 25% ", " 25% "), ("1.5gb", "1.5gb")],
)
def test_memory_limit_accepts_sizes_and_percentages(monkeypatch, value, expected) -> None:
    if value is None:
        monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    else:
        monkeypatch.setenv(MEMORY_LIMIT_ENV, value)
    assert memory_limit() == expected.strip()


@pytest.mark.parametrize("value", ["lots", "8", "0%", "0GB", "-1GB", "8 GB; drop table x", "epoch"])
def test_memory_limit_refuses_what_is_not_a_size(monkeypatch, value) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, value)
    with pytest.raises(ConfigError, match="is not a memory size"):
        memory_limit()


def test_connections_and_dbt_get_the_budget(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "512MiB")
    con = connect(tmp_path / "w.duckdb")
    try:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("512.0 MiB",)
    finally:
        con.close()
    read_only = connect(tmp_path / "w.duckdb", read_only=True)  # a SET works on a read-only connection too
    try:
        assert read_only.execute("select current_setting('memory_limit')").fetchone() == ("512.0 MiB",)
    finally:
        read_only.close()
    assert dbt_env(tmp_path / "w.duckdb")[MEMORY_LIMIT_ENV] == "512MiB"  # profiles.yml passes it to DuckDB


def test_a_run_with_a_bad_budget_stops_in_one_sentence(tmp_path: Path) -> None:
    proc = run_cli(
        "run",
        "--transactions",
        str(FIXTURES / "transactions.csv"),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        env={MEMORY_LIMIT_ENV: "plenty"},
        check=False,
    )
    assert_one_sentence_error(proc, "LOYALTY_DUCKDB_MEMORY_LIMIT='plenty' is not a memory size")
    assert not (tmp_path / "w.duckdb").exists()


def test_dbt_connections_get_the_same_budget_as_the_runs_own(tmp_path: Path) -> None:
    """profiles.yml hands the budget to dbt's DuckDB connections: a real dbt query (in process,
    as a run's phases) reads back what a connection of loyalty.duckdb_config has. The default
    budget keeps the profile of the suite's other runs on `w.duckdb`, so dbt's parse is partial."""
    from loyalty.dbt import run_dbt_in_process

    with connect(tmp_path / "own.duckdb") as own:
        expected = own.execute("select current_setting('memory_limit')").fetchone()[0]  # type: ignore[index]  # fetchone() is Optional; a select of a setting returns a row
    shown = run_dbt_in_process(
        ["show", "--inline", "select current_setting('memory_limit') as budget", "--output", "json"],
        tmp_path / "w.duckdb",
    )
    assert f'"budget": "{expected}"' in shown.output, shown.output
