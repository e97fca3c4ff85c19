"""loyalty.dbt runs dbt in the run's process: the environment and folder it sets for dbt are put back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loyalty.dbt import _environment


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
