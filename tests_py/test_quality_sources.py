"""The Great Expectations project a run uses, per engine: the committed one (pandas data
source) on DuckDB; on Spark the same suites, validation definitions and checkpoints with
GX's Spark data source, so that Spark computes the checks (tests_py/test_spark_parity.py
runs both and compares what they find)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from loyalty.quality.batches import relation_sql
from loyalty.quality.project import committed_project, prepare_run_project
from loyalty.quality.spark_source import SparkSource


def _datasource(root: Path) -> dict[str, object]:
    return dict(yaml.safe_load((root / "great_expectations.yml").read_text())["fluent_datasources"]["warehouse"])


def test_spark_run_project_has_the_committed_assets_on_a_spark_data_source(tmp_path: Path) -> None:
    committed = _datasource(committed_project())
    root = prepare_run_project(tmp_path / "spark-warehouse", "spark")
    spark = _datasource(root)
    assert (committed["type"], spark["type"], spark["persist"]) == ("pandas", "spark", False)
    assert spark["id"] == committed["id"] and spark["assets"] == committed["assets"]
    pandas_root = prepare_run_project(tmp_path / "w.duckdb")
    assert _datasource(pandas_root) == committed


def test_spark_checkpoints_leave_out_empty_index_columns_and_keep_the_others(tmp_path: Path) -> None:
    root = prepare_run_project(tmp_path / "spark-warehouse", "spark")
    changed = 0
    for path in sorted((committed_project() / "checkpoints").glob("*.json")):
        committed = json.loads(path.read_text())
        spark = json.loads((root / "checkpoints" / path.name).read_text())
        index = committed["result_format"].get("unexpected_index_column_names")
        if index == []:
            changed += 1
            del committed["result_format"]["unexpected_index_column_names"]
        assert spark == committed, path.name
    assert changed == 2  # raw_transactions and transactions_in_scope have no key column


def test_unknown_data_source_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="datasource_type must be one of"):
        prepare_run_project(tmp_path / "w", "sqlite")


def test_spark_batches_quote_names_with_backticks() -> None:
    catalog = {"marts.dim_customers": ["customer_id", "odd`name", "country"]}
    sql = SparkSource.relation_sql(
        SparkSource.__new__(SparkSource), "marts.dim_customers", ["country", "odd`name"], catalog
    )
    assert sql == "select `odd``name`, `country` from `marts`.`dim_customers`"
    assert relation_sql("marts.dim_customers", ["country"], catalog) == 'select "country" from "marts"."dim_customers"'
