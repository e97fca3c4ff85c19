"""Pareto/NBD on data whose dropout rates are all equal: no maximum-likelihood estimate exists,
and the fit says so at once instead of running for its whole time budget.

tests_py/fixtures/clv/pareto_nbd_no_mle_rows.csv is the compressed calibration summary
(frequency, recency and tenure in days, customers per row) of the holdout check of
`loyalty generate --customers 300 --seed 7 --start 2023-01-01 --end 2024-12-31`, calibrated
to 2023-12-31: 128 customers in 122 rows. The generator gives every customer the same kind
of dropout, so Pareto/NBD's likelihood rises forever along s -> infinity with s / beta fixed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loyalty.clv.optimize import maximise_likelihood
from loyalty.clv.paretonbd import S_MAX, ParetoNBDModel, log_likelihood_individual

ROWS = Path(__file__).resolve().parents[1] / "fixtures" / "clv" / "pareto_nbd_no_mle_rows.csv"


def _weeks() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rows = pd.read_csv(ROWS)
    assert (len(rows), int(rows["n_customers"].sum())) == (122, 128)
    return (
        rows["frequency"].to_numpy(dtype=float),
        rows["recency_days"].to_numpy(dtype=float) / 7.0,
        rows["tenure_days"].to_numpy(dtype=float) / 7.0,
        rows["n_customers"].to_numpy(dtype=float),
    )


def test_without_a_maximum_the_fit_stops_at_the_shape_bound_and_says_so() -> None:
    x, tx, t_obs, w = _weeks()
    with pytest.warns(UserWarning, match="pareto_nbd fit did not converge"):
        model = ParetoNBDModel("weeks").fit(x, tx, t_obs, w)
    assert model.result is not None
    assert model.result.converged is False
    assert model.result.params["s"] == pytest.approx(S_MAX, rel=1e-9)
    assert "parameter(s) at the edge of the search box (s=100)" in model.result.message
    assert "maximum-likelihood estimate does not exist" in model.result.message
    # not the time budget: it stopped at the bound
    assert "time budget" not in model.result.message


def test_the_likelihood_keeps_rising_past_the_bound_along_s_over_beta_fixed() -> None:
    """What the bound reports is true of the data: doubling s and beta together (the mean
    dropout rate s / beta unchanged) raises the log-likelihood each time, by less and less."""
    x, tx, t_obs, w = _weeks()
    with pytest.warns(UserWarning):
        params = ParetoNBDModel("weeks").fit(x, tx, t_obs, w).params

    def log_likelihood(k: float) -> float:
        scaled = {**params, "s": params["s"] * k, "beta": params["beta"] * k}
        return float(np.dot(w, log_likelihood_individual(scaled, x, tx, t_obs)))

    values = [log_likelihood(k) for k in (1.0, 2.0, 4.0, 8.0)]
    gains = np.diff(values)
    assert np.all(gains > 0)
    assert gains[0] > gains[1] > gains[2] > 0


def test_a_tighter_upper_bound_is_one_more_edge_of_the_search_box() -> None:
    """maximise_likelihood's log_upper: hand-made quadratic with its optimum at log-params
    (1, 1); bounding the second at 0.5 puts the fit on that bound, reported as an edge."""

    def quadratic(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(np.sum((theta - 1.0) ** 2)), 2.0 * (theta - 1.0)

    names = ["r", "alpha"]
    free = maximise_likelihood(lambda mask, w: quadratic, np.ones(10), [np.zeros(2)], names)
    bounded = maximise_likelihood(
        lambda mask, w: quadratic, np.ones(10), [np.zeros(2)], names, log_upper={"alpha": 0.5}
    )
    assert free.converged is True
    np.testing.assert_allclose(free.theta, [1.0, 1.0], atol=1e-6)
    assert bounded.converged is False
    np.testing.assert_allclose(bounded.theta, [1.0, 0.5], atol=1e-6)
    assert bounded.message.startswith(f"parameter(s) at the edge of the search box (alpha={np.exp(0.5):.3g})")
