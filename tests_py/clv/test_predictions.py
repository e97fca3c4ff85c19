"""The predictions teams act on (loyalty.clv.predictions): closed forms by hand, a numerical
integral, brute force over days and seeded parameter draws as independent computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from loyalty.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel, predictions
from loyalty.clv.score import FittedModels, clv_steps, compute_scores, discounted_clv, prepare_summary
from loyalty.clv.simulate import simulate_summary

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
# CDNOW customer 1 in weeks: 2 repeat purchases, last at 213 days, observed 272 days
X, TX, T = 2.0, 213 / 7, 272 / 7


def test_bg_nbd_probability_of_a_purchase_within_30_days_by_hand() -> None:
    model = BetaGeoModel.from_params(BG)
    t = 30 / 7
    # P(alive) = 0.7266 (test_clv_formulas); (43.271 / 47.557)^2.243 = 0.90988^2.243 = 0.8091
    no_purchase_if_alive = ((BG["alpha"] + T) / (BG["alpha"] + T + t)) ** (BG["r"] + X)
    assert no_purchase_if_alive == pytest.approx(0.8091, abs=1e-4)
    expected = model.p_alive(X, TX, T)[0] * (1 - no_purchase_if_alive)
    assert expected == pytest.approx(0.7266 * 0.1909, abs=2e-4)
    got = predictions.p_purchase_within(model, t, np.array([X]), np.array([TX]), np.array([T]))[0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_bg_nbd_new_customer_matches_the_papers_p_x_t_equals_zero() -> None:
    # FHL05 eq. 8 with x = 0: P(X(t) = 0) = (alpha / (alpha + t))^r for a new customer
    model = BetaGeoModel.from_params(BG)
    got = predictions.p_purchase_within(model, 10.0, np.array([0.0]), np.array([0.0]), np.array([0.0]))[0]
    assert got == pytest.approx(1 - (BG["alpha"] / (BG["alpha"] + 10.0)) ** BG["r"], rel=1e-12)


@pytest.mark.parametrize(("x", "t_obs", "t"), [(2.0, 272 / 7, 30 / 7), (0.0, 60.0, 90 / 7), (7.0, 20.0, 12.0)])
def test_pareto_nbd_no_purchase_if_alive_equals_a_seeded_simulation(x: float, t_obs: float, t: float) -> None:
    # given alive at T: lambda ~ Gamma(r + x, alpha + T), mu ~ Gamma(s, beta + T) independent;
    # no purchase in (T, T + t] iff the first purchase comes after min(death, t)
    r, alpha, s, beta = PNBD.values()
    rng = np.random.default_rng(7)
    n = 2_000_000
    lam = rng.gamma(r + x, 1 / (alpha + t_obs), n)
    mu = rng.gamma(s, 1 / (beta + t_obs), n)
    death = rng.exponential(1 / mu)
    first_purchase = rng.exponential(1 / lam)
    simulated = np.mean(first_purchase > np.minimum(death, t))
    model = ParetoNBDModel.from_params(PNBD)
    got = predictions.p_no_purchase_if_alive(model, t, np.array([x]), np.array([t_obs]))[0]
    assert got == pytest.approx(simulated, abs=1.5e-3)  # 4 standard errors of the simulation


@pytest.mark.parametrize(
    "model", [BetaGeoModel.from_params(BG), ParetoNBDModel.from_params(PNBD)], ids=["bg_nbd", "pareto_nbd"]
)
def test_median_days_to_next_purchase_is_the_first_day_with_an_even_chance(model: BetaGeoModel) -> None:
    rng = np.random.default_rng(3)
    t_obs = rng.uniform(1, 78, 300)
    x = rng.integers(0, 15, 300).astype(float)
    tx = np.where(x > 0, t_obs * rng.uniform(0.3, 1.0, 300), 0.0)
    got = predictions.median_days_to_next_purchase(model, x, tx, t_obs, days_per_unit=7.0, horizon_days=365)
    days = np.arange(1, 366, dtype=float)
    brute = np.full(300, np.nan)
    for i in range(300):
        p = predictions.p_purchase_within(
            model, days / 7, np.full(365, x[i]), np.full(365, tx[i]), np.full(365, t_obs[i])
        )
        reached = np.flatnonzero(p >= 0.5)
        brute[i] = days[reached[0]] if reached.size else np.nan
    np.testing.assert_array_equal(got, brute)
    assert np.isnan(got).any() and np.isfinite(got).any()


def test_median_days_is_null_for_a_customer_who_is_probably_gone() -> None:
    model = BetaGeoModel.from_params(BG)
    # 5 repeat purchases in the first week, then silence for a year and a half: P(alive) ~ 0
    x, tx, t_obs = np.array([5.0]), np.array([1.0]), np.array([78.0])
    assert model.p_alive(x, tx, t_obs)[0] < 0.01
    assert np.isnan(predictions.median_days_to_next_purchase(model, x, tx, t_obs, days_per_unit=7.0))[0]


def test_median_days_by_hand_for_a_bg_nbd_customer() -> None:
    # P(alive) = 0.7266: (1 - 1/(2 * 0.7266))^(-1/2.243) - 1 = 0.31185^-0.44583 - 1 = 0.6812;
    # x (4.414 + 38.857) = 29.475 weeks = 206.3 days
    model = BetaGeoModel.from_params(BG)
    got = predictions.median_days_to_next_purchase(
        model, np.array([X]), np.array([TX]), np.array([T]), days_per_unit=7.0
    )[0]
    assert got == 207.0  # the first whole day past 206.3


def test_clv_percentiles_match_seeded_parameter_draws() -> None:
    summary = simulate_summary(3000, np.random.default_rng(5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_summary(summary, "weeks")
        models = FittedModels(
            bg_nbd=BetaGeoModel("weeks").fit_rows(prepared.rows),
            pareto_nbd=ParetoNBDModel("weeks").fit_rows(prepared.rows),
            gamma_gamma=GammaGammaModel().fit(prepared.frequency, prepared.monetary),
        )
        scores = compute_scores(prepared, models, churn_model="bg_nbd")
    cov_bg = models.bg_nbd.covariance_log(prepared.rows)
    assert models.gamma_gamma.result is not None
    cov_gg = models.gamma_gamma.result.covariance_log
    assert cov_bg is not None and cov_gg is not None
    rng = np.random.default_rng(20261129)
    n_draws = 400
    pick = np.arange(0, 3000, 150)  # 20 customers
    x = summary["frequency"].to_numpy()[pick].astype(float)
    tx = summary["recency_days"].to_numpy()[pick] / 7
    t_obs = summary["tenure_days"].to_numpy()[pick] / 7
    m = summary["monetary_value"].to_numpy(dtype=float, na_value=np.nan)[pick]
    n_steps, step_days = clv_steps(365)
    step_rate = 1.10 ** (step_days / 365) - 1
    theta_bg = np.log(list(models.bg_nbd.params.values()))
    theta_gg = np.log(list(models.gamma_gamma.result.params.values()))
    draws = np.empty((n_draws, pick.size))
    for k in range(n_draws):
        bg = BetaGeoModel.from_params(dict(zip(BG, np.exp(rng.multivariate_normal(theta_bg, cov_bg)), strict=True)))
        gg_params = dict(zip(("p", "q", "gamma"), np.exp(rng.multivariate_normal(theta_gg, cov_gg)), strict=True))
        cumulative = bg.expected_purchases_horizons([step_days * j / 7 for j in range(1, n_steps + 1)], x, tx, t_obs)
        value = GammaGammaModel.from_params(gg_params).expected_avg_value(x, m)
        draws[k] = discounted_clv(cumulative, value, 1.0, step_rate)
    p10, p90 = np.percentile(draws, [10, 90], axis=0)
    width = p90 - p10
    got10 = scores["predicted_clv_365d_p10"].to_numpy()[pick]
    got90 = scores["predicted_clv_365d_p90"].to_numpy()[pick]
    # the delta method against 400 draws: percentile noise is ~ 10% of the width
    assert np.all(np.abs(got10 - p10) <= 0.2 * width + 1e-9)
    assert np.all(np.abs(got90 - p90) <= 0.2 * width + 1e-9)
    clv = scores["predicted_clv_365d"].to_numpy()[pick]
    assert np.all(got10 < clv) and np.all(clv < got90)
