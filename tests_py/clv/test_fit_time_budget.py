"""A fit that runs past its time budget stops and is reported as not converged (never hangs)."""

from __future__ import annotations

import time

import numpy as np

from loyalty.clv.optimize import maximise_likelihood


def _slow_quadratic(theta: np.ndarray) -> tuple[float, np.ndarray]:
    time.sleep(0.01)
    return float(np.sum((theta - 1.0) ** 2)), 2.0 * (theta - 1.0)


def test_fit_past_its_time_budget_is_not_converged_and_says_why() -> None:
    start = time.monotonic()
    outcome = maximise_likelihood(
        lambda mask, w: _slow_quadratic, np.ones(10), [np.zeros(2)], ["r", "alpha"], time_budget=0.05
    )
    assert time.monotonic() - start < 5
    assert outcome.converged is False
    assert outcome.message == "stopped after its time budget of 0.05 s without converging"
    assert np.all(np.isnan(outcome.theta))


def test_fit_within_its_budget_converges_to_the_optimum() -> None:
    outcome = maximise_likelihood(
        lambda mask, w: _slow_quadratic, np.ones(10), [np.zeros(2)], ["r", "alpha"], time_budget=60
    )
    assert outcome.converged is True
    np.testing.assert_allclose(outcome.theta, [1.0, 1.0], atol=1e-6)
