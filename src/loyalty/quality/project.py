"""Where the Great Expectations project lives: committed in gx/, run beside each warehouse.

gx/ (committed) holds the data source, suites, validation definitions and checkpoints.
A run never writes there: it copies those files to `<warehouse>.gx/` (beside the warehouse
file, like dbt's `<warehouse>.dbt/`), adapts the suites to what that warehouse holds, and
keeps its validation results and Data Docs there. Two runs on different warehouses thus
never share GX state, and the committed suites stay as written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from loyalty.project import project_dir

COMMITTED_PARTS = ("great_expectations.yml", "expectations", "validation_definitions", "checkpoints")
DATA_DOCS_INDEX = Path("uncommitted") / "data_docs" / "local_site" / "index.html"
RESULTS = Path("uncommitted") / "validations"
RESULT_PAGES = Path("uncommitted") / "data_docs" / "local_site" / "validations"
KEEP_RUNS = 30  # validation results (and their Data Docs pages) kept per suite


def committed_project() -> Path:
    return project_dir() / "gx"


def run_project(warehouse: Path) -> Path:
    """The GX project a run on this warehouse uses: `<warehouse>.gx/` beside the file."""
    return warehouse.parent / f"{warehouse.name}.gx"


def data_docs_index(warehouse: Path) -> Path:
    return run_project(warehouse) / DATA_DOCS_INDEX


DATASOURCE_TYPES = ("pandas", "spark", "sql")
_COMMITTED_DATASOURCE = "  warehouse:\n    type: pandas\n"
_COMMITTED_ASSET = "        type: dataframe\n"
#: the query of every asset of a run's SQL data source until the runner sets the suite's own
PLACEHOLDER_QUERY = "select 1 as placeholder"


def prepare_run_project(warehouse: Path, datasource_type: str = "pandas", sql_url: str | None = None) -> Path:
    """Copy the committed configuration into `<warehouse>.gx/` (results there are kept).

    The committed data source `warehouse` is GX's pandas data source. With
    datasource_type "spark" the copy's is GX's Spark data source instead, with the same
    assets and whole-dataframe batch definitions (names and ids), so that the committed
    validation definitions and checkpoints validate Spark DataFrames unchanged. With "sql"
    it is GX's SQL data source on `sql_url` (the DuckDB file, read-only), each asset a query
    asset of the same name and id (the runner sets each suite's query before its checkpoint
    runs: quality.runner)."""
    if datasource_type not in DATASOURCE_TYPES:
        raise ValueError(f"datasource_type must be one of {DATASOURCE_TYPES}, not {datasource_type!r}")
    source, target = committed_project(), run_project(warehouse)
    target.mkdir(parents=True, exist_ok=True)
    for part in COMMITTED_PARTS:
        src, dst = source / part, target / part
        if dst.is_dir():
            shutil.rmtree(dst)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    if datasource_type == "spark":
        config = target / "great_expectations.yml"
        text = config.read_text()
        if _COMMITTED_DATASOURCE not in text:
            raise ValueError(f"{config} has no pandas data source named warehouse to run on Spark")
        # persist false: GX would cache each whole batch in Spark's memory
        config.write_text(text.replace(_COMMITTED_DATASOURCE, "  warehouse:\n    type: spark\n    persist: false\n"))
        for checkpoint in sorted((target / "checkpoints").glob("*.json")):
            _drop_empty_index_columns(checkpoint)
    if datasource_type == "sql":
        if not sql_url:
            raise ValueError("a SQL data source needs the warehouse's SQLAlchemy URL")
        config = target / "great_expectations.yml"
        text = config.read_text()
        if _COMMITTED_DATASOURCE not in text:
            raise ValueError(f"{config} has no pandas data source named warehouse to run in SQL")
        from loyalty.quality.batches import SQL_CONNECT_ARGS

        kwargs = json.dumps({"connect_args": SQL_CONNECT_ARGS})  # JSON is YAML
        text = text.replace(
            _COMMITTED_DATASOURCE,
            f"  warehouse:\n    type: sql\n    connection_string: {json.dumps(sql_url)}\n"
            f"    create_temp_table: false\n    kwargs: {kwargs}\n",
        )
        text = text.replace(_COMMITTED_ASSET, f"        type: query\n        query: {json.dumps(PLACEHOLDER_QUERY)}\n")
        config.write_text(text)
        for checkpoint in sorted((target / "checkpoints").glob("*.json")):
            _drop_empty_index_columns(checkpoint)
    return target


def _drop_empty_index_columns(checkpoint: Path) -> None:
    """GX 1.24's Spark engine (and, by the same code, its SQL one) fails every map expectation
    of a checkpoint whose result format has `unexpected_index_column_names: []`
    ("unexpected_indices cannot be returned without 'unexpected_index_column_names'"); the
    pandas engine reads the empty list as none. There the empty key is left out, which means
    the same."""
    body = json.loads(checkpoint.read_text())
    result_format = body.get("result_format")
    if isinstance(result_format, dict) and result_format.get("unexpected_index_column_names") == []:
        del result_format["unexpected_index_column_names"]
        checkpoint.write_text(json.dumps(body, indent=2) + "\n")


def import_gx() -> Any:
    """Import great_expectations (~5 s, so only when a check runs) with analytics off.

    With the spark extra installed, GX imports pyspark.sql.connect, whose import takes a
    `__main__` without `__spec__` or `__file__` (`python -c ...`, pytest-xdist's workers) for
    pyspark's own doctest run and calls sys.exit(0) when grpc is missing: the process would
    end silently in the middle of a run. pyspark skips that check in an interactive session
    (`sys.ps1`), so the import runs as one."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    pretend_interactive = not hasattr(sys, "ps1")
    if pretend_interactive:
        sys.ps1 = ""
    try:
        import great_expectations as gx
    finally:
        if pretend_interactive:
            del sys.ps1
    return gx


# GX fingerprints every pandas batch below this many bytes by hashing all of it (a Data Docs
# batch marker): ~70 s for two 10M-row batches. Small batches keep their fingerprint.
FINGERPRINT_MAX_BYTES = 100_000_000


class _DuckDBDialect(str):
    """A dialect name for GX's list of dialects whose connection it keeps (below)."""

    value = "duckdb"


def _keep_duckdb_connection() -> None:
    """GX 1.24's SQL engine reads a query's results after closing its SQLAlchemy connection,
    and with duckdb-engine the connection is the cursor: every expectation would fail with
    an error. GX keeps one connection open for the dialects it lists in
    `_PERSISTED_CONNECTION_DIALECTS` (SQLite, SQL Server, BigQuery, Databricks); DuckDB joins
    them (great_expectations issue 11579, open). quality.runner closes it after each phase."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    listed = engine._PERSISTED_CONNECTION_DIALECTS
    if "duckdb" not in listed:
        engine._PERSISTED_CONNECTION_DIALECTS = (*listed, _DuckDBDialect("duckdb"))


def open_context(root: Path) -> Any:
    gx = import_gx()
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = FINGERPRINT_MAX_BYTES
    _keep_duckdb_connection()
    return gx.get_context(mode="file", context_root_dir=str(root))


def close_sql_connections(datasource: Any) -> None:
    """Close the connection GX's SQL data source keeps (the file is then free for the run's
    next step, which opens it for writing) and dispose of its engine."""
    if getattr(datasource, "type", None) != "sql":
        return
    execution_engine = getattr(datasource, "_execution_engine", None)
    if execution_engine is not None:
        connection = getattr(execution_engine, "_connection", None)
        if connection is not None:
            connection.close()
            execution_engine._connection = None  # the next checkpoint on this data source connects again
        execution_engine.engine.dispose()
    engine = getattr(datasource, "_engine", None)
    if engine is not None:
        engine.dispose()


def prune_results(root: Path, keep: int = KEEP_RUNS) -> int:
    """Delete all but the latest `keep` validation results of each suite and their pages, so
    that a warehouse validated every day does not make Data Docs slower and slower.
    Layout (GX file stores): <suite>/<run name>/<run time>/<batch>.json|html."""
    removed = 0
    for suite_dir in sorted((root / RESULTS).glob("*/")):
        runs = sorted(suite_dir.glob("*/*/"), key=lambda p: p.name)
        for run in runs[:-keep] if keep else runs:
            relative = run.relative_to(root / RESULTS)
            shutil.rmtree(run, ignore_errors=True)
            shutil.rmtree(root / RESULT_PAGES / relative, ignore_errors=True)
            for folder in (run.parent, (root / RESULT_PAGES / relative).parent):  # a run name (as-of date) left empty
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            removed += 1
    return removed
