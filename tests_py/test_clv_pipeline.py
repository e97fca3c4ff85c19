"""The CLV step inside the pipeline: published CDNOW estimates reproduced from the warehouse,
scores joined into dim_customers, fit history, and graceful handling of too little data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import FIXTURES, connect
from loyalty.clv.bgbb import fit_bgbb
from loyalty.clv_step import ClvConfigError, ClvSettings
from loyalty.pipeline import RunConfig, clv_step

PUBLISHED = {
    # Fader, Hardie & Lee (2005), CDNOW calibration 1997-01-01..1997-09-30, weeks
    "bg_nbd": ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    "pareto_nbd": ({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
}


@pytest.mark.parametrize("model", ["bg_nbd", "pareto_nbd"])
def test_holdout_calibration_fit_reproduces_published_cdnow_estimates(cdnow_warehouse: Path, model: str) -> None:
    params, log_likelihood = PUBLISHED[model]
    columns = ", ".join(f"param_{name}" for name in params)
    with connect(cdnow_warehouse) as con:
        row = con.execute(
            f"select {columns}, log_likelihood, n_customers, time_unit, is_converged, calibration_end_date"
            " from marts.rpt_clv_model_fits where model_name = ? and fit_purpose = 'holdout_calibration'",
            [model],
        ).fetchone()
    assert row is not None
    *fitted, ll, n_customers, unit, converged, calibration_end = row
    assert [round(v, 3) for v in fitted] == list(params.values())
    assert round(ll, 1) == log_likelihood
    assert (n_customers, unit, converged, str(calibration_end)) == (2357, "weeks", True, "1997-09-30")


def test_holdout_validation_counts_the_published_1882_holdout_repeat_purchases(cdnow_warehouse: Path) -> None:
    with connect(cdnow_warehouse) as con:
        totals = con.execute(
            "select model_name, n_customers, actual_repeat_purchases, predicted_repeat_purchases, mean_absolute_error"
            " from marts.rpt_clv_holdout_validation where frequency_bucket = 'total' order by 1"
        ).fetchall()
        buckets = con.execute(
            "select frequency_bucket, sum(n_customers) from marts.rpt_clv_holdout_validation"
            " where model_name = 'bg_nbd' and frequency_bucket != 'total' group by 1 order by min(bucket_order)"
        ).fetchall()
    assert [(m, n, actual) for m, n, actual, _, _ in totals] == [("bg_nbd", 2357, 1882.0), ("pareto_nbd", 2357, 1882.0)]
    # the published paper's calibration facts: 1,411 customers without a repeat purchase
    assert buckets[0] == ("0", 1411)
    assert [b for b, _ in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(n for _, n in buckets) == 2357
    # both models under-forecast the holdout a little, as in the paper's tracking plots
    for _, _, actual, predicted, mae in totals:
        assert 0.85 * actual < predicted < actual
        assert 0 < mae < 1


def test_auto_churn_model_is_the_one_with_lower_holdout_error(cdnow_warehouse: Path) -> None:
    with connect(cdnow_warehouse) as con:
        best = con.execute(
            "select model_name from marts.rpt_clv_holdout_validation where frequency_bucket = 'total'"
            " order by mean_absolute_error limit 1"
        ).fetchone()[0]
        selected = con.execute(
            "select model_name from marts.rpt_clv_model_fits where is_selected_churn_model"
        ).fetchall()
        used = con.execute("select distinct churn_model from marts.dim_customers").fetchall()
    assert selected == [(best,)]
    assert used == [(best,)]


def test_dim_customers_carries_probabilities_and_clv(cdnow_warehouse: Path) -> None:
    with connect(cdnow_warehouse) as con:
        (n, bad_range, one_time, one_time_alive, bad_complement, negative_clv, hist_mismatch, null_scores) = (
            con.execute(  # type: ignore[misc]  # fetchone() is None only without a row; the unpacking then fails the test
                """
            select
                count(*),
                count(case when p_alive not between 0 and 1 or churn_probability not between 0 and 1 then 1 end),
                count(case when frequency = 0 then 1 end),
                count(case when frequency = 0 and p_alive_bg_nbd = 1 then 1 end),
                count(case when abs(churn_probability - (1 - p_alive)) > 1e-12 then 1 end),
                count(case when predicted_clv_365d < 0 then 1 end),
                count(case when historical_clv != total_revenue then 1 end),
                count(case when p_alive is null or predicted_clv_365d is null
                           or expected_purchases_365d < expected_purchases_90d then 1 end)
            from marts.dim_customers
            """
            ).fetchone()
        )
    assert n == 2357
    assert bad_range == bad_complement == negative_clv == hist_mismatch == null_scores == 0
    # under BG/NBD a customer who never bought again cannot have dropped out: P(alive) = 1
    assert one_time == one_time_alive == 1218


def test_each_run_appends_its_fits_to_the_history(cdnow_warehouse: Path, tmp_path: Path) -> None:
    config = RunConfig(transactions="unused", warehouse=tmp_path / "copy.duckdb", variables={"churn_model": "bg_nbd"})
    config.work.parent.mkdir()
    shutil.copy(cdnow_warehouse, config.work)  # the step reads and writes the run's work file
    with connect(config.work) as con:
        before = con.execute("select count(*), count(distinct run_id) from clv.model_fits").fetchone()
    report = clv_step(config)
    with connect(config.work) as con:
        after = con.execute("select count(*), count(distinct run_id) from clv.model_fits").fetchone()
        used = con.execute("select distinct churn_model from clv.customer_scores").fetchall()
    # the fixture run: 3 scoring fits, 2 holdout fits and the BG/BB fit (its dbt var bgbb_period)
    assert before == (6, 1)
    # this run, without bgbb_period: 3 scoring fits + 2 holdout fits (calibration end: as-of - 365 days)
    assert after == (11, 2)
    assert report.churn_model == "bg_nbd" and report.churn_model_reason == "set by the dbt var churn_model"
    assert used == [("bg_nbd",)]


def test_too_few_customers_gives_null_predictions_and_reported_fits(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        fits = con.execute(
            "select model_name, is_converged, n_customers, message from marts.rpt_clv_model_fits order by 1"
        ).fetchall()
        scores = con.execute(
            "select count(*), count(p_alive), count(predicted_clv_365d), count(historical_clv) from marts.dim_customers"
        ).fetchone()
    assert [(m, c, n) for m, c, n, _ in fits] == [
        ("bg_nbd", False, 4),
        ("gamma_gamma", False, 2),
        ("pareto_nbd", False, 4),
    ]
    assert all("fewer than" in message for *_, message in fits)
    assert scores == (4, 0, 0, 4)


def test_a_run_without_subscriptions_builds_no_subscription_marts(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        sbg_fits = con.execute("select count(*) from marts.rpt_clv_model_fits where model_name = 'sbg'").fetchone()
    assert not tables & {"rpt_subscription_survival", "rpt_subscriber_lifetimes", "rejected_subscriptions"}
    assert sbg_fits == (0,)


def _independent_month_summary(warehouse: Path) -> pd.DataFrame:
    """(x, t_x, n) per customer in calendar months, as SQL on the published fct_transactions
    (purchases only), independently of loyalty.clv.bgbb.opportunity_summary. June 1998, the
    month of the as-of date 1998-06-30, is complete."""
    last = 1998 * 12 + 6 - 1
    with connect(warehouse) as con:
        return con.execute(
            f"""
            with months as (
                select distinct customer_id, year(transaction_date) * 12 + month(transaction_date) - 1 as m
                from marts.fct_transactions where not is_refund
            ),
            firsts as (select customer_id, min(m) as f from months group by 1)
            select
                customer_id,
                count(*) filter (where m > f and m <= {last}) as x,
                coalesce(max(m) filter (where m > f and m <= {last}) - f, 0) as t_x,
                {last} - f as n
            from months join firsts using (customer_id)
            group by customer_id, f
            having {last} - f > 0
            """
        ).df()


def test_bgbb_period_var_records_a_bg_bb_fit_equal_to_an_independent_fit(
    cdnow_warehouse: Path, fixture_warehouse: Path
) -> None:
    """The CDNOW run has the dbt var bgbb_period=month (conftest.cdnow_warehouse). Its other
    fits are those of a run without it: the published-figure tests above check them on the
    same warehouse; a run without the var (the fixture run) records no bg_bb fit."""
    with connect(cdnow_warehouse) as con:
        rows = con.execute(
            "select param_alpha, param_beta, param_gamma, param_delta, log_likelihood, n_customers, is_converged,"
            " time_unit, is_selected_churn_model, calibration_end_date, param_r, param_a, param_s"
            " from marts.rpt_clv_model_fits where model_name = 'bg_bb' and fit_purpose = 'discrete_opportunities'"
        ).fetchall()
        others = con.execute(
            "select model_name, fit_purpose from marts.rpt_clv_model_fits where model_name != 'bg_bb' order by 1, 2"
        ).fetchall()
    with connect(fixture_warehouse) as con:
        without_var = con.execute("select count(*) from marts.rpt_clv_model_fits where model_name = 'bg_bb'").fetchone()
    assert len(rows) == 1
    alpha, beta, gamma, delta, ll, n, converged, unit, selected, seen_until, *unused = rows[0]
    summary = _independent_month_summary(cdnow_warehouse)
    independent = fit_bgbb(summary["x"], summary["t_x"], summary["n"], period="month")
    assert independent.converged
    # every CDNOW customer's first purchase is in 1997 Q1: 15 to 17 whole months after it
    assert len(summary) == 2357 and sorted(summary["n"].unique()) == [15, 16, 17]
    assert (n, converged, unit, selected, str(seen_until)) == (2357, True, "month", False, "1998-06-30")
    fitted = {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}
    for name, value in independent.params.items():
        assert fitted[name] == pytest.approx(value, rel=1e-6), name
    assert ll == pytest.approx(independent.log_likelihood, abs=1e-6)
    assert unused == [None, None, None]
    # the BG/BB fit is added to the transaction models' fits, not instead of one
    assert others == [
        ("bg_nbd", "holdout_calibration"),
        ("bg_nbd", "scoring"),
        ("gamma_gamma", "scoring"),
        ("pareto_nbd", "holdout_calibration"),
        ("pareto_nbd", "scoring"),
    ]
    assert without_var == (0,)


def test_bgbb_period_var_accepts_month_quarter_year_or_nothing() -> None:
    assert ClvSettings.from_vars({}).bgbb_period is None
    assert ClvSettings.from_vars({"bgbb_period": None}).bgbb_period is None
    assert ClvSettings.from_vars({"bgbb_period": "year"}).bgbb_period == "year"
    with pytest.raises(ClvConfigError, match="bgbb_period must be month, quarter or year"):
        ClvSettings.from_vars({"bgbb_period": "week"})


def test_subscriptions_on_the_spark_engine_stop_in_one_sentence(tmp_path: Path) -> None:
    """sBG is DuckDB-only today: the Spark engine refuses to write the subscription tables, and
    the step (which asks the engine, not the target name) passes that sentence on."""
    import datetime as dt

    from loyalty.clv_step import subscription_step
    from loyalty.errors import LoyaltyError

    subs = tmp_path / "subscriptions.csv"
    subs.write_text("customer_id,started_at,ended_at,plan\ns1,2017-01-01,,basic\n")
    config = RunConfig(
        transactions=str(FIXTURES / "transactions.csv"),
        warehouse=tmp_path / "spark-warehouse",
        target="spark",
        variables={"subscriptions_path": str(subs), "clv_subscription_period": "year"},
    )
    with pytest.raises(LoyaltyError) as caught:
        subscription_step(config, dt.date(2024, 6, 30), "run-1")
    assert str(caught.value) == "The subscriptions input (--subscriptions) is supported with --target duckdb only."
    assert not (tmp_path / "spark-warehouse").exists()  # nothing written


def test_duckdb_scores_and_holdout_sums_do_not_depend_on_the_batch_size(
    cdnow_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DuckDB engine scores and checks the holdout in batches of CLV_BATCH_ROWS customers
    (its memory does not grow with the number of customers): 2,357 CDNOW customers in batches
    of 97 give the same clv.customer_scores and holdout sums as in one batch."""
    import datetime as dt

    from loyalty.clv.batches import (
        CustomerScorer,
        HoldoutPredictor,
        add_holdout_sums,
        fit_holdout_models,
        fit_scoring_models,
    )
    from loyalty.engines import duckdb as duckdb_engine

    work = tmp_path / "cdnow.duckdb"
    shutil.copyfile(cdnow_warehouse, work)
    engine = duckdb_engine.DuckDBEngine()
    inputs = engine.read_clv_fit_inputs(work)
    scorer = CustomerScorer(
        fit_scoring_models(inputs.transactions, inputs.spend, "weeks", "bg_nbd"), "weeks", "bg_nbd", 1.0, 0.1
    )
    cal_end, holdout_end = dt.date(1997, 9, 30), dt.date(1998, 6, 30)
    calibration = engine.read_calibration_rows(work, cal_end, holdout_end)
    predictor = HoldoutPredictor(fit_holdout_models(calibration, "weeks"), "weeks", (holdout_end - cal_end).days)

    def scores_and_sums() -> tuple[int, pd.DataFrame, pd.DataFrame]:
        n = engine.write_clv_scores(work, scorer)
        with connect(work) as con:
            scores = con.execute("select * from clv.customer_scores order by customer_id").df()
        return n, scores, add_holdout_sums(engine.holdout_sums(work, cal_end, holdout_end, predictor))

    n_one, scores_one, sums_one = scores_and_sums()
    monkeypatch.setattr(duckdb_engine, "CLV_BATCH_ROWS", 97)
    n_many, scores_many, sums_many = scores_and_sums()
    assert n_one == n_many == len(scores_many) == 2357
    pd.testing.assert_frame_equal(scores_one, scores_many)
    pd.testing.assert_frame_equal(sums_one, sums_many)
    assert int(sums_many["n_customers"].sum()) == 2357
    assert scores_many["p_alive"].notna().all()
