"""BG/BB (Fader, Hardie & Shang 2010): the published donations fit, the likelihood by hand,
and the predictions against their closed forms / a simulation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from loyalty.clv import bgbb

DONATIONS = Path(__file__).resolve().parents[1] / "fixtures" / "published" / "bgbb_donations.csv"
PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def test_bgbb_fit_on_the_donations_data_reproduces_the_papers_parameters_and_log_likelihood() -> None:
    data = pd.read_csv(DONATIONS)
    fit = bgbb.fit_bgbb(data["frequency"], data["recency"], data["periods"], data["weights"])
    assert fit.converged, fit.message
    for name, value in PUBLISHED.items():
        assert fit.params[name] == pytest.approx(value, abs=5e-4), name
    assert fit.log_likelihood == pytest.approx(-33225.6, abs=0.05)
    assert fit.n_customers == 11104


def test_bgbb_likelihood_by_hand_for_one_opportunity() -> None:
    # n = 1, x = 0: alive and no purchase, or gone before opportunity 1
    # L = B(a, b+1)/B(a, b) * B(g, d+1)/B(g, d) + B(g+1, d)/B(g, d) = b/(a+b) * d/(g+d) + g/(g+d)
    params = {"alpha": 1.0, "beta": 2.0, "gamma": 1.0, "delta": 3.0}
    by_hand = 2 / 3 * 3 / 4 + 1 / 4
    assert bgbb.log_likelihood_rows(params, np.array([0.0]), np.array([0.0]), np.array([1.0]))[0] == pytest.approx(
        math.log(by_hand), rel=1e-12
    )
    # n = 1, x = 1: alive and bought, B(a+1, b)/B(a, b) * B(g, d+1)/B(g, d) = 1/3 * 3/4
    assert bgbb.log_likelihood_rows(params, np.array([1.0]), np.array([1.0]), np.array([1.0]))[0] == pytest.approx(
        math.log(0.25), rel=1e-12
    )


def test_bgbb_expected_transactions_equals_the_papers_closed_form() -> None:
    params = {"alpha": 1.2, "beta": 0.75, "gamma": 1.6, "delta": 2.8}  # gamma > 1 for eq. 13 as printed
    a, b, g, d = params.values()
    x, tx, n, future = np.array([0.0, 2, 6]), np.array([0.0, 3, 6]), np.array([6.0, 6, 6]), 5
    ll = np.exp(bgbb.log_likelihood_rows(params, x, tx, n))
    eq13 = (
        np.exp(special.betaln(a + x + 1, b + n - x) - special.betaln(a, b))
        * d
        / (g - 1)
        * np.exp(special.gammaln(g + d) - special.gammaln(1 + d))
        * (
            np.exp(special.gammaln(1 + d + n) - special.gammaln(g + d + n))
            - np.exp(special.gammaln(1 + d + n + future) - special.gammaln(g + d + n + future))
        )
    ) / ll
    assert bgbb.expected_transactions(params, future, x, tx, n) == pytest.approx(eq13, rel=1e-10)


def test_bgbb_p_alive_against_a_simulation() -> None:
    params = PUBLISHED
    rng = np.random.default_rng(11)
    m = 400_000
    p = rng.beta(params["alpha"], params["beta"], m)
    theta = rng.beta(params["gamma"], params["delta"], m)
    # alive at opportunity t means survived t dropout draws; simulate 6 opportunities + the next one
    survive = rng.random((m, 7)) >= theta[:, None]
    alive = np.cumprod(survive, axis=1).astype(bool)  # alive[:, t-1] = alive at opportunity t
    buys = alive[:, :6] & (rng.random((m, 6)) < p[:, None])
    x = buys.sum(axis=1)
    last = np.where(x > 0, 6 - np.argmax(buys[:, ::-1], axis=1), 0)
    pattern = (x == 1) & (last == 1)
    simulated = alive[pattern, 6].mean()
    assert bgbb.p_alive(params, 1, 1, 6)[0] == pytest.approx(simulated, abs=0.01)


def test_bgbb_rejects_inconsistent_summaries() -> None:
    with pytest.raises(ValueError, match="recency"):
        bgbb.fit_bgbb([2], [1], [6])
