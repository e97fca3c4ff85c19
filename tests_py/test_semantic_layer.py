"""The semantic layer and the governed marts, on a real warehouse built by `loyalty run`.

- MetricFlow validates the semantic models, metrics and saved queries (`mf validate-configs`);
- `mf query` answers by month, read-only from the built warehouse, with the numbers that SQL
  on the marts gives;
- table and column descriptions are comments in DuckDB (persist_docs), and in the Parquet
  metadata of `loyalty export`;
- groups, owners, access levels and exposures are in the manifest;
- `dbt source freshness` passes on a fresh load and fails on a stale one.

mf and dbt run as a user would, as subprocesses, in a copy of the project (so that the
`target/` folder MetricFlow reads is the test's own), with the read-only `analyst` target.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import REPO, connect, run_cli
from loyalty.engines import get_engine

PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
SLOW_FIXTURES = {"generated_warehouse"}  # a real run of its own (conftest: the `slow` tier)
PROJECT_DIRS = ("models", "macros", "seeds", "snapshots", "tests")
MONTHLY_METRICS = (
    "active_customers",
    "new_customers",
    "reactivated_customers",
    "churned_customers",
    "customers_start",
    "retention_rate",
    "churn_rate",
    "retention_rate_classic",
    "retention_rate_end_minus_new",
    "net_revenue",
    "average_order_value",
)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _env(warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update(
        LOYALTY_WAREHOUSE=str(warehouse),
        LOYALTY_TARGET="analyst",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        DBT_USE_COLORS="false",
    )
    return env


def _run(args: list[str], project: Path, warehouse: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=project, env=_env(warehouse), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy(REPO / name, dest / name)
    for name in PROJECT_DIRS:
        shutil.copytree(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def generated_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 generated customers over two years: every customer flow (churn, reactivation) occurs.
    (tests_py/fixtures ends before anyone can churn under the 365-day active window.)"""
    folder = tmp_path_factory.mktemp("semantic_generated")
    run_cli(
        "generate",
        "--customers",
        "300",
        "--seed",
        "7",
        "--start",
        "2023-01-01",
        "--end",
        "2024-12-31",
        "--no-progress",
        "--out",
        str(folder / "transactions.csv"),
    )
    warehouse = folder / "generated.duckdb"
    run_cli(
        "run",
        "--transactions",
        str(folder / "transactions.csv"),
        "--customers",
        str(folder / "transactions_customers.csv"),
        "--warehouse",
        str(warehouse),
    )
    return warehouse


@pytest.fixture(scope="module")
def semantic_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the project parsed with the analyst target: target/semantic_manifest.json.
    Parsing opens no warehouse, and the manifest names the attached file `loyalty` whatever
    its path: one parse serves every warehouse (LOYALTY_WAREHOUSE at query time)."""
    project = _copy_project(tmp_path_factory.mktemp("semantic") / "project")
    _run([_bin("dbt"), "parse", "--profiles-dir", "."], project, project / "not-opened.duckdb")
    yield project


def mf_query(project: Path, warehouse: Path, out: Path, *args: str) -> pd.DataFrame:
    _run([_bin("mf"), "query", *args, "--csv", str(out)], project, warehouse)
    return pd.read_csv(out)


def marts(warehouse: Path, sql: str) -> pd.DataFrame:
    with connect(warehouse) as con:
        return con.execute(sql).df()


def assert_frames_close(got: pd.DataFrame, want: pd.DataFrame, key: str) -> None:
    """Same rows (by key) and the same values; floats within 1e-9 (DuckDB float sums vary in the last digits)."""
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    assert list(got[key].astype(str)) == list(want[key].astype(str))
    for column in want.columns:
        if column == key:
            continue
        for month, g, w in zip(want[key], got[column], want[column], strict=True):
            if w is None or (isinstance(w, float) and math.isnan(w)):
                assert g is None or (isinstance(g, float) and math.isnan(g)), (column, month, g)
            else:
                assert float(g) == pytest.approx(float(w), rel=1e-9, abs=1e-9), (column, month, g, w)


def _manifest(warehouse: Path) -> dict[str, Any]:  # dbt's manifest JSON
    """dbt's manifest of the runs that built (and published) this warehouse."""
    return json.loads((get_engine("duckdb").state_dir(warehouse) / "target" / "manifest.json").read_text())


