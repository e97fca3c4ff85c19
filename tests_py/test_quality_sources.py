"""The Great Expectations project a run uses, per engine: the committed suites, validation
definitions and checkpoints with GX's SQL data source on DuckDB (DuckDB computes the checks;
the committed pandas data source remains for a warehouse path a URL cannot name), and with
GX's Spark data source on Spark, so that Spark computes them
(tests_py/test_spark_parity.py runs both engines and compares what they find)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from loyalty.quality.batches import DuckDBSource, DuckDBSqlSource, relation_sql, source_for, sqlalchemy_url
from loyalty.quality.project import PLACEHOLDER_QUERY, committed_project, prepare_run_project
from loyalty.quality.runner import run_phase
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


def test_duckdb_run_project_has_the_committed_assets_as_queries_on_a_sql_data_source(tmp_path: Path) -> None:
    committed = _datasource(committed_project())
    url = sqlalchemy_url(tmp_path / "w.duckdb")
    assert url == f"duckdb:///{(tmp_path / 'w.duckdb').resolve()}"
    sql = _datasource(prepare_run_project(tmp_path / "w.duckdb", "sql", url))
    assert (sql["type"], sql["connection_string"], sql["create_temp_table"]) == ("sql", url, False)
    assert sql["kwargs"] == {"connect_args": {"read_only": True}}
    assert sql["id"] == committed["id"]
    committed_assets: dict[str, dict[str, object]] = committed["assets"]  # type: ignore[assignment]
    assert list(sql["assets"]) == list(committed_assets)  # type: ignore[call-overload]
    for name, asset in sql["assets"].items():  # type: ignore[attr-defined]
        assert asset == {**committed_assets[name], "type": "query", "query": PLACEHOLDER_QUERY}, name


@pytest.mark.parametrize("name", ["a b", "it's", "plain"])
def test_paths_a_url_can_name_get_the_sql_source(tmp_path: Path, name: str) -> None:
    from sqlalchemy.engine import make_url

    path = tmp_path / name / "w.duckdb"
    url = sqlalchemy_url(path)
    assert url is not None and make_url(url).database == str(path.resolve())


@pytest.mark.parametrize("name", ["a?b", "$HOME"])
def test_paths_a_url_cannot_name_fall_back_to_the_pandas_source(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "w.duckdb"
    duckdb.connect(str(path)).close()
    assert sqlalchemy_url(path) is None
    source = source_for(path)
    try:
        assert isinstance(source, DuckDBSource) and source.datasource_type == "pandas"
    finally:
        source.close()


def _outcomes(report) -> list[tuple[object, ...]]:
    # the examples after "e.g." may come in another order from SQL: the counts must agree
    return sorted((c.suite, c.expectation, c.columns, c.success, c.evidence.split(", e.g.")[0]) for c in report.checks)


@pytest.mark.parametrize("phase", ["raw", "marts"])
def test_sql_and_pandas_sources_find_the_same(fixture_warehouse: Path, tmp_path: Path, phase: str) -> None:
    """The checks GX's SQL data source runs in DuckDB find what the pandas data source finds,
    on the fixture warehouse (every kind of bad row) with failures added to dim_customers."""
    work = tmp_path / "w.duckdb"
    shutil.copyfile(fixture_warehouse, work)
    con = duckdb.connect(str(work))
    first = "(select min(customer_id) from marts.dim_customers)"
    con.execute(f"update marts.dim_customers set p_alive = 1.5 where customer_id = {first}")
    con.execute(f"update marts.dim_customers set recency_days = tenure_days + 5 where customer_id = {first}")
    con.close()
    parameters = {"max_rejected_share": 0.5} if phase == "raw" else {}
    url = sqlalchemy_url(work)
    assert url is not None
    by_sql = run_phase(work, phase, parameters, source=DuckDBSqlSource(work, url))
    by_pandas = run_phase(work, phase, parameters, source=DuckDBSource(work))
    assert _outcomes(by_sql) == _outcomes(by_pandas)
    assert by_sql.rows == by_pandas.rows and sum(by_sql.rows.values()) > 0
    if phase == "marts":
        failed = {(c.suite, c.expectation) for c in by_sql.checks if not c.success}
        assert {
            ("dim_customers", "expect_column_values_to_be_between"),
            ("dim_customers", "expect_column_pair_values_a_to_be_greater_than_b"),
        } <= failed
    writer = duckdb.connect(str(work))  # GX's connections are closed: the file opens for writing again
    writer.close()
