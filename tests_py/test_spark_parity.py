"""The same input through DuckDB and through local Spark gives the same marts, row for row.

One small input exercises every path the engines could disagree on: the hand-made fixture
CSV (every reject reason, mixed date formats, a quoted amount, an extra column), a
generated CSV with 5% malformed rows, and a generated Parquet file with typed timestamp
and float columns; customers come from CSV and Parquet. Spark reads the CSV in ~2 KB
splits so that its row numbering across splits is checked against DuckDB's too.

Both warehouses are built by the pipeline's own steps (prepare, load, each dbt build phase, publish),
exported with `loyalty export`'s code, and compared file by file: the same marts, the
same columns and Parquet types, the same rows (floats within 1e-9 relative). The Great
Expectations checks run on both (on Spark, GX's Spark data source: Spark computes them)
and must find the same. Then both
rebuild the snapshot's parents as of a later date and snapshot again, so that the Spark snapshot
on plain tables (macros/snapshot_spark.sql) must close and add versions as dbt's merge does.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import FIXTURES, REPO, run_cli
from loyalty import pipeline
from loyalty.dbt import read_run_results
from loyalty.errors import InputError
from loyalty.generate import generate
from loyalty.generate.extra import generate_balances, generate_surveys
from loyalty.pipeline import RunConfig
from loyalty.quality.spark_source import SparkSource
from loyalty.spark.load import load_raw_spark
from loyalty.spark.session import get_session, spark_conf, stop_session

FLOAT_REL_TOL = 1e-9
CSV_SPLIT_BYTES = 2048
# Columns that name the run itself (when the CLV fit ran), not the data: they differ between any two runs.
RUN_COLUMNS = {"rpt_clv_model_fits": {"run_id", "fitted_at"}}
SNAPSHOT = "snapshots.customer_status_snapshot"
LATER_AS_OF = "2026-06-30"  # six months after the generated data ends: statuses change
# dbt's own generic tests are left out of the Spark build (~200 of its ~250 data tests, ~0.7 s
# each on local Spark, the largest part of this module's time): their SQL is dbt-spark's, and
# the marts they check are proven equal to the DuckDB marts, where they all run. The project's
# own tests (expression_is_true, unique_combination_of_columns, rows_reconcile, the singular
# tests) still run on Spark, since their SQL is ours.
SPARK_BUILD_EXCLUDE = [
    "--exclude",
    "test_name:not_null",
    "test_name:unique",
    "test_name:accepted_values",
    "test_name:relationships",
]


def _prefix_ids(table: pa.Table, prefix: str) -> pa.Table:
    for name in ("transaction_id", "customer_id"):
        if name in table.column_names:
            column = pc.binary_join_element_wise(prefix, pc.cast(table[name], pa.string()), "")
            table = table.set_column(table.column_names.index(name), name, column)
    return table


@pytest.fixture(scope="module")
def parity_input(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("parity_input")
    tx, cust, gen = root / "transactions", root / "customers", root / "generated"
    for folder in (tx, cust, gen):
        folder.mkdir()
    shutil.copy(FIXTURES / "transactions.csv", tx / "a_fixture.csv")
    shutil.copy(FIXTURES / "customers.csv", cust / "a_fixture.csv")
    csv = generate(150, gen / "b.csv", seed=11, bad_row_rate=0.05, progress=False)
    shutil.copy(csv.transactions_path, tx / "b_generated.csv")
    shutil.copy(csv.customers_path, cust / "b_generated.csv")
    # typed Parquet (timestamp, double amount): ids prefixed so they do not collide with b's
    parquet = generate(60, gen / "c.parquet", seed=12, bad_row_rate=0.0, progress=False)
    pq.write_table(_prefix_ids(pq.read_table(parquet.transactions_path), "p"), tx / "c_generated.parquet")
    pq.write_table(_prefix_ids(pq.read_table(parquet.customers_path), "p"), cust / "c_generated.parquet")
    return tx, cust


def _run_steps(config: RunConfig, after_prepare: Any = None, exclude: list[str] | None = None) -> Any:
    """The pipeline's steps in the flow's order (flows/pipeline.py): prepare, load, each dbt build
    phase, the CLV fit before the phase that joins its scores, and publish. (The Great
    Expectations checks do not change the marts and the run summary artifacts are Prefect's:
    neither is run here.)"""
    pipeline.prepare_step(config)
    if after_prepare is not None:
        after_prepare()
    loaded = pipeline.load_step(config)
    with pytest.MonkeyPatch.context() as patch:
        if exclude:
            phases = {name: [*args, *exclude] for name, args in pipeline.BUILD_PHASES.items()}
            patch.setattr(pipeline, "BUILD_PHASES", phases)
        for phase in pipeline.BUILD_PHASES:
            if phase == "clv":
                pipeline.clv_step(config)
            pipeline.build_step(config, phase)
    pipeline.publish_step(config)
    return loaded


def _nothing_cached(session: Any) -> bool:
    """No DataFrame of the session is persisted (Spark's cache manager is empty)."""
    return bool(session._jsparkSession.sharedState().cacheManager().isEmpty())


def _snapshot_later(config: RunConfig) -> list[tuple[Any, ...]]:
    """Rebuild the snapshot's parents as of LATER_AS_OF, snapshot again, read the history."""
    variables = {**config.dbt_vars(), "as_of_date": LATER_AS_OF}
    for args in (["run", "--select", f"+{SNAPSHOT.split('.')[1]}"], ["snapshot"]):
        config.engine.run_dbt(config.work, args, variables=variables)
    con = config.engine.connect_read_only(config.work)
    try:
        rows = con.execute(f"select * from {SNAPSHOT}").fetchall()
    finally:
        con.close()
    return sorted(rows, key=lambda row: tuple((value is None, str(value)) for value in row))


@pytest.fixture(scope="module")
def built(parity_input: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tx, cust = parity_input
    root = tmp_path_factory.mktemp("parity")
    # surveys and balances of the generated customers (5% malformed rows), as CSV and Parquet
    surveys = generate_surveys(
        tx / "b_generated.csv", root / "surveys.csv", end=dt.date(2025, 12, 31), seed=11, bad_row_rate=0.05
    ).path
    balances = generate_balances(
        tx / "b_generated.csv", root / "balances.parquet", end=dt.date(2025, 12, 31), seed=11, bad_row_rate=0.05
    ).path
    extra: dict[str, Any] = {"surveys": str(surveys), "balances": str(balances)}
    duck = RunConfig(
        transactions=str(tx), customers=str(cust), warehouse=root / "duck.duckdb", target="duckdb", **extra
    )
    spark = RunConfig(transactions=str(tx), customers=str(cust), warehouse=root / "spark", target="spark", **extra)
    loads = {"duckdb": _run_steps(duck)}

    def small_splits() -> None:
        get_session(spark.warehouse).conf.set("spark.sql.files.maxPartitionBytes", str(CSV_SPLIT_BYTES))

    try:
        loads["spark"] = _run_steps(spark, after_prepare=small_splits, exclude=SPARK_BUILD_EXCLUDE)
        results = {
            config.target: [
                result
                for phase in pipeline.BUILD_PHASES
                for result in read_run_results(
                    config.engine.state_dir(config.warehouse) / "target" / f"run_results_{phase}.json"
                )
            ]
            for config in (duck, spark)
        }
        exports = {
            "duckdb": duck.engine.export(duck.warehouse, root / "export_duckdb"),
            "spark": spark.engine.export(spark.warehouse, root / "export_spark"),
        }
        summaries = {"duckdb": pipeline.summarize_step(duck), "spark": pipeline.summarize_step(spark)}
        checks = {  # (the input's share of malformed rows is on purpose above the default limit)
            config.target: [
                config.engine.check_raw(config.work, max_rejected_share=0.5),
                config.engine.check_marts(config.work),
            ]
            for config in (duck, spark)
        }
        # the Spark checks persist each batch while its checkpoint runs, and nothing after
        session = get_session(spark.warehouse)
        caching = {"after_the_checks": _nothing_cached(session)}
        source = SparkSource(spark.warehouse)
        source.read("select customer_id from marts.dim_customers")
        caching["while_a_batch_is_read"] = _nothing_cached(session)
        source.close()
        caching["after_close"] = _nothing_cached(session)
        snapshots = {"duckdb": _snapshot_later(duck), "spark": _snapshot_later(spark)}
        bad_input = root / "no_amount.csv"
        bad_input.write_text("transaction_id,customer_id,transacted_at\nt1,c1,2024-01-01\n")
        with pytest.raises(InputError) as missing_column:
            load_raw_spark(spark.warehouse, str(bad_input))
    finally:
        stop_session()
    return {
        "loads": loads,
        "exports": exports,
        "summaries": summaries,
        "checks": checks,
        "caching": caching,
        "snapshots": snapshots,
        "spark_warehouse": spark.warehouse,
        "build_results": results,
        "missing_column": (bad_input, str(missing_column.value)),
    }


def test_spark_reads_csv_in_several_splits(parity_input: tuple[Path, Path]) -> None:
    # the row-numbering across splits is only exercised if the generated CSV spans several
    assert (parity_input[0] / "b_generated.csv").stat().st_size > 4 * CSV_SPLIT_BYTES


def test_both_engines_load_the_same_raw_rows_per_file(built: dict[str, Any]) -> None:
    duck, spark = built["loads"]["duckdb"], built["loads"]["spark"]
    assert spark.n_transaction_rows == duck.n_transaction_rows
    assert spark.n_customer_rows == duck.n_customer_rows
    assert spark.rows_per_file == duck.rows_per_file
    assert len(spark.rows_per_file) == 3


def _is_builtin_test(unique_id: str) -> bool:
    name = unique_id.split(".")[2].removeprefix("source_")
    if name.startswith(("not_null_", "accepted_values_", "relationships_")):
        return True
    return name.startswith("unique_") and not name.startswith("unique_combination_of_columns_")


def test_spark_build_runs_every_node_but_dbts_own_generic_tests(built: dict[str, Any]) -> None:
    duck, spark = built["build_results"]["duckdb"], built["build_results"]["spark"]
    # every node passed (saved queries and exposures have nothing to run: no-op)
    for results in (duck, spark):
        failed = [
            (r["unique_id"], r["status"])
            for r in results
            if r["status"] not in ("success", "pass")
            and not (r["status"] == "no-op" and r["unique_id"].startswith(("saved_query.", "exposure.")))
        ]
        assert failed == []
    ran = {engine: {r["unique_id"] for r in results} for engine, results in built["build_results"].items()}
    assert ran["spark"] == {node for node in ran["duckdb"] if not _is_builtin_test(node)}
    spark_tests = {node.split(".")[2] for node in ran["spark"] if node.startswith("test.")}
    assert any(name.startswith("expression_is_true_") for name in spark_tests)
    assert any(name.startswith("unique_combination_of_columns_") for name in spark_tests)
    assert {"assert_raw_rows_reconcile", "assert_retention_identities"} <= spark_tests
    assert sum(_is_builtin_test(node) for node in ran["duckdb"]) > 150


def test_both_engines_build_the_same_marts(built: dict[str, Any]) -> None:
    duck, spark = built["exports"]["duckdb"], built["exports"]["spark"]
    assert sorted(spark.files) == sorted(duck.files)
    assert {"fct_transactions", "rejected_transactions", "dim_customers", "rpt_cohort_retention_monthly"} <= set(
        duck.files
    )
    assert spark.rows == duck.rows
    assert duck.rows["rejected_transactions"] > 8  # the fixture's 8 and the generated malformed rows


def _schema(path: Path) -> list[tuple[str, pa.DataType]]:
    # nullability differs (DuckDB marks columns without nulls required); names and types must not
    return [(f.name, f.type) for f in pq.read_schema(path)]


def _sorted_rows(path: Path, skip: set[str]) -> list[tuple[Any, ...]]:
    table = pq.read_table(path)
    table = table.select([name for name in table.column_names if name not in skip])
    rows = list(zip(*[table[name].to_pylist() for name in table.column_names], strict=True))
    return sorted(rows, key=lambda row: tuple((value is None, str(value)) for value in row))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=1e-12)
    return a == b and type(a) is type(b)


def test_every_mart_has_the_same_columns_and_types(built: dict[str, Any]) -> None:
    duck, spark = built["exports"]["duckdb"], built["exports"]["spark"]
    differences = {
        m: (_schema(duck.files[m]), _schema(spark.files[m]))
        for m in duck.files
        if _schema(duck.files[m]) != _schema(spark.files[m])
    }
    assert differences == {}


def test_every_mart_has_the_same_rows(built: dict[str, Any]) -> None:
    duck, spark = built["exports"]["duckdb"], built["exports"]["spark"]
    mismatches = {}
    for mart in duck.files:
        skip = RUN_COLUMNS.get(mart, set())
        names = [n for n in pq.read_schema(duck.files[mart]).names if n not in skip]
        left, right = _sorted_rows(duck.files[mart], skip), _sorted_rows(spark.files[mart], skip)
        assert len(left) == len(right), mart
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            diff = {n: (x, y) for n, x, y in zip(names, a, b, strict=True) if not _same(x, y)}
            if diff:
                mismatches[mart] = (i, diff)
                break
    assert mismatches == {}


def test_spark_summary_equals_duckdb_summary(built: dict[str, Any]) -> None:
    duck, spark = built["summaries"]["duckdb"], built["summaries"]["spark"]
    assert (spark.engine, duck.engine) == ("Spark", "DuckDB")
    for name in (
        "as_of_date",
        "raw_rows",
        "valid_rows",
        "rejected_rows",
        "rejected_by_reason",
        "customers",
        "repeat_customers",
        "cohorts",
        "marts",
    ):
        assert getattr(spark, name) == getattr(duck, name), name
    assert math.isclose(spark.total_revenue, duck.total_revenue, rel_tol=FLOAT_REL_TOL)
    assert math.isclose(spark.month1_retention, duck.month1_retention, rel_tol=FLOAT_REL_TOL)


def test_data_checks_run_on_spark_and_find_what_they_find_on_duckdb(built: dict[str, Any]) -> None:
    for duck, spark in zip(built["checks"]["duckdb"], built["checks"]["spark"], strict=True):
        assert spark.phase == duck.phase
        assert spark.rows == duck.rows and len(duck.rows) >= 2
        found = {
            engine: sorted(
                (c.suite, c.expectation, c.columns, c.severity, c.success, c.evidence) for c in report.checks
            )
            for engine, report in (("duckdb", duck), ("spark", spark))
        }
        assert found["spark"] == found["duckdb"]
        assert len(found["duckdb"]) > 10
        assert spark.data_docs is not None and spark.data_docs.is_file()
    # the generated input's malformed dates and amounts are above the raw checks' warning limit
    assert any(not c.success for c in built["checks"]["spark"][0].checks)


def test_spark_checks_persist_each_batch_while_it_is_validated_and_nothing_after(built: dict[str, Any]) -> None:
    assert built["caching"] == {"after_the_checks": True, "while_a_batch_is_read": False, "after_close": True}


def test_second_snapshot_closes_and_adds_the_same_versions_on_both_engines(built: dict[str, Any]) -> None:
    duck, spark = built["snapshots"]["duckdb"], built["snapshots"]["spark"]
    n_customers = built["summaries"]["duckdb"].customers
    closed = [row for row in duck if row[-1] is not None]  # dbt_valid_to is the last column
    # the later as-of date changed some statuses: old versions closed, new ones added
    assert len(duck) > n_customers and len(closed) == len(duck) - n_customers
    assert [tuple(map(str, r)) for r in spark] == [tuple(map(str, r)) for r in duck]


def test_export_writes_one_parquet_file_per_mart_and_nothing_else(built: dict[str, Any]) -> None:
    for result in built["exports"].values():
        assert sorted(p.name for p in result.out.iterdir()) == sorted(f"{m}.parquet" for m in result.files)


def test_profile_spark_output_mirrors_the_session_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A plain `dbt build --target spark` must start the same session as `loyalty run --target spark`."""
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(tmp_path))
    env = jinja2.Environment()
    env.globals["env_var"] = lambda name, default=None: __import__("os").environ.get(name, default)
    rendered = yaml.safe_load(env.from_string((REPO / "profiles.yml").read_text()).render())
    output = rendered["loyalty"]["outputs"]["spark"]
    assert (output["type"], output["method"]) == ("spark", "session")
    assert {k: str(v) for k, v in output["server_side_parameters"].items()} == spark_conf(tmp_path)


def test_spark_loader_names_the_file_and_the_missing_column(built: dict[str, Any]) -> None:
    path, message = built["missing_column"]
    assert message == f"The transactions file {path.resolve()} is missing the required column amount."


def test_a_spark_warehouse_open_in_one_process_is_refused_by_another(built: dict[str, Any], tmp_path: Path) -> None:
    # this test process still holds the parity warehouse's metastore (its JVM is alive)
    warehouse = built["spark_warehouse"]
    proc = run_cli("export", "--target", "spark", "--warehouse", str(warehouse), "--out", str(tmp_path), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: The Spark warehouse {warehouse} is in use by another process "
        "(its embedded metastore admits one process at a time)."
    )
    assert list(tmp_path.iterdir()) == []


def test_spark_target_refuses_a_duckdb_file_as_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(b"")
    proc = run_cli(
        "export", "--target", "spark", "--warehouse", str(warehouse), "--out", str(tmp_path / "o"), check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: The warehouse {warehouse} is a file: the spark target needs a folder "
        "(a file is a DuckDB warehouse: use --target duckdb)."
    )


def test_export_of_a_warehouse_that_does_not_exist_is_one_sentence(tmp_path: Path) -> None:
    warehouse = tmp_path / "nothing.duckdb"
    proc = run_cli("export", "--warehouse", str(warehouse), "--out", str(tmp_path / "o"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: The warehouse {warehouse} does not exist: build it with `loyalty run` first."
    )
