"""The CLV step on Spark keeps per-customer data on the cluster, and writes what the DuckDB
engine writes.

The input has many more customers (12,000) than distinct summary rows (the purchase days of
150 CDNOW customers, each copied 80 times): every DataFrame the step brings to the driver is counted (by
wrapping pyspark's own collect methods), and none may have more rows than there are
distinct (frequency, recency, T) rows. Spark scores in batches of 2,000 customers, so the
scores also show that batches give what one in-process pass over all customers gives (the
DuckDB engine, on the same tables).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from conftest import CDNOW_CSV
from loyalty.clv.summary import summarize_purchase_days
from loyalty.pipeline import RunConfig, clv_step
from loyalty.spark.session import get_session, stop_session

TEMPLATES = 150  # the first CDNOW customers, each copied COPIES times under new ids
COPIES = 80
N_CUSTOMERS = TEMPLATES * COPIES
AS_OF = dt.date(1998, 6, 30)
ROWS_PER_BATCH = 2000


def _purchase_days() -> pd.DataFrame:
    raw = pd.read_csv(CDNOW_CSV, dtype={"master_id": str}, parse_dates=["date"])
    raw = raw[raw["customer_id"] <= TEMPLATES]
    days = raw.groupby(["customer_id", "date"], as_index=False)["dollar_value"].sum()
    copies = [
        pd.DataFrame(
            {
                "customer_id": [f"c{copy:03d}-{c:04d}" for c in days["customer_id"]],
                "purchase_date": days["date"].dt.date.to_numpy(),
                "purchase_amount": days["dollar_value"].to_numpy(),
            }
        )
        for copy in range(COPIES)
    ]
    return pd.concat(copies, ignore_index=True)


def _intermediate_tables() -> dict[str, pd.DataFrame]:
    days = _purchase_days()
    summary = summarize_purchase_days(
        pd.DataFrame(
            {
                "customer_id": days["customer_id"],
                "day": pd.to_datetime(days["purchase_date"]),
                "amount": days["purchase_amount"],
            }
        ),
        AS_OF,
    )
    return {
        "int_customer_purchase_days": days,
        "int_customers_summarized": summary.loc[
            :, ["customer_id", "frequency", "recency_days", "tenure_days", "monetary_value"]
        ],
        "int_as_of_date": pd.DataFrame({"as_of_date": [AS_OF]}),
    }


SCHEMAS = {
    "int_customer_purchase_days": "customer_id string, purchase_date date, purchase_amount double",
    "int_customers_summarized": "customer_id string, frequency bigint, recency_days int, tenure_days int, "
    "monetary_value double",
    "int_as_of_date": "as_of_date date",
}


def _collect_counter(monkeypatch: pytest.MonkeyPatch, frame_class: type) -> list[tuple[str, int]]:
    """Wrap every way pyspark brings a DataFrame's rows to the driver; record (method, rows)."""
    seen: list[tuple[str, int]] = []

    def counted(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = original(self, *args, **kwargs)
            seen.append((name, len(out) if hasattr(out, "__len__") else out.num_rows))
            return out

        return wrapper

    for name in ("collect", "toPandas", "take", "tail"):
        monkeypatch.setattr(frame_class, name, counted(name, getattr(frame_class, name)))
    for name in ("toArrow", "toLocalIterator"):
        monkeypatch.setattr(frame_class, name, lambda *a, _n=name, **k: pytest.fail(f"the CLV step called {_n}"))
    return seen


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return _intermediate_tables()


@pytest.fixture(scope="module")
def duckdb_run(tables: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = RunConfig(transactions="unused", warehouse=tmp_path_factory.mktemp("duck") / "w.duckdb")
    config.work.parent.mkdir(parents=True)
    with duckdb.connect(str(config.work)) as con:
        con.execute("create schema intermediate")
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"create table intermediate.{name} as select * from frame")
            con.unregister("frame")
    clv_step(config)
    return config.work


@pytest.fixture(scope="module")
def spark_run(
    tables: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[tuple[str, int]]]:
    config = RunConfig(transactions="unused", warehouse=tmp_path_factory.mktemp("spark") / "w", target="spark")
    spark = get_session(config.work)
    spark.sql("create database if not exists intermediate")
    for name, frame in tables.items():
        spark.createDataFrame(frame, schema=SCHEMAS[name]).write.format("parquet").saveAsTable(f"intermediate.{name}")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(ROWS_PER_BATCH))
    with pytest.MonkeyPatch.context() as monkeypatch:
        seen = _collect_counter(monkeypatch, type(spark.sql("select 1")))  # the session's DataFrame class
        clv_step(config)
    return config.work, seen


