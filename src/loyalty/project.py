"""Where things are: the dbt project, the default warehouse file, the shared data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_WAREHOUSE = Path("build") / "loyalty.duckdb"


def project_dir() -> Path:
    """The dbt project (repository root). LOYALTY_PROJECT_DIR overrides the lookup."""
    override = os.environ.get("LOYALTY_PROJECT_DIR")
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "dbt_project.yml").is_file():
            return parent
    raise FileNotFoundError("Could not find dbt_project.yml above the loyalty package; set LOYALTY_PROJECT_DIR.")


def warehouse_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The DuckDB file: the explicit argument, else $LOYALTY_WAREHOUSE, else build/loyalty.duckdb."""
    if explicit:
        return Path(explicit).resolve()
    env = os.environ.get("LOYALTY_WAREHOUSE")
    if env:
        return Path(env).resolve()
    return (project_dir() / DEFAULT_WAREHOUSE).resolve()


def dbt_vars(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project's dbt vars (dbt_project.yml) with run-time overrides applied, as dbt sees them."""
    import yaml

    with open(project_dir() / "dbt_project.yml") as handle:
        declared = yaml.safe_load(handle).get("vars") or {}
    return {**declared, **(overrides or {})}
