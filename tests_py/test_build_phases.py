"""The dbt build phases of a run (inputs, marts, clv) together run every node of the project.

A test whose parents span phases can fall out of every phase's selection (an --exclude drops
it): this pins that nothing is silently skipped, and that no node runs twice.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from loyalty.engines import get_engine
from loyalty.pipeline import BUILD_PHASES

RUN_KINDS = ("model", "test", "snapshot", "seed", "unit_test")


def test_build_phases_run_every_node_exactly_once(fixture_warehouse: Path) -> None:
    target = get_engine("duckdb").state_dir(fixture_warehouse) / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    expected = {
        uid
        for section in ("nodes", "unit_tests")
        for uid, node in manifest[section].items()
        # (tests of a model disabled by config, e.g. the subscription marts without --subscriptions,
        # stay in the manifest's nodes with enabled: false; dbt never runs them)
        if node["resource_type"] in RUN_KINDS
        and node["package_name"] == "loyalty"
        and node["config"].get("enabled", True)
    }
    ran: Counter[str] = Counter()
    for phase in BUILD_PHASES:
        results = json.loads((target / f"run_results_{phase}.json").read_text())["results"]
        ran.update(r["unique_id"] for r in results)
        # saved queries and exposures are listed too, as "no-op": only what runs must pass
        assert all(r["status"] in ("success", "pass") for r in results if r["unique_id"].split(".")[0] in RUN_KINDS), (
            phase
        )
    assert sorted(expected - set(ran)) == []
    assert sorted(uid for uid, n in ran.items() if n > 1) == []
    assert len(expected) > 100  # the project's models, tests and unit tests, not an empty manifest


def test_unit_tests_setting_is_run_or_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty.errors import LoyaltyError
    from loyalty.pipeline import UNIT_TESTS_SETTING, unit_tests_run

    monkeypatch.delenv(UNIT_TESTS_SETTING, raising=False)
    assert unit_tests_run() is False  # the default: left to CI, as dbt advises for production
    monkeypatch.setenv(UNIT_TESTS_SETTING, " Run ")
    assert unit_tests_run() is True
    monkeypatch.setenv(UNIT_TESTS_SETTING, "skip")
    assert unit_tests_run() is False
    monkeypatch.setenv(UNIT_TESTS_SETTING, "no")
    try:
        unit_tests_run()
    except LoyaltyError as exc:
        assert str(exc) == "LOYALTY_DBT_UNIT_TESTS must be run or skip, not 'no'."
    else:
        raise AssertionError("an unknown value was accepted")