def _spark_rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in get_session(warehouse).sql(sql).collect()]


def test_the_input_has_many_more_customers_than_distinct_summary_rows(tables: dict[str, pd.DataFrame]) -> None:
    summary = tables["int_customers_summarized"]
    distinct = summary[["frequency", "recency_days", "tenure_days"]].drop_duplicates()
    assert len(summary) == N_CUSTOMERS
    assert len(distinct) <= TEMPLATES <= N_CUSTOMERS / 50


def test_nothing_per_customer_reaches_the_driver(
    spark_run: tuple[Path, list[tuple[str, int]]], tables: dict[str, pd.DataFrame]
) -> None:
    _, seen = spark_run
    summary = tables["int_customers_summarized"]
    n_distinct = len(summary[["frequency", "recency_days", "tenure_days"]].drop_duplicates())
    assert seen, "the wrapper saw no collect at all"
    assert max(rows for _, rows in seen) <= n_distinct
    assert sum(rows for _, rows in seen) < N_CUSTOMERS / 10


def test_spark_scores_every_customer_as_the_duckdb_engine_does(
    spark_run: tuple[Path, list[tuple[str, int]]], duckdb_run: Path
) -> None:
    warehouse, _ = spark_run
    sql = "select * from clv.customer_scores order by customer_id"
    spark_rows = _spark_rows(warehouse, sql)
    with duckdb.connect(str(duckdb_run), read_only=True) as con:
        duck_rows = con.execute(sql).fetchall()
        names = [d[0] for d in con.execute(sql).description]
    assert len(spark_rows) == len(duck_rows) == N_CUSTOMERS
    assert [f.name for f in get_session(warehouse).table("clv.customer_scores").schema.fields] == names
    assert _differences(names, duck_rows, spark_rows) == []
    # the scores are real numbers, not all missing
    assert sum(row[names.index("predicted_clv_365d")] is not None for row in spark_rows) == N_CUSTOMERS


def test_spark_holdout_check_and_fits_are_the_duckdb_engines(
    spark_run: tuple[Path, list[tuple[str, int]]], duckdb_run: Path
) -> None:
    warehouse, _ = spark_run
    holdout_sql = "select * from clv.holdout_validation order by model_name, bucket_order"
    fits_sql = (
        "select model_name, fit_purpose, param_r, param_alpha, param_a, param_b, param_s, param_beta, param_p,"
        " param_q, param_gamma, log_likelihood, n_customers, converged, is_selected, as_of_date,"
        " calibration_end_date from clv.model_fits order by model_name, fit_purpose"
    )
    with duckdb.connect(str(duckdb_run), read_only=True) as con:
        duck = {
            sql: (con.execute(sql).fetchall(), [d[0] for d in con.execute(sql).description])
            for sql in (holdout_sql, fits_sql)
        }
    for sql, (duck_rows, names) in duck.items():
        spark_rows = _spark_rows(warehouse, sql)
        assert len(spark_rows) == len(duck_rows) > 0
        assert _differences(names, duck_rows, spark_rows) == []
    holdout, names = duck[holdout_sql]
    totals = [row for row in holdout if row[names.index("frequency_bucket")] == "total"]
    # every CDNOW customer's first purchase is in 1997 Q1, before the calibration end (as-of - 365 days)
    assert [row[names.index("n_customers")] for row in totals] == [N_CUSTOMERS] * 2


def _differences(names: list[str], left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> list[Any]:
    out = []
    for a, b in zip(left, right, strict=True):
        for name, x, y in zip(names, a, b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                same = (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)
            else:
                same = x == y
            if not same:
                out.append((a[0], name, x, y))
    return out[:5]


def teardown_module() -> None:
    stop_session()
