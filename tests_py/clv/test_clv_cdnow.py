"""The fits reproduce the published CDNOW estimates (FHL 2005; Fader & Hardie's
Gamma-Gamma note) on the 2,357-customer sample, 39-week calibration, weeks, purchases
counted per distinct day."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from loyalty.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel, holdout_validation
from loyalty.clv.bgnbd import log_likelihood_individual as bg_nbd_loglik

CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"


def rounded(params: dict[str, float], digits: int) -> dict[str, float]:
    return {k: round(v, digits) for k, v in params.items()}


def test_calibration_summary_matches_the_published_facts(cdnow_calibration: pd.DataFrame) -> None:
    s = cdnow_calibration
    assert len(s) == 2357
    assert int((s["frequency"] == 0).sum()) == 1411
    assert int((s["frequency"] > 0).sum()) == 946
    assert int(s["frequency"].sum()) == 2457
    # customer 1: purchases 1997-01-01, 01-18, 08-02 in calibration (and 12-12 later)
    c1 = s.set_index("customer_id").loc[1]
    assert (c1["frequency"], c1["recency_days"], c1["tenure_days"]) == (2, 213, 272)
    assert c1["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_bg_nbd_reproduces_fhl_2005_estimates(cdnow_weeks: tuple[np.ndarray, ...]) -> None:
    result = BetaGeoModel(time_unit="weeks").fit(*cdnow_weeks).result
    assert result is not None
    assert result.converged, result.message
    assert rounded(result.params, 3) == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(result.log_likelihood, 1) == -9582.4
    assert (result.model_name, result.time_unit, result.n_customers) == ("bg_nbd", "weeks", 2357)


def test_pareto_nbd_reproduces_published_estimates(cdnow_weeks: tuple[np.ndarray, ...]) -> None:
    result = ParetoNBDModel(time_unit="weeks").fit(*cdnow_weeks).result
    assert result is not None
    assert result.converged, result.message
    assert rounded(result.params, 3) == {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    assert round(result.log_likelihood, 1) == -9595.0


def test_gamma_gamma_reproduces_published_estimates(cdnow_calibration: pd.DataFrame) -> None:
    s = cdnow_calibration
    result = GammaGammaModel().fit(s["frequency"], s["monetary_value"]).result
    assert result is not None
    assert result.converged, result.message
    assert result.n_customers == 946
    assert rounded(result.params, 2) == {"p": 6.25, "q": 3.74, "gamma": 15.44}
    assert round(result.log_likelihood, 1) == -4055.9


def test_T_measured_to_the_end_of_sept_30_does_not_reproduce_the_paper(cdnow_weeks: tuple[np.ndarray, ...]) -> None:
    """T to the end of 1997-09-30 (one day more) is the other plausible convention; it
    gives r = 0.242, a = 0.815, LL -9589.9, so the paper used T = 09-30 - first day."""
    x, tx, t_obs = cdnow_weeks
    result = BetaGeoModel().fit(x, tx, t_obs + 1 / 7).result
    assert result is not None and result.converged
    assert rounded(result.params, 3) != {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(result.log_likelihood, 1) == -9589.9


def test_fit_in_days_is_the_weekly_fit_rescaled(cdnow_weeks: tuple[np.ndarray, ...]) -> None:
    x, tx, t_obs = cdnow_weeks
    weeks = BetaGeoModel("weeks").fit(x, tx, t_obs).result
    days = BetaGeoModel("days").fit(x, tx * 7, t_obs * 7).result
    assert weeks is not None and days is not None and days.converged
    assert days.time_unit == "days"
    rescaled = days.in_time_unit("weeks").params
    for k, v in weeks.params.items():
        assert rescaled[k] == pytest.approx(v, rel=1e-5)
    # the densities of t_x differ by the Jacobian 7^x: LL_days = LL_weeks - sum(x) log 7
    assert days.log_likelihood == pytest.approx(weeks.log_likelihood - x.sum() * np.log(7), abs=1e-4)


def test_log_likelihood_is_the_sum_of_the_per_customer_terms(cdnow_weeks: tuple[np.ndarray, ...]) -> None:
    x, tx, t_obs = cdnow_weeks
    result = BetaGeoModel().fit(x, tx, t_obs).result
    assert result is not None
    assert bg_nbd_loglik(result.params, x, tx, t_obs).sum() == pytest.approx(result.log_likelihood, abs=1e-8)


def test_holdout_validation_counts_and_tracks_cdnow(cdnow_transactions: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both fits converge: no warning expected
        out = holdout_validation(cdnow_transactions, CALIBRATION_END, HOLDOUT_END, time_unit="weeks")
    by_freq = out["by_frequency"]
    assert list(by_freq["frequency_bucket"]) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert by_freq["n_customers"].sum() == 2357
    assert by_freq.set_index("frequency_bucket").loc["0", "n_customers"] == 1411
    assert by_freq["actual_total"].sum() == 1882  # README: repeat purchases in weeks 40-78

    totals = out["totals"].set_index("model")
    assert set(totals.index) == {"bg_nbd", "pareto_nbd"}
    assert (totals["actual_total"] == 1882).all()
    assert totals["converged"].all()
    customers = out["customers"]
    for model in ("bg_nbd", "pareto_nbd"):
        predicted = customers[f"predicted_holdout_{model}"]
        mae = (predicted - customers["actual_holdout"]).abs().mean()
        assert totals.loc[model, "mean_absolute_error"] == pytest.approx(mae)
        assert totals.loc[model, "predicted_total"] == pytest.approx(predicted.sum())
        assert by_freq[f"predicted_total_{model}"].sum() == pytest.approx(predicted.sum())
        # both models under-forecast this holdout somewhat (about 1,650-1,670 vs 1,882)
        assert 0.85 < totals.loc[model, "predicted_total"] / 1882 < 0.92
    # heavy buyers buy more in the holdout, and the models see it
    means = by_freq.set_index("frequency_bucket")
    assert means.loc["7+", "actual_mean"] > means.loc["1", "actual_mean"] > means.loc["0", "actual_mean"]
    assert means.loc["7+", "predicted_mean_bg_nbd"] > means.loc["1", "predicted_mean_bg_nbd"]

    tracking = out["tracking"]
    assert len(tracking) == 78
    assert tracking["period_end"].iloc[38] == pd.Timestamp(CALIBRATION_END)
    assert tracking["actual_cumulative"].iloc[38] == 2457
    assert tracking["actual_cumulative"].iloc[-1] == 2457 + 1882
    assert not tracking["is_holdout"].iloc[38] and tracking["is_holdout"].iloc[39]
    # in-sample, the expected cumulative repeat purchases are close to the actual ones
    assert tracking["expected_cumulative_bg_nbd"].iloc[38] == pytest.approx(2457, rel=0.03)


def test_a_fit_past_the_runs_time_budget_is_reported_not_converged(cdnow_weeks: tuple[np.ndarray, ...]) -> None:
    """dbt var clv_fit_time_budget_seconds (loyalty.clv_step) bounds every fit of the run: the
    CDNOW BG/NBD fit, which converges in well under a second, stops at its first likelihood
    evaluation under a budget of a nanosecond and comes back as not converged, without values."""
    from loyalty.clv.optimize import fit_time_budget
    from loyalty.clv_step import ClvConfigError, ClvSettings

    with fit_time_budget(1e-9), pytest.warns(UserWarning, match="did not converge"):
        stopped = BetaGeoModel(time_unit="weeks").fit(*cdnow_weeks).result
    assert not stopped.converged
    assert "stopped after its time budget of 1e-09 s without converging" in stopped.message
    assert all(np.isnan(v) for v in stopped.params.values())
    assert BetaGeoModel(time_unit="weeks").fit(*cdnow_weeks).result.converged  # the budget ended with the block
    assert ClvSettings.from_vars({}).fit_time_budget_seconds == 60.0
    assert ClvSettings.from_vars({"clv_fit_time_budget_seconds": "15"}).fit_time_budget_seconds == 15.0
    with pytest.raises(ClvConfigError, match="clv_fit_time_budget_seconds must be a number of seconds above 0"):
        ClvSettings.from_vars({"clv_fit_time_budget_seconds": 0})