def test_mf_validate_configs_on_the_built_warehouse(semantic_project: Path, generated_warehouse: Path) -> None:
    """Semantic validation and the warehouse checks (every dimension and measure queried)."""
    proc = _run([_bin("mf"), "validate-configs"], semantic_project, generated_warehouse)
    out = proc.stdout + proc.stderr
    assert "Successfully validated the semantics of built manifest (ERRORS: 0" in out
    assert "Successfully validated semantic models against data warehouse (ERRORS: 0" in out
    assert "Successfully validated metrics against data warehouse (ERRORS: 0" in out


def test_mf_query_by_month_equals_the_marts(semantic_project: Path, generated_warehouse: Path, tmp_path: Path) -> None:
    got = mf_query(
        semantic_project,
        generated_warehouse,
        tmp_path / "monthly.csv",
        "--metrics",
        ",".join(MONTHLY_METRICS),
        "--group-by",
        "metric_time__month",
    )
    got = got.rename(columns={"metric_time__month": "month"})
    got["month"] = pd.to_datetime(got["month"]).dt.strftime("%Y-%m-%d")
    # independently: the monthly rows of rpt_retention_rate_monthly and fct_transactions summed by month
    want = marts(
        generated_warehouse,
        """
        with revenue as (
            select
                date_trunc('month', transaction_date) as month,
                sum(amount) as net_revenue,
                sum(case when not is_refund then amount end) / count(case when not is_refund then 1 end)
                    as average_order_value
            from marts.fct_transactions
            group by 1
        )
        select
            strftime(coalesce(r.activity_month, v.month), '%Y-%m-%d') as month,
            r.customers_end as active_customers, r.new_customers, r.reactivated_customers,
            r.churned_customers, r.customers_start, r.retention_rate, r.churn_rate, r.retention_rate_classic,
            cast(r.customers_end - r.new_customers as double) / nullif(r.customers_start, 0)
                as retention_rate_end_minus_new,
            v.net_revenue, v.average_order_value
        from marts.rpt_retention_rate_monthly as r
        full outer join revenue as v on r.activity_month = v.month
    """,
    )
    assert len(want) >= 6  # several months, and the comparison below is not vacuous:
    assert want["churned_customers"].sum() > 0 and want["retention_rate"].notna().sum() >= 3
    assert set(got.columns) == {"month", *MONTHLY_METRICS}
    assert_frames_close(got[want.columns], want, "month")


def test_mf_query_customer_base_and_high_value_share(
    semantic_project: Path, generated_warehouse: Path, tmp_path: Path
) -> None:
    got = mf_query(semantic_project, generated_warehouse, tmp_path / "base.csv", "--saved-query", "customer_base_kpis")
    want = marts(
        generated_warehouse,
        """
        select
            count(*) as customers,
            count(case when is_churned then 1 end) as churned_customers_as_of,
            sum(predicted_clv_365d) as predicted_clv_365d,
            sum(case when value_tier = 'high_value' then revenue_last_12_months end)
                / sum(revenue_last_12_months) as high_value_revenue_share
        from marts.dim_customers
    """,
    )
    assert len(got) == 1
    for column in want.columns:
        assert float(got[column][0]) == pytest.approx(float(want[column][0]), rel=1e-9), column
    assert 0 < want["high_value_revenue_share"][0] <= 1


