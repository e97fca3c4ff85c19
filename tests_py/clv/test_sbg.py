"""sBG (Fader & Hardie 2007) and DERL (Fader & Hardie 2010): the published fits, closed forms
checked by hand, and the projections checked against an independent recursion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loyalty.clv import sbg

SURVIVAL = Path(__file__).resolve().parents[1] / "fixtures" / "published" / "sbg_survival.csv"


def _alive(segment: str) -> list[int]:
    frame = pd.read_csv(SURVIVAL)
    return frame[frame["segment"] == segment].sort_values("year")["customers_alive"].tolist()


@pytest.mark.parametrize(("segment", "alpha", "beta"), [("regular", 0.704, 1.182), ("high_end", 0.668, 3.806)])
def test_sbg_fit_on_the_published_survival_reproduces_the_papers_parameters(
    segment: str, alpha: float, beta: float
) -> None:
    completed, churned, weights = sbg.lifetimes_from_survival(_alive(segment))
    fit = sbg.fit_sbg(completed, churned, weights, period="year")
    assert fit.converged, fit.message
    assert fit.params["alpha"] == pytest.approx(alpha, abs=5e-4)
    assert fit.params["beta"] == pytest.approx(beta, abs=5e-4)
    assert fit.n_customers == 1000
    assert fit.covariance_log is not None and np.all(np.diag(fit.covariance_log) > 0)


@pytest.mark.parametrize("segment", ["regular", "high_end"])
def test_sbg_projection_tracks_the_observed_survival_and_retention_rises_with_tenure(segment: str) -> None:
    alive = np.array(_alive(segment), dtype=float)
    fit = sbg.fit_sbg(*sbg.lifetimes_from_survival(alive), period="year")
    a, b = fit.params["alpha"], fit.params["beta"]
    projected = 1000 * sbg.survival(a, b, np.arange(8))
    # the paper's figure: the fitted curve lies within a few customers of the data
    assert np.max(np.abs(projected - alive)) < 20
    rates = sbg.retention_rate(a, b, np.arange(1, 13))
    assert np.all(np.diff(rates) > 0)
    # years 8-12 by the recursion S(t) = S(t-1) r_t, independent of the lbeta closed form
    recursive = [1.0]
    for t in range(1, 13):
        recursive.append(recursive[-1] * (b + t - 1) / (a + b + t - 1))
    assert sbg.survival(a, b, np.arange(13)) == pytest.approx(recursive, rel=1e-12)


def test_sbg_hand_computed_probabilities() -> None:
    # alpha = 2, beta = 3: P(T=1) = alpha/(alpha+beta) = 0.4; S(1) = 0.6; r_2 = 4/6; P(T=2) = 0.6 * 2/6 = 0.2
    assert sbg.churn_probability(2, 3, [1, 2]) == pytest.approx([0.4, 0.2])
    assert sbg.survival(2, 3, [0, 1, 2]) == pytest.approx([1.0, 0.6, 0.4])
    assert sbg.retention_rate(2, 3, 2) == pytest.approx(4 / 6)


def test_sbg_log_likelihood_by_hand_on_a_tiny_cohort() -> None:
    # 10 customers: 4 leave in period 1, 2 in period 2, 4 still active after 2 periods
    completed, churned, weights = sbg.lifetimes_from_survival([10, 6, 4])
    objective = sbg.SbgLikelihood(completed, churned, weights)
    by_hand = 4 * math.log(0.4) + 2 * math.log(0.2) + 4 * math.log(0.4)  # alpha=2, beta=3
    assert -objective(np.log([2.0, 3.0]))[0] * 10 == pytest.approx(by_hand, rel=1e-12)


def test_expected_remaining_and_median_remaining_periods_by_hand() -> None:
    # theta | T > k ~ Beta(2, 3 + k): E[(1 - theta)/theta] = (3 + k)/(2 - 1)
    assert sbg.expected_remaining_periods(2, 3, [0, 4]) == pytest.approx([3.0, 7.0])
    # alpha <= 1: the mean lifetime is infinite, reported as NaN
    assert np.isnan(sbg.expected_remaining_periods(0.7, 1.2, [0])).all()
    # alpha = beta = 1: P(T > k + m | T > k) = (k + 1)/(k + 1 + m); <= 1/2 first at m = k + 1
    assert sbg.median_remaining_periods(1, 1, [0, 2, 9]).tolist() == [1.0, 3.0, 10.0]


def test_derl_by_hand_and_against_the_direct_sum() -> None:
    # alpha = beta = 1, k = 0: S(j) = 1/(1+j); DERL = sum_j delta^(j-1)/(1+j) = (-ln(1-delta) - delta)/delta^2
    delta = 1 / (1 + 1.0)  # d = 100% per period
    assert sbg.derl(1, 1, 0, 1.0) == pytest.approx((-math.log(1 - delta) - delta) / delta**2, rel=1e-12)
    assert (-math.log(0.5) - 0.5) * 4 == pytest.approx(0.772589, abs=1e-6)
    # the published regular fit, at 10% per period, against the truncated direct sum
    a, b, d = 0.704, 1.182, 0.10
    for k in (0, 3, 10):
        j = np.arange(1, 5000)
        direct = np.sum(sbg.survival(a, b, k + j) / sbg.survival(a, b, k) / (1 + d) ** (j - 1))
        assert sbg.derl(a, b, k, d) == pytest.approx(direct, rel=1e-9)
    # with no discounting the DERL is the expected number of further renewals
    assert sbg.derl(2, 3, 4, 1e-12) == pytest.approx(7.0, rel=1e-6)


def test_sbg_is_not_fitted_without_any_cancellation() -> None:
    fit = sbg.fit_sbg([3, 5], [False, False])
    assert not fit.converged and "no subscriber has cancelled" in fit.message
