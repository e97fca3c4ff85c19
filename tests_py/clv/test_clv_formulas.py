"""Predictions checked against the closed forms written out by hand in the tests.

Parameters are the published CDNOW estimates (weeks), so the numbers are those a
reader would get from the papers with a calculator and a 2F1 table.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

from loyalty.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from loyalty.clv.bgnbd import log_likelihood_individual as bg_loglik
from loyalty.clv.paretonbd import log_likelihood_individual as pnbd_loglik
from loyalty.clv.special import expm1_ratio, hyp2f1, log_hyp2f1, log_hyp2f1_series

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# CDNOW customer 1 in weeks: 2 repeat purchases, last at 213 days, observed 272 days
X, TX, T = 2.0, 213 / 7, 272 / 7


# --------------------------------------------------------------------------- BG/NBD
def test_bg_nbd_p_alive_matches_the_closed_form() -> None:
    r, alpha, a, b = BG.values()
    by_hand = 1.0 / (1.0 + a / (b + X - 1.0) * ((alpha + T) / (alpha + TX)) ** (r + X))
    model = BetaGeoModel.from_params(BG)
    assert model.p_alive(X, TX, T)[0] == pytest.approx(by_hand, rel=1e-12)
    # 0.793/3.426 = 0.23147; (43.271/34.843)^2.243 = 1.6257; 1/(1 + 0.3763) = 0.7266
    assert by_hand == pytest.approx(0.7266, abs=1e-4)


def test_bg_nbd_p_alive_is_one_for_a_one_time_buyer() -> None:
    model = BetaGeoModel.from_params(BG)
    assert np.array_equal(model.p_alive([0, 0, 0], [0, 0, 0], [0.0, 10.0, 500.0]), np.ones(3))


def test_bg_nbd_conditional_expectation_is_fhl_equation_10() -> None:
    r, alpha, a, b = BG.values()
    model = BetaGeoModel.from_params(BG)
    customers = [(X, TX, T, 39.0), (0.0, 0.0, T, 39.0), (7.0, 29.4, 38.9, 10.0), (25.0, 36.0, 38.0, 52.0)]
    for x, tx, t_obs, t in customers:
        z = t / (alpha + t_obs + t)
        shrink = ((alpha + t_obs) / (alpha + t_obs + t)) ** (r + x)
        bracket = 1.0 - shrink * special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        delta = 1.0 if x > 0 else 0.0
        by_hand = (
            (a + b + x - 1.0)
            / (a - 1.0)
            * bracket
            / (1.0 + delta * a / (b + x - 1.0) * ((alpha + t_obs) / (alpha + tx)) ** (r + x))
        )
        assert model.expected_purchases(t, x, tx, t_obs)[0] == pytest.approx(by_hand, rel=1e-10)
    # horizons computed together, or one per customer, agree with one-at-a-time
    together = model.expected_purchases_horizons([1.0, 39.0], [X], [TX], [T])
    assert together[0, 1] == pytest.approx(model.expected_purchases(39.0, X, TX, T)[0], rel=1e-12)
    each = model.expected_purchases(np.array([1.0, 39.0, 0.0]), [X, 0.0, X], [TX, 0.0, TX], [T, T, T])
    one_by_one = [model.expected_purchases(t, x, tx, T)[0] for t, x, tx in [(1.0, X, TX), (39.0, 0, 0), (0.0, X, TX)]]
    np.testing.assert_allclose(each, one_by_one, rtol=1e-12)


def test_bg_nbd_unconditional_expectation_is_fhl_equation_9() -> None:
    r, alpha, a, b = BG.values()
    t = np.array([0.5, 39.0, 78.0])
    f21 = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    by_hand = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * f21)
    got = BetaGeoModel.from_params(BG).expected_purchases_new(t)
    np.testing.assert_allclose(got, by_hand, rtol=1e-10)


def test_bg_nbd_expectations_of_heavy_buyers_do_not_overflow() -> None:
    # (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) overflows in the textbook form for large x
    model = BetaGeoModel.from_params(BG)
    value = model.expected_purchases(52.0, 400.0, 38.0, 38.5)[0]
    rate = (BG["r"] + 400) / (BG["alpha"] + 38.5)  # posterior mean purchase rate
    assert math.isfinite(value) and 0.5 * rate * 52 < value < rate * 52


def test_bg_nbd_likelihood_is_fhl_equation_6() -> None:
    r, alpha, a, b = BG.values()
    x, tx, t_obs = X, TX, T
    nbd = special.gamma(r + x) * alpha**r / special.gamma(r)
    by_hand = math.log(
        special.beta(a, b + x) / special.beta(a, b) * nbd / (alpha + t_obs) ** (r + x)
        + special.beta(a + 1, b + x - 1) / special.beta(a, b) * nbd / (alpha + tx) ** (r + x)
    )
    assert bg_loglik(BG, np.array([x]), np.array([tx]), np.array([t_obs]))[0] == pytest.approx(by_hand, rel=1e-12)


# ----------------------------------------------------------------------- Pareto/NBD
def pnbd_a0_by_hand(params: dict[str, float], x: float, tx: float, t_obs: float) -> float:
    """A_0 of Fader & Hardie (2005) with its alpha >= beta / alpha < beta cases."""
    r, alpha, s, beta = params["r"], params["alpha"], params["s"], params["beta"]
    rsx = r + s + x
    if alpha >= beta:
        big, second = alpha, s + 1
    else:
        big, second = beta, r + x
    diff = abs(alpha - beta)
    return (
        special.hyp2f1(rsx, second, rsx + 1, diff / (big + tx)) / (big + tx) ** rsx
        - special.hyp2f1(rsx, second, rsx + 1, diff / (big + t_obs)) / (big + t_obs) ** rsx
    )


@pytest.mark.parametrize("params", [PNBD, {"r": 0.553, "alpha": 11.669, "s": 0.606, "beta": 10.578}])
def test_pareto_nbd_a0_is_the_integral_over_the_death_time(params: dict[str, float]) -> None:
    """s/(r+s+x) A_0 = s * int_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy, both branches."""
    r, alpha, s, beta = params.values()
    integrand = lambda y: (alpha + y) ** -(r + X) * (beta + y) ** -(s + 1)  # noqa: E731 - the integrand reads as the formula
    integral, _ = integrate.quad(integrand, TX, T, epsabs=0, epsrel=1e-13)
    assert s / (r + s + X) * pnbd_a0_by_hand(params, X, TX, T) == pytest.approx(s * integral, rel=1e-9)


@pytest.mark.parametrize("params", [PNBD, {"r": 0.553, "alpha": 11.669, "s": 0.606, "beta": 10.578}])
def test_pareto_nbd_likelihood_and_p_alive_match_the_closed_forms(params: dict[str, float]) -> None:
    r, alpha, s, beta = params.values()
    first = 1.0 / ((alpha + T) ** (r + X) * (beta + T) ** s)
    bracket = first + s / (r + s + X) * pnbd_a0_by_hand(params, X, TX, T)
    loglik = math.log(special.gamma(r + X) * alpha**r * beta**s / special.gamma(r) * bracket)
    assert pnbd_loglik(params, np.array([X]), np.array([TX]), np.array([T]))[0] == pytest.approx(loglik, rel=1e-12)
    model = ParetoNBDModel.from_params(params)
    assert model.p_alive(X, TX, T)[0] == pytest.approx(first / bracket, rel=1e-10)


def test_pareto_nbd_p_alive_of_a_recent_buyer_is_one() -> None:
    # last purchase at T: no time to have died unobserved
    assert ParetoNBDModel.from_params(PNBD).p_alive(3, 20.0, 20.0)[0] == 1.0


def test_pareto_nbd_conditional_expectation_matches_the_closed_form() -> None:
    r, alpha, s, beta = PNBD.values()
    model = ParetoNBDModel.from_params(PNBD)
    t = 39.0
    p_alive = model.p_alive(X, TX, T)[0]
    by_hand = (r + X) * (beta + T) / ((alpha + T) * (s - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) * p_alive
    assert model.expected_purchases(t, X, TX, T)[0] == pytest.approx(by_hand, rel=1e-12)
    each = model.expected_purchases(np.array([t, 2 * t]), [X, X], [TX, TX], [T, T])
    np.testing.assert_allclose(each, model.expected_purchases_horizons([t, 2 * t], [X], [TX], [T])[0], rtol=1e-12)


def test_pareto_nbd_unconditional_expectation_and_its_s_equal_one_limit() -> None:
    r, alpha, s, beta = PNBD.values()
    t = np.array([1.0, 39.0, 78.0])
    by_hand = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    np.testing.assert_allclose(ParetoNBDModel.from_params(PNBD).expected_purchases_new(t), by_hand, rtol=1e-12)
    at_one = ParetoNBDModel.from_params({**PNBD, "s": 1.0}).expected_purchases_new(t)
    np.testing.assert_allclose(at_one, r * beta / alpha * np.log1p(t / beta), rtol=1e-12)
    near_one = ParetoNBDModel.from_params({**PNBD, "s": 1.0 + 1e-9}).expected_purchases_new(t)
    np.testing.assert_allclose(near_one, at_one, rtol=1e-8)


# ----------------------------------------------------------------------- Gamma-Gamma
def test_gamma_gamma_conditional_expected_spend() -> None:
    p, q, gamma = GG.values()
    model = GammaGammaModel.from_params(GG)
    x, m = np.array([0.0, 1.0, 2.0, 10.0]), np.array([0.0, 30.0, 22.345, 50.0])
    by_hand = p * (gamma + x * m) / (p * x + q - 1)
    np.testing.assert_allclose(model.expected_avg_value(x, m), by_hand, rtol=1e-12)
    population_mean = p * gamma / (q - 1)
    assert model.expected_avg_value(0, np.nan)[0] == pytest.approx(population_mean)
    assert model.population_mean() == pytest.approx(population_mean)
    assert population_mean == pytest.approx(35.22, abs=0.01)


# ----------------------------------------------------------------------- 2F1
def test_log_hyp2f1_series_agrees_with_scipy() -> None:
    rng = np.random.default_rng(7)
    a = rng.uniform(0.1, 40, 300)
    b = rng.uniform(0.1, 6, 300)
    z = rng.uniform(0, 0.99, 300)
    expected = np.log(special.hyp2f1(a, b, a + 1, z))
    np.testing.assert_allclose(log_hyp2f1_series(a, b, a + 1, z), expected, rtol=0, atol=1e-12)


def test_hyp2f1_falls_back_to_the_series_when_scipy_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c, z = np.array([0.8, 3.0]), np.array([1.6, 2.5]), np.array([1.8, 4.0]), np.array([0.3, 0.9])
    expected_log = np.log(special.hyp2f1(a, b, c, z))
    expected = special.hyp2f1(a - 2.0, b, c, z)
    import loyalty.clv.special as sp

    monkeypatch.setattr(sp.special, "hyp2f1", lambda *args: np.full(np.broadcast(*args).shape, np.inf))
    np.testing.assert_allclose(log_hyp2f1(a, b, c, z), expected_log, rtol=1e-12)
    np.testing.assert_allclose(hyp2f1(a - 2.0, b, c, z), expected, rtol=1e-12)


def test_expm1_ratio_is_continuous_at_zero() -> None:
    length = np.array([0.1, 2.0])
    np.testing.assert_allclose(expm1_ratio(0.0, length), length)
    np.testing.assert_allclose(expm1_ratio(1e-12, length), length, rtol=1e-11)
    np.testing.assert_allclose(expm1_ratio(0.5, length), (1 - np.exp(-0.5 * length)) / 0.5)