def test_mf_query_churn_by_customer_country_and_month(
    semantic_project: Path, generated_warehouse: Path, tmp_path: Path
) -> None:
    """Monthly flows sliced by a customer dimension: fct_customer_months joined to dim_customers."""
    got = mf_query(
        semantic_project,
        generated_warehouse,
        tmp_path / "country.csv",
        "--metrics",
        "customers_start,churned_customers",
        "--group-by",
        "metric_time__month,customer__country",
    )
    got["key"] = (
        pd.to_datetime(got["metric_time__month"]).dt.strftime("%Y-%m-%d")
        + "|"
        + got["customer__country"].fillna("<null>")
    )
    want = marts(
        generated_warehouse,
        """
        select
            strftime(m.activity_month, '%Y-%m-%d') || '|' || coalesce(c.country, '<null>') as key,
            count(case when m.is_active_at_month_start then 1 end) as customers_start,
            count(case when m.lifecycle_status = 'churned' then 1 end) as churned_customers
        from marts.fct_customer_months as m
        inner join marts.dim_customers as c on m.customer_id = c.customer_id
        group by 1
    """,
    )
    assert want["key"].str.endswith("|<null>").sum() < len(want)  # at least one known country
    assert_frames_close(got[["key", "customers_start", "churned_customers"]], want, "key")


def test_marts_descriptions_are_comments_in_duckdb(fixture_warehouse: Path) -> None:
    manifest = _manifest(fixture_warehouse)
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    with connect(fixture_warehouse) as con:
        tables = dict(
            con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall()
        )
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'"
        ).fetchall()
    assert set(tables) == set(models) and len(models) >= 10
    for name, comment in tables.items():
        assert comment == models[name]["description"], name
    for table, column, comment in columns:
        assert comment == models[table]["columns"][column]["description"], (table, column)
        assert comment, (table, column)
    # a definition reused from a docs block is there in full, not as its Jinja call
    assert "{{" not in tables["rpt_retention_rate_monthly"]
    assert tables["rpt_retention_rate_monthly"].startswith("Monthly retention and churn rates of the customer base.")


def test_groups_owners_access_and_exposures_in_the_manifest(fixture_warehouse: Path) -> None:
    manifest = _manifest(fixture_warehouse)
    groups = {g["name"]: g for g in manifest["groups"].values()}
    assert all(g["owner"]["email"] for g in groups.values())
    access = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        assert node["group"] in groups, node["name"]
        access[node["name"]] = (node["access"], node["group"])
    assert access["dim_customers"] == ("public", "customer_analytics")
    assert access["rpt_clv_model_fits"] == ("public", "customer_value")
    assert access["int_customers_summarized"] == ("protected", "data_engineering")
    assert access["stg_raw__transactions"] == ("private", "data_engineering")
    assert access["metricflow_time_spine"][0] == "protected"
    mart_models = {n for n, (a, _) in access.items() if n.startswith(("fct_", "dim_", "rpt_"))}
    assert {access[n][0] for n in mart_models} == {"public"}
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == {"loyalty_report", "parquet_export"}
    exported = {uid.split(".")[-1] for uid in exposures["parquet_export"]["depends_on"]["nodes"]}
    with connect(fixture_warehouse) as con:
        mart_tables = {
            r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
        }
    assert exported == mart_tables  # the exposure lists exactly what `loyalty export` writes


def test_export_writes_descriptions_into_parquet_metadata(fixture_warehouse: Path, tmp_path: Path) -> None:
    run_cli("export", "--out", str(tmp_path), "--warehouse", str(fixture_warehouse))
    metadata = pq.read_metadata(tmp_path / "fct_transactions.parquet").metadata
    described = json.loads(metadata[b"column_descriptions"])
    with connect(fixture_warehouse) as con:
        (table_comment,) = con.execute(
            "select comment from duckdb_tables() where schema_name = 'marts' and table_name = 'fct_transactions'"
        ).fetchone()  # type: ignore[misc]  # fetchone() is Optional; a missing table fails the test here
        comments = dict(
            con.execute(
                "select column_name, comment from duckdb_columns() "
                "where schema_name = 'marts' and table_name = 'fct_transactions'"
            ).fetchall()
        )
    assert metadata[b"description"].decode() == table_comment
    assert described == comments
    assert list(described) == pq.read_schema(tmp_path / "fct_transactions.parquet").names
    # DuckDB reads it back too
    kv = dict(
        duckdb.sql(
            f"select decode(key), decode(value) from parquet_kv_metadata('{tmp_path / 'dim_customers.parquet'}')"
        ).fetchall()
    )
    assert json.loads(kv["column_descriptions"])["customer_id"].startswith("Customer id")


