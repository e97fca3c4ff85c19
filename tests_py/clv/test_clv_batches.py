"""The CLV step's split of the model work (loyalty.clv.batches, loyalty.clv.tables' SQL): fits
on compressed rows, scoring and the holdout check on batches of customers, give what the
per-customer functions give on all customers at once."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import CDNOW_AS_OF, CDNOW_CALIBRATION_END
from loyalty.clv import holdout_validation, score_customers
from loyalty.clv.batches import (
    CustomerScorer,
    HoldoutPredictor,
    fit_holdout_models,
    fit_scoring_models,
    holdout_tables,
)
from loyalty.clv.bgbb import last_complete_period_end, opportunity_summary
from loyalty.clv.summary import purchase_days, summarize_purchase_days
from loyalty.clv.tables import (
    SCORE_COLUMNS,
    calibration_rows_sql,
    holdout_customers_sql,
    opportunity_rows_sql,
)
from loyalty.engines.duckdb import days_between

AS_OF = dt.date.fromisoformat(CDNOW_AS_OF)
CAL_END = dt.date.fromisoformat(CDNOW_CALIBRATION_END)
# scores that come from the transaction models only (Gamma-Gamma's fit is on other rows: below)
TRANSACTION_SCORES = [
    "p_alive_bg_nbd",
    "p_alive_pareto_nbd",
    "p_alive",
    "churn_probability",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "p_purchase_30d",
    "p_purchase_90d",
    "median_days_to_next_purchase_365d",
]


@pytest.fixture(scope="module")
def days(cdnow_transactions: pd.DataFrame) -> pd.DataFrame:
    return purchase_days(cdnow_transactions, until=AS_OF)


@pytest.fixture(scope="module")
def con(days: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """intermediate.int_customer_purchase_days of the CDNOW sample, in memory."""
    con = duckdb.connect()
    con.execute("create schema intermediate")
    frame = pd.DataFrame(
        {
            "customer_id": days["customer_id"].astype(str),
            "purchase_date": days["day"].dt.date,
            "purchase_amount": days["amount"],
        }
    )
    con.register("frame", frame)
    con.execute("create table intermediate.int_customer_purchase_days as select * from frame")
    return con


@pytest.fixture(scope="module")
def summary(days: pd.DataFrame) -> pd.DataFrame:
    return summarize_purchase_days(days, AS_OF)


def _split(frame: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    bounds = np.linspace(0, len(frame), n + 1).astype(int)
    return [frame.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _compressed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.groupby(keys, as_index=False).size().rename(columns={"size": "n_customers"})


def test_batches_score_as_score_customers_on_all_customers(summary: pd.DataFrame) -> None:
    expected, fits = score_customers(summary, churn_model="pareto_nbd")
    models = fit_scoring_models(
        _compressed(summary, ["frequency", "recency_days", "tenure_days"]),
        _compressed(summary, ["frequency", "monetary_value"]),
        "weeks",
        "pareto_nbd",
    )
    # the transaction fits on the compressed rows are the fits on one row per customer
    assert models.bg_nbd.params == fits[0].params and models.pareto_nbd.params == fits[1].params
    scorer = CustomerScorer(models, "weeks", "pareto_nbd", 1.0, 0.10)
    batches = pd.concat([scorer(part) for part in _split(summary.sample(frac=1.0, random_state=3), 7)])
    batches = batches.set_index("customer_id").loc[summary["customer_id"]].reset_index()
    one_pass = scorer(summary)
    assert list(one_pass.columns) == [*SCORE_COLUMNS, "churn_model"]
    assert set(one_pass["churn_model"]) == {"pareto_nbd"}
    # a batch's scores do not depend on the other customers in it
    pd.testing.assert_frame_equal(batches, one_pass, check_exact=False, rtol=1e-12, atol=1e-15)
    pd.testing.assert_frame_equal(
        one_pass[TRANSACTION_SCORES], expected[TRANSACTION_SCORES], check_exact=False, rtol=1e-12, atol=1e-15
    )
    # Gamma-Gamma fitted on distinct (frequency, monetary value) rows: the same optimum to the
    # optimiser's tolerance (the sums run in another order)
    assert models.gamma_gamma.result is not None
    for name in ("p", "q", "gamma"):
        assert models.gamma_gamma.result.params[name] == pytest.approx(fits[2].params[name], rel=1e-6)
    for column in (
        "expected_avg_order_value",
        "predicted_clv_365d",
        "predicted_clv_365d_p10",
        "predicted_clv_365d_p90",
    ):
        np.testing.assert_allclose(one_pass[column], expected[column], rtol=1e-6)


def test_scorer_reports_models_that_are_not_usable_once(summary: pd.DataFrame) -> None:
    few = summary.head(3)
    models = fit_scoring_models(
        _compressed(few, ["frequency", "recency_days", "tenure_days"]),
        _compressed(few, ["frequency", "monetary_value"]),
        "weeks",
        "bg_nbd",
    )
    scorer = CustomerScorer(models, "weeks", "bg_nbd", 1.0, 0.10)
    scores = scorer(few)
    assert scores["p_alive"].isna().all() and scores["predicted_clv_365d"].isna().all()
    messages = scorer.warnings()
    assert any(m.startswith("score_customers: NaN scores for model(s) that are not usable") for m in messages)


def test_holdout_check_on_batches_equals_holdout_validation(
    cdnow_transactions: pd.DataFrame, con: duckdb.DuckDBPyConnection
) -> None:
    expected = holdout_validation(cdnow_transactions, CAL_END, AS_OF, time_unit="weeks")
    calibration = con.execute(calibration_rows_sql(CAL_END, AS_OF, days_between)).df()
    customers = con.execute(holdout_customers_sql(CAL_END, AS_OF, days_between)).df()
    models = fit_holdout_models(calibration, "weeks")
    for name, model in models.items():
        fit = expected["fits"].set_index("model").loc[name]
        assert model.result is not None
        assert model.result.params == {k: fit[f"param_{k}"] for k in model.result.params}
    predictor = HoldoutPredictor(models, "weeks", (AS_OF - CAL_END).days)
    parts = pd.concat([predictor(part) for part in _split(customers, 5)])
    frame, totals = holdout_tables(parts, models, CAL_END, AS_OF)

    by_frequency = expected["by_frequency"].set_index("frequency_bucket")
    per_customer = expected["customers"]
    for name in ("bg_nbd", "pareto_nbd"):
        rows = frame[frame["model_name"] == name].set_index("frequency_bucket")
        buckets = [b for b in rows.index if b != "total"]
        assert buckets == list(by_frequency.index)
        np.testing.assert_array_equal(rows.loc[buckets, "n_customers"], by_frequency["n_customers"])
        np.testing.assert_allclose(rows.loc[buckets, "actual_repeat_purchases"], by_frequency["actual_total"])
        np.testing.assert_allclose(
            rows.loc[buckets, "predicted_repeat_purchases"], by_frequency[f"predicted_total_{name}"], rtol=1e-12
        )
        errors = (per_customer[f"predicted_holdout_{name}"] - per_customer["actual_holdout"]).abs()
        mae = errors.groupby(per_customer["frequency_bucket"]).mean()
        np.testing.assert_allclose(rows.loc[buckets, "mean_absolute_error"], mae.loc[buckets], rtol=1e-12)
        total = expected["totals"].set_index("model").loc[name]
        mine = totals.set_index("model").loc[name]
        assert (rows.loc["total", "n_customers"], mine["n_customers"]) == (total["n_customers"], 2357)
        assert rows.loc["total", "actual_repeat_purchases"] == total["actual_total"] == 1882.0
        assert rows.loc["total", "predicted_repeat_purchases"] == pytest.approx(total["predicted_total"], rel=1e-12)
        assert mine["mean_absolute_error"] == pytest.approx(total["mean_absolute_error"], rel=1e-12)


def test_holdout_tables_from_hand_made_sums() -> None:
    # two batches of one bucket each, then the "0" bucket again: 2 + 1 customers in "0", 4 in "7+"
    sums = pd.DataFrame(
        {
            "frequency_bucket": ["0", "7+", "0"],
            "n_customers": [2, 4, 1],
            "actual_total": [1.0, 10.0, 0.0],
            "predicted_total_bg_nbd": [0.5, 12.0, 0.25],
            "predicted_total_pareto_nbd": [0.75, 9.0, 0.5],
            "absolute_error_bg_nbd": [1.5, 4.0, 0.25],
            "absolute_error_pareto_nbd": [1.25, 3.0, 0.5],
        }
    )
    models = fit_holdout_models(  # too few customers: not converged, so its errors are NaN
        pd.DataFrame({"frequency": [0], "recency_days": [0], "tenure_days": [7], "n_customers": [1]}), "weeks"
    )
    frame, totals = holdout_tables(sums, models, CAL_END, AS_OF)
    assert totals["converged"].tolist() == [False, False]
    rows = frame.set_index(["model_name", "frequency_bucket"])
    assert rows.loc[("bg_nbd", "0"), "n_customers"] == 3
    assert rows.loc[("bg_nbd", "0"), "predicted_repeat_purchases"] == 0.75
    assert rows.loc[("bg_nbd", "total"), "actual_repeat_purchases"] == 11.0
    assert pd.isna(rows.loc[("bg_nbd", "total"), "predicted_repeat_purchases"])
    assert pd.isna(rows.loc[("pareto_nbd", "7+"), "mean_absolute_error"])
    assert rows["bucket_order"].tolist() == [0, 7, 8, 0, 7, 8]


def test_holdout_tables_mean_absolute_error_is_the_errors_over_the_customers(
    con: duckdb.DuckDBPyConnection,
) -> None:
    calibration = con.execute(calibration_rows_sql(CAL_END, AS_OF, days_between)).df()
    models = fit_holdout_models(calibration, "weeks")
    sums = pd.DataFrame(
        {
            "frequency_bucket": ["1", "2"],
            "n_customers": [4, 2],
            "actual_total": [2.0, 3.0],
            "predicted_total_bg_nbd": [1.0, 2.0],
            "predicted_total_pareto_nbd": [3.0, 4.0],
            "absolute_error_bg_nbd": [2.0, 1.0],
            "absolute_error_pareto_nbd": [1.0, 3.0],
        }
    )
    frame, totals = holdout_tables(sums, models, CAL_END, AS_OF)
    rows = frame.set_index(["model_name", "frequency_bucket"])
    assert rows.loc[("bg_nbd", "1"), "mean_absolute_error"] == 0.5  # 2 / 4
    assert rows.loc[("pareto_nbd", "2"), "mean_absolute_error"] == 1.5  # 3 / 2
    assert rows.loc[("bg_nbd", "total"), "mean_absolute_error"] == 0.5  # (2 + 1) / 6
    assert rows.loc[("pareto_nbd", "total"), "predicted_repeat_purchases"] == 7.0
    assert totals.set_index("model").loc["pareto_nbd", "mean_absolute_error"] == pytest.approx(4 / 6)


def test_calibration_sql_is_the_pandas_calibration_summary(con: duckdb.DuckDBPyConnection, days: pd.DataFrame) -> None:
    expected = summarize_purchase_days(days, CAL_END)
    customers = con.execute(holdout_customers_sql(CAL_END, AS_OF, days_between)).df()
    customers = customers.sort_values("customer_id", key=lambda ids: ids.astype(int)).reset_index(drop=True)
    assert customers["customer_id"].tolist() == expected["customer_id"].astype(str).tolist()
    for column in ("frequency", "recency_days", "tenure_days"):
        assert customers[column].tolist() == expected[column].tolist(), column
    later = days[days["day"] > pd.Timestamp(CAL_END)].groupby("customer_id").size()
    assert customers["actual_holdout"].sum() == later.sum() == 1882
    rows = con.execute(calibration_rows_sql(CAL_END, AS_OF, days_between)).df()
    assert rows["n_customers"].sum() == len(expected) == 2357
    assert len(rows) == len(expected[["frequency", "recency_days", "tenure_days"]].drop_duplicates())


@pytest.mark.parametrize(
    ("period", "as_of"),
    [("month", dt.date(1998, 5, 15)), ("quarter", dt.date(1998, 5, 15)), ("year", dt.date(1998, 12, 31))],
)
def test_opportunity_sql_is_the_compressed_opportunity_summary(
    con: duckdb.DuckDBPyConnection, days: pd.DataFrame, period: str, as_of: dt.date
) -> None:
    frame = pd.DataFrame({"customer_id": days["customer_id"], "transaction_date": days["day"]})
    expected = opportunity_summary(frame, as_of, period)
    expected = expected[expected["n_periods"] > 0]
    expected = _compressed(expected, ["frequency", "recency", "n_periods"])
    got = con.execute(opportunity_rows_sql(last_complete_period_end(as_of, period), period)).df()
    got = got.sort_values(["frequency", "recency", "n_periods"]).reset_index(drop=True)
    assert got.astype("int64").to_dict("list") == expected.astype("int64").to_dict("list")
    assert len(got) > 0
