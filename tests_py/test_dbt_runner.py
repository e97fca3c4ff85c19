"""loyalty.dbt runs dbt in the run's process: the environment and folder it sets for dbt are put
back, and a run's vars reach dbt as environment variables (macros/run_var.sql)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

from loyalty.dbt import _environment, dbt_env, dbt_executable, vars_env
from loyalty.project import project_dir


def test_environment_sets_only_changed_keys_and_restores_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOYALTY_KEPT", "a")
    monkeypatch.setenv("LOYALTY_CHANGED", "b")
    monkeypatch.delenv("LOYALTY_ADDED", raising=False)
    before, cwd = dict(os.environ), os.getcwd()
    with _environment({**os.environ, "LOYALTY_CHANGED": "c", "LOYALTY_ADDED": "d"}, tmp_path):
        assert (os.environ["LOYALTY_KEPT"], os.environ["LOYALTY_CHANGED"]) == ("a", "c")
        assert os.environ["LOYALTY_ADDED"] == "d"
        assert os.getcwd() == str(tmp_path)
    assert dict(os.environ) == before
    assert os.getcwd() == cwd


def test_a_runs_vars_reach_dbt_as_environment_variables() -> None:
    variables = {
        "as_of_date": dt.date(2024, 1, 31),
        "active_window_days": 40,
        "churn_model": "bg_nbd",
        "subscriptions_path": None,
    }
    assert vars_env(variables) == {
        "LOYALTY_AS_OF_DATE": "2024-01-31",
        "LOYALTY_VAR_ACTIVE_WINDOW_DAYS": "40",
        "LOYALTY_VAR_CHURN_MODEL": '"bg_nbd"',
        "LOYALTY_VAR_SUBSCRIPTIONS_PATH": "null",
    }
    assert vars_env(None) == {"LOYALTY_AS_OF_DATE": ""}


def test_a_run_ignores_vars_of_the_shell_and_of_earlier_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOYALTY_VAR_ACTIVE_WINDOW_DAYS", "40")  # the caller's shell
    env = dbt_env(tmp_path / "w.duckdb", "duckdb", {"recent_customer_days": 30})
    assert {k: v for k, v in env.items() if k.startswith("LOYALTY_VAR_")} == {"LOYALTY_VAR_RECENT_CUSTOMER_DAYS": "30"}
    with _environment(env):
        assert "LOYALTY_VAR_ACTIVE_WINDOW_DAYS" not in os.environ
        assert os.environ["LOYALTY_VAR_RECENT_CUSTOMER_DAYS"] == "30"
    assert os.environ["LOYALTY_VAR_ACTIVE_WINDOW_DAYS"] == "40"
    assert "LOYALTY_VAR_RECENT_CUSTOMER_DAYS" not in os.environ


def test_run_var_reads_the_environment_then_vars_then_the_project(tmp_path: Path) -> None:
    sql = (
        "select {{ run_var('active_window_days') }} as a, {{ run_var('recent_customer_days') }} as b,"
        " {{ run_var('high_value_share') }} as c, '{{ run_var('business_time_zone') }}' as d"
    )
    env = {
        **dbt_env(tmp_path / "w.duckdb"),
        "LOYALTY_VAR_ACTIVE_WINDOW_DAYS": "40",
        "LOYALTY_VAR_BUSINESS_TIME_ZONE": '"Europe/Berlin"',
    }
    proc = subprocess.run(
        [
            dbt_executable(),
            "compile",
            "--quiet",
            "--inline",
            sql,
            "--vars",
            "{recent_customer_days: 30, active_window_days: 50}",
        ]
        + ["--project-dir", str(project_dir()), "--profiles-dir", str(project_dir())],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the environment wins over --vars (40, not 50); --vars over dbt_project.yml (30, not 90)
    assert proc.stdout.strip() == "select 40 as a, 30 as b, 0.2 as c, 'Europe/Berlin' as d"
