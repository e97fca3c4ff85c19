"""What every engine shares (loyalty.engines.base): where the published warehouse is."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty.engines import get_engine
from loyalty.project import project_dir


@pytest.mark.parametrize(("target", "default"), [("duckdb", "build/loyalty.duckdb"), ("spark", "build/loyalty-spark")])
def test_the_warehouse_is_the_argument_else_the_env_var_else_the_engines_default(
    target: str, default: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine(target)
    monkeypatch.delenv("LOYALTY_WAREHOUSE", raising=False)
    assert engine.warehouse_path(None) == (project_dir() / default).resolve()
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(tmp_path / "from-env"))
    assert engine.warehouse_path(None) == tmp_path / "from-env"
    assert engine.warehouse_path(tmp_path / "x" / ".." / "given") == tmp_path / "given"