def test_source_freshness_passes_after_a_load_and_fails_when_stale(
    fixture_warehouse: Path, semantic_project: Path, tmp_path: Path
) -> None:
    with connect(fixture_warehouse) as con:
        loads = con.execute(
            "select count(distinct loaded_at), count(*) - count(loaded_at) from raw.transactions"
        ).fetchone()
    assert loads == (1, 0)  # one load time, on every row
    fresh = _run([_bin("dbt"), "source", "freshness", "--profiles-dir", "."], semantic_project, fixture_warehouse)
    assert "PASS freshness of raw.transactions" in fresh.stdout
    stale = tmp_path / "stale.duckdb"
    shutil.copy(fixture_warehouse, stale)
    with duckdb.connect(str(stale)) as con:
        con.execute("update raw.transactions set loaded_at = loaded_at - interval 9 days")
    proc = _run([_bin("dbt"), "source", "freshness", "--profiles-dir", "."], semantic_project, stale, check=False)
    assert proc.returncode == 1
    assert "ERROR STALE freshness of raw.transactions" in proc.stdout


def test_spark_export_descriptions_equal_the_duckdb_exports(fixture_warehouse: Path, tmp_path: Path) -> None:
    """The Spark export adds the descriptions with pyarrow (Spark cannot write key-value metadata):
    done on plain copies of every mart, the files carry exactly the metadata of DuckDB's export,
    and their rows and column types are unchanged. (No Spark here: the same functions run on
    the part files Spark writes; tests_py/test_spark_parity.py builds a real Spark warehouse.)"""
    from loyalty.spark.export import manifest_descriptions, write_descriptions

    run_cli("export", "--out", str(tmp_path / "duckdb"), "--warehouse", str(fixture_warehouse))
    descriptions = manifest_descriptions(get_engine("duckdb").state_dir(fixture_warehouse) / "target" / "manifest.json")
    plain = tmp_path / "plain"
    plain.mkdir()
    with connect(fixture_warehouse) as con:
        marts_built = [
            r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
        ]
        for mart in marts_built:
            con.execute(f"copy marts.{mart} to '{plain / (mart + '.parquet')}' (format parquet)")
    assert set(descriptions) >= set(marts_built) and len(marts_built) >= 10
    for mart in marts_built:
        path = plain / f"{mart}.parquet"
        before = duckdb.sql(f"select * from '{path}'")
        types_before, rows_before = before.types, before.fetchall()
        assert b"column_descriptions" not in (pq.read_metadata(path).metadata or {})
        write_descriptions(path, *descriptions[mart])
        got = pq.read_metadata(path).metadata
        want = pq.read_metadata(tmp_path / "duckdb" / f"{mart}.parquet").metadata
        assert got[b"description"] == want[b"description"], mart
        assert json.loads(got[b"column_descriptions"]) == json.loads(want[b"column_descriptions"]), mart
        after = duckdb.sql(f"select * from '{path}'")
        assert after.types == types_before and after.fetchall() == rows_before, mart


def test_manifest_descriptions_read_marts_only_and_tolerate_no_manifest(tmp_path: Path) -> None:
    from loyalty.spark.export import manifest_descriptions

    assert manifest_descriptions(tmp_path / "absent.json") == {}
    manifest = tmp_path / "manifest.json"
    node = {"resource_type": "model", "schema": "marts", "name": "dim_x", "alias": "dim_x", "description": "X."}
    manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "model.p.dim_x": {**node, "columns": {"a": {"description": "A."}, "b": {"description": ""}}},
                    "model.p.int_y": {**node, "schema": "intermediate", "name": "int_y", "alias": "int_y"},
                    "test.p.t": {"resource_type": "test", "schema": "marts", "name": "t"},
                }
            }
        )
    )
    assert manifest_descriptions(manifest) == {"dim_x": ("X.", {"a": "A.", "b": ""})}
