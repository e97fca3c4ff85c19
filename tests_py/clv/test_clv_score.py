"""score_customers on a small hand-made customer summary."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from loyalty.clv import BetaGeoModel, ClvWarning, ParetoNBDModel, predictions, score_customers
from loyalty.clv.score import clv_steps, discounted_clv
from loyalty.clv_step import SCORE_COLUMNS

# frequency, recency_days, tenure_days, typical spend per purchase day; each pattern is
# four customers whose spend spreads less the more purchases they made (so the
# Gamma-Gamma model can tell per-purchase noise from customer heterogeneity).
PATTERNS = [
    (0, 0, 300, 0.0),
    (0, 0, 200, 0.0),
    (0, 0, 100, 0.0),
    (0, 0, 30, 0.0),
    (1, 20, 300, 25.0),
    (1, 150, 250, 40.0),
    (2, 60, 280, 18.5),
    (2, 240, 260, 55.0),
    (3, 100, 300, 30.0),
    (4, 280, 290, 22.0),
    (6, 200, 310, 35.0),
    (9, 295, 300, 60.0),
]
SPREAD = (-0.5, -0.15, 0.15, 0.5)
# the columns of clv.customer_scores that the CLV step keeps from score_customers
COLUMNS = list(SCORE_COLUMNS)


def hand_made_summary() -> pd.DataFrame:
    rows = [
        (x, r, t, round(m * (1 + d / np.sqrt(max(x, 1))), 2) if x > 0 else 0.0)
        for (x, r, t, m) in PATTERNS
        for d in SPREAD
    ]
    frame = pd.DataFrame(rows, columns=["frequency", "recency_days", "tenure_days", "monetary_value"])
    frame.insert(0, "customer_id", [f"c{i:02d}" for i in range(len(frame))])
    return frame.sample(frac=1.0, random_state=1)  # input order must be preserved, whatever it is


def test_scores_have_one_row_per_customer_and_consistent_columns() -> None:
    summary = hand_made_summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores, fits = score_customers(summary, margin=0.3)
    assert list(scores.columns) == COLUMNS
    assert list(scores["customer_id"]) == list(summary["customer_id"])
    assert [f.model_name for f in fits] == ["bg_nbd", "pareto_nbd", "gamma_gamma"]
    assert all(f.converged for f in fits)
    assert fits[0].time_unit == fits[1].time_unit == "weeks" and fits[0].n_customers == 48
    assert fits[2].n_customers == 32  # repeat buyers
    np.testing.assert_array_equal(scores["p_alive"], scores["p_alive_bg_nbd"])  # "auto" = BG/NBD
    np.testing.assert_allclose(scores["churn_probability"], 1 - scores["p_alive"])
    one_time = summary["frequency"].to_numpy() == 0
    assert (scores.loc[one_time, "p_alive_bg_nbd"] == 1.0).all()
    always = [c for c in COLUMNS[1:] if c != "median_days_to_next_purchase_365d"]
    assert scores[always].notna().all().all()
    assert (scores["expected_purchases_365d"] > scores["expected_purchases_90d"]).all()
    # the median waiting time is null exactly when a purchase within 365 days is less likely than not
    within_year = predictions.p_purchase_within(
        BetaGeoModel.from_params(fits[0].params, "weeks"),
        365 / 7,
        summary["frequency"].to_numpy(dtype=float),
        summary["recency_days"].to_numpy() / 7,
        summary["tenure_days"].to_numpy() / 7,
    )
    np.testing.assert_array_equal(scores["median_days_to_next_purchase_365d"].isna(), within_year < 0.5)
    assert (scores["p_purchase_90d"] >= scores["p_purchase_30d"]).all()


def test_scores_match_the_fitted_models_and_the_clv_formula() -> None:
    summary = hand_made_summary()
    margin, annual = 0.3, 0.10
    scores, fits = score_customers(summary, margin=margin, annual_discount_rate=annual)
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency_days"].to_numpy() / 7
    t_obs = summary["tenure_days"].to_numpy() / 7
    m = summary["monetary_value"].to_numpy()
    bg = BetaGeoModel.from_params(fits[0].params, "weeks")
    pnbd = ParetoNBDModel.from_params(fits[1].params, "weeks")
    np.testing.assert_allclose(scores["p_alive_bg_nbd"], bg.p_alive(x, tx, t_obs), rtol=1e-12)
    np.testing.assert_allclose(scores["p_alive_pareto_nbd"], pnbd.p_alive(x, tx, t_obs), rtol=1e-12)
    expected_90d = bg.expected_purchases(90 / 7, x, tx, t_obs)
    np.testing.assert_allclose(scores["expected_purchases_90d"], expected_90d, rtol=1e-12)
    # frequency 0: the population mean p gamma / (q - 1); else p (gamma + m x) / (p x + q - 1)
    p, q, gamma = fits[2].params["p"], fits[2].params["q"], fits[2].params["gamma"]
    aov = np.where(x > 0, p * (gamma + m * x) / (p * x + q - 1), p * gamma / (q - 1))
    np.testing.assert_allclose(scores["expected_avg_order_value"], aov, rtol=1e-12)
    # CLV: 12 monthly steps of 365/12 days, discounted at (1.1)^(1/12) - 1 per month
    monthly = 1.1 ** (1 / 12) - 1
    clv = np.zeros(len(x))
    previous = np.zeros(len(x))
    for month in range(1, 13):
        cumulative = bg.expected_purchases(month * 365 / 12 / 7, x, tx, t_obs)
        clv += (cumulative - previous) * aov * margin / (1 + monthly) ** month
        previous = cumulative
    np.testing.assert_allclose(scores["predicted_clv_365d"], clv, rtol=1e-10)
    np.testing.assert_allclose(previous, scores["expected_purchases_365d"], rtol=1e-12)


def test_pareto_nbd_can_be_the_churn_model() -> None:
    summary = hand_made_summary()
    auto, _ = score_customers(summary)
    pareto, _ = score_customers(summary, churn_model="pareto_nbd")
    np.testing.assert_array_equal(pareto["p_alive"], pareto["p_alive_pareto_nbd"])
    np.testing.assert_array_equal(pareto["p_alive_bg_nbd"], auto["p_alive_bg_nbd"])
    assert not np.allclose(pareto["expected_purchases_365d"], auto["expected_purchases_365d"])
    bg_explicit, _ = score_customers(summary, churn_model="bg_nbd")
    pd.testing.assert_frame_equal(bg_explicit, auto)


def test_scores_do_not_depend_on_the_time_unit() -> None:
    """P(alive) and expectations are invariant to rescaling time (alpha, beta rescale)."""
    summary = hand_made_summary()
    weeks, weekly_fits = score_customers(summary, time_unit="weeks")
    days, daily_fits = score_customers(summary, time_unit="days")
    assert daily_fits[0].time_unit == "days"
    assert daily_fits[0].params["alpha"] == pytest.approx(7 * weekly_fits[0].params["alpha"], rel=1e-5)
    for column in COLUMNS[1:]:
        np.testing.assert_allclose(days[column], weeks[column], rtol=1e-5)


def test_too_few_customers_gives_nan_scores_and_warnings() -> None:
    summary = hand_made_summary().head(8)
    with pytest.warns(ClvWarning) as record:
        scores, fits = score_customers(summary)
    messages = " ".join(str(w.message) for w in record)
    assert "MIN_CUSTOMERS" in messages and "MIN_REPEAT_BUYERS" in messages and "NaN scores" in messages
    assert len(scores) == 8 and scores["customer_id"].tolist() == summary["customer_id"].tolist()
    assert scores[COLUMNS[1:]].isna().all().all()
    assert [f.converged for f in fits] == [False, False, False]


def test_a_failed_spend_model_only_blanks_spend_and_clv() -> None:
    summary = hand_made_summary()
    summary.loc[summary["frequency"] > 0, "monetary_value"] = 0.0  # no positive spend at all
    with pytest.warns(ClvWarning, match="gamma_gamma"):
        scores, fits = score_customers(summary)
    assert fits[0].converged and fits[1].converged and not fits[2].converged
    assert scores[["expected_avg_order_value", "predicted_clv_365d"]].isna().all().all()
    assert scores[["p_alive", "expected_purchases_365d"]].notna().all().all()


def test_invalid_arguments_are_rejected() -> None:
    summary = hand_made_summary()
    with pytest.raises(ValueError, match="churn_model"):
        score_customers(summary, churn_model="best")
    with pytest.raises(ValueError, match="time_unit"):
        score_customers(summary, time_unit="months")
    with pytest.raises(ValueError, match="missing column"):
        score_customers(summary.drop(columns="tenure_days"))


def test_discounted_clv_of_one_purchase_a_month() -> None:
    n_steps, step_days = clv_steps(365)
    # pytest.approx compares equal to a float, which mypy's strict equality cannot know
    assert (n_steps, step_days) == (12, pytest.approx(365 / 12))  # type: ignore[comparison-overlap]
    cumulative = np.arange(1.0, 13.0)[None, :]  # one expected purchase per month
    monthly = 1.1 ** (1 / 12) - 1
    annuity = (1 - 1.1**-1) / monthly  # sum_{m=1..12} (1 + monthly)^-m
    value = discounted_clv(cumulative, np.array([40.0]), 0.25, monthly)[0]
    assert value == pytest.approx(40.0 * 0.25 * annuity)
    assert annuity == pytest.approx(11.4005, abs=1e-4)
