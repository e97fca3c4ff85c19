"""scripts/gx_sync.py: the committed GX validation definitions and checkpoints are what GX's API
makes from the suites, and a new suite gets both without hand-made ids."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from conftest import REPO

SCRIPT = REPO / "scripts" / "gx_sync.py"


def gx_sync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO)


def test_committed_gx_project_is_what_gx_sync_makes() -> None:
    proc = gx_sync("--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "in sync" in proc.stdout


def test_new_suite_gets_its_validation_definition_and_checkpoint_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    project = tmp_path / "gx"
    shutil.copytree(REPO / "gx", project, ignore=shutil.ignore_patterns("uncommitted", "assets"))
    suite = json.loads((project / "expectations" / "fct_transactions.json").read_text())
    suite["name"] = "new_mart"
    suite["id"] = None
    suite["meta"] = {"phase": "marts", "relation": "marts.new_mart", "key_columns": ["new_mart_id"]}
    (project / "expectations" / "new_mart.json").write_text(json.dumps(suite, indent=2))

    proc = gx_sync("--project", str(project))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("10 suites")

    config = (project / "great_expectations.yml").read_text()
    saved_suite = json.loads((project / "expectations" / "new_mart.json").read_text())
    definition = json.loads((project / "validation_definitions" / "new_mart.json").read_text())
    checkpoint = json.loads((project / "checkpoints" / "new_mart.json").read_text())
    # GX gave every new object a UUID, and the objects point at each other by it
    for value in (
        saved_suite["id"],
        definition["id"],
        checkpoint["id"],
        definition["data"]["asset"]["id"],
        definition["data"]["batch_definition"]["id"],
    ):
        assert str(uuid.UUID(value)) == value
    assert definition["suite"] == {"id": saved_suite["id"], "name": "new_mart"}
    assert definition["data"]["asset"]["name"] == "new_mart"
    assert definition["data"]["batch_definition"]["name"] == "whole_table"
    assert definition["data"]["datasource"]["name"] == "warehouse"
    assert definition["data"]["asset"]["id"] in config
    assert checkpoint["validation_definitions"] == [{"id": definition["id"], "name": "new_mart"}]
    assert checkpoint["result_format"]["unexpected_index_column_names"] == ["new_mart_id"]
    # the existing objects kept their ids
    before = json.loads((REPO / "gx" / "checkpoints" / "fct_transactions.json").read_text())
    after = json.loads((project / "checkpoints" / "fct_transactions.json").read_text())
    assert after == before

    assert gx_sync("--project", str(project), "--check").returncode == 0
    (project / "checkpoints" / "new_mart.json").unlink()
    proc = gx_sync("--project", str(project), "--check")
    assert proc.returncode == 1
    assert "checkpoints/new_mart.json" in proc.stdout
