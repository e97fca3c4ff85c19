"""The dbt build phases of a run (inputs, marts, clv) together run every node of the project.

A test whose parents span phases can fall out of every phase's selection (an --exclude drops
it): this pins that nothing is silently skipped, and that no node runs twice.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from dbt_common.contracts.constraints import ConstraintType

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


def test_constrained_tests_setting_is_run_or_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty.errors import LoyaltyError
    from loyalty.pipeline import CONSTRAINED_TESTS_SETTING, constrained_tests_run

    monkeypatch.delenv(CONSTRAINED_TESTS_SETTING, raising=False)
    assert constrained_tests_run() is False  # the default: left to the engine's constraints
    monkeypatch.setenv(CONSTRAINED_TESTS_SETTING, "RUN")
    assert constrained_tests_run() is True
    monkeypatch.setenv(CONSTRAINED_TESTS_SETTING, "yes")
    with pytest.raises(LoyaltyError) as info:
        constrained_tests_run()
    assert str(info.value) == "LOYALTY_DBT_CONSTRAINED_TESTS must be run or skip, not 'yes'."


def _model(uid: str, materialized: str, enforced: bool, constrained: list[str], other: list[str]) -> SimpleNamespace:
    not_null = [SimpleNamespace(type=ConstraintType.not_null)]
    columns = {name: SimpleNamespace(constraints=not_null) for name in constrained}
    columns.update({name: SimpleNamespace(constraints=[]) for name in other})
    return SimpleNamespace(
        unique_id=uid,
        name=uid.rsplit(".", 1)[-1],
        resource_type="model",
        config=SimpleNamespace(materialized=materialized, enabled=True),
        contract=SimpleNamespace(enforced=enforced),
        columns=columns,
    )


def _test(name: str, kind: str, model: str, column: str | None, enabled: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        resource_type="test",
        test_metadata=SimpleNamespace(name=kind),
        attached_node=model,
        column_name=column,
        config=SimpleNamespace(enabled=enabled),
    )


def test_only_not_null_tests_on_constrained_columns_of_contracted_tables_are_left_to_constraints() -> None:
    from loyalty.dbt import tests_enforced_by_constraints

    nodes = [
        _model("model.p.dim", "table", True, ["id"], ["country"]),
        _model("model.p.fct", "incremental", True, ["id"], []),  # its table may predate the constraint
        _model("model.p.int", "table", False, ["id"], []),  # constraints are not applied without a contract
        _test("not_null_dim_id", "not_null", "model.p.dim", "id"),  # the one left to the constraint
        _test("unique_dim_id", "unique", "model.p.dim", "id"),  # no constraint checks uniqueness here
        _test("not_null_dim_country", "not_null", "model.p.dim", "country"),  # no constraint on the column
        _test("not_null_fct_id", "not_null", "model.p.fct", "id"),
        _test("not_null_int_id", "not_null", "model.p.int", "id"),
        _test("not_null_dim_id_off", "not_null", "model.p.dim", "id", enabled=False),
        _test("not_null_gone", "not_null", "model.p.missing", "id"),
        SimpleNamespace(name="assert_x", resource_type="test", config=SimpleNamespace(enabled=True)),  # singular
    ]
    manifest = SimpleNamespace(nodes={getattr(n, "unique_id", f"test.p.{n.name}"): n for n in nodes})
    assert tests_enforced_by_constraints(manifest) == {"not_null_dim_id": "model.p.dim"}


def test_left_out_tests_join_the_phase_exclusions_or_make_their_own() -> None:
    from loyalty.dbt import with_excluded

    marts = ["build", *BUILD_PHASES["marts"], "--indirect-selection", "buildable"]
    assert with_excluded(marts, ["t1", "t2"]) == [
        "build",
        "--exclude",
        "+int_transactions_validated",
        "source:clv+",
        "t1",
        "t2",
        "--indirect-selection",
        "buildable",
    ]
    assert with_excluded(["build", "--select", "a"], ["t1"]) == ["build", "--select", "a", "--exclude", "t1"]
    assert with_excluded(["build", "--exclude", "a"], []) == ["build", "--exclude", "a"]
