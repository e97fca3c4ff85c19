"""Where things are: the dbt project and its vars (the warehouse paths are the engines', loyalty.engines)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

MARTS_SCHEMA = "marts"  # the schema of the tables analysts read
CSI_WEIGHTS_SEED = Path("seeds") / "csi_weights.csv"  # the attributes of the satisfaction index


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


def dbt_vars(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project's dbt vars (dbt_project.yml) with run-time overrides applied, as dbt sees them."""
    import yaml

    with open(project_dir() / "dbt_project.yml") as handle:
        declared = yaml.safe_load(handle).get("vars") or {}
    return {**declared, **(overrides or {})}


def csi_attributes() -> list[str]:
    """The attributes of the customer satisfaction index: the `attribute` column of the seed
    (read by the survey loader and the sample generator alike)."""
    with open(project_dir() / CSI_WEIGHTS_SEED, newline="", encoding="utf-8") as handle:
        return [row["attribute"].strip().lower() for row in csv.DictReader(handle)]
