"""Fitting behaviour: parameter recovery on data simulated from each model, the
compressed (weighted) likelihood, the large-data path, and honest failure reporting."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import loyalty.clv.optimize as optimize
from loyalty.clv import (
    MIN_CUSTOMERS,
    MIN_REPEAT_BUYERS,
    BetaGeoModel,
    ConvergenceWarning,
    GammaGammaModel,
    NotUsableWarning,
    ParetoNBDModel,
    TooFewCustomersWarning,
)
from loyalty.clv.base import TransactionModel, summary_rows
from loyalty.clv.bgnbd import log_likelihood_individual as bg_loglik
from loyalty.clv.paretonbd import log_likelihood_individual as pnbd_loglik
from loyalty.clv.simulate import simulate_bg_nbd, simulate_gamma_gamma, simulate_pareto_nbd

N_SIMULATED = 20_000


def day_grain_sample(seed: int, simulate, params: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers observed 180-540 whole days; the last purchase rounded up to a day."""
    rng = np.random.default_rng(seed)
    t_obs = rng.integers(180, 541, N_SIMULATED).astype(float)
    x, tx = simulate(params, t_obs, rng)
    return x, np.minimum(np.ceil(tx), t_obs), t_obs


def standard_errors_of_log_params(
    model: TransactionModel, x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
) -> np.ndarray:
    """Asymptotic standard errors of log-parameters from the Hessian at the MLE."""
    rows, _ = summary_rows(x, tx, t_obs)
    objective = model._objective(rows)
    assert model.result is not None
    theta = np.log([model.result.params[k] for k in model.param_names])
    hessian = optimize.numerical_hessian_forward(objective, theta, objective(theta)[1])
    return np.sqrt(np.diag(np.linalg.inv(hessian)) / rows.w.sum())


@pytest.mark.parametrize(
    ("model_cls", "simulate", "truth"),
    [
        (BetaGeoModel, simulate_bg_nbd, {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}),
        (ParetoNBDModel, simulate_pareto_nbd, {"r": 0.55, "alpha": 70.0, "s": 0.6, "beta": 80.0}),
    ],
)
def test_fit_recovers_the_parameters_it_simulated_from(model_cls, simulate, truth) -> None:
    x, tx, t_obs = day_grain_sample(2024, simulate, truth)
    model = model_cls(time_unit="days").fit(x, tx, t_obs)
    assert model.result is not None and model.result.converged, model.result.message
    estimate = np.log([model.result.params[k] for k in model.param_names])
    true = np.log([truth[k] for k in model.param_names])
    se = standard_errors_of_log_params(model, x, tx, t_obs)
    assert np.all(np.abs(estimate - true) < 4 * se), (model.result.params, se)
    assert np.all(np.abs(estimate - true) < 0.25)  # and within 25 % in absolute terms


def test_gamma_gamma_recovers_the_parameters_it_simulated_from() -> None:
    rng = np.random.default_rng(11)
    truth = {"p": 6.0, "q": 3.8, "gamma": 15.0}
    frequency = rng.poisson(2.0, N_SIMULATED) + 1.0
    spend = simulate_gamma_gamma(truth, frequency, rng)
    result = GammaGammaModel().fit(frequency, spend).result
    assert result is not None and result.converged and result.n_customers == N_SIMULATED
    for k, v in truth.items():
        assert result.params[k] == pytest.approx(v, rel=0.10)


def test_weighted_fit_on_unique_rows_equals_fit_on_all_customers() -> None:
    x, tx, t_obs = day_grain_sample(5, simulate_bg_nbd, {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5})
    x, tx, t_obs = x[:5000], np.round(tx[:5000] / 7), np.round(t_obs[:5000] / 7)  # weeks: many ties
    unique, counts = np.unique(np.column_stack([x, tx, t_obs]), axis=0, return_counts=True)
    assert unique.shape[0] < 2500  # the compression is real
    for model_cls in (BetaGeoModel, ParetoNBDModel):
        full = model_cls().fit(x, tx, t_obs).result
        weighted = model_cls().fit(unique[:, 0], unique[:, 1], unique[:, 2], weights=counts).result
        assert full is not None and weighted is not None and full.converged and weighted.converged
        assert weighted.n_customers == full.n_customers == 5000
        for k in full.params:
            assert weighted.params[k] == pytest.approx(full.params[k], rel=1e-9)
        assert weighted.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-12)
        loglik = bg_loglik if model_cls is BetaGeoModel else pnbd_loglik
        assert loglik(full.params, x, tx, t_obs).sum() == pytest.approx(full.log_likelihood, rel=1e-10)


def test_large_data_path_finds_the_same_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Subsample warm start + full-data quasi-Newton == plain L-BFGS-B on all rows."""
    x, tx, t_obs = day_grain_sample(9, simulate_pareto_nbd, {"r": 0.55, "alpha": 70.0, "s": 0.6, "beta": 80.0})
    for model_cls in (BetaGeoModel, ParetoNBDModel):
        direct = model_cls("days").fit(x, tx, t_obs).result
        monkeypatch.setattr(optimize, "SUBSAMPLE_ROWS", 1000)
        monkeypatch.setattr(optimize, "SUBSAMPLE_CUSTOMERS", 3000)
        staged = model_cls("days").fit(x, tx, t_obs).result
        monkeypatch.undo()
        assert direct is not None and staged is not None and direct.converged and staged.converged
        assert "warm-started on random subsamples" in staged.message
        assert "subsamples" not in direct.message
        for k in direct.params:
            assert staged.params[k] == pytest.approx(direct.params[k], rel=1e-5)
        assert staged.log_likelihood == pytest.approx(direct.log_likelihood, abs=1e-3)


def test_iteration_limit_is_reported_as_not_converged(cdnow_weeks) -> None:
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = BetaGeoModel().fit(*cdnow_weeks, max_iter=1)
    assert model.result is not None and not model.result.converged
    assert model.result.message.startswith("NOT converged")
    with pytest.warns(NotUsableWarning):
        assert np.isnan(model.p_alive(*cdnow_weeks)).all()
    with pytest.warns(NotUsableWarning):
        assert np.isnan(model.expected_purchases(10.0, *cdnow_weeks)).all()


def test_no_repeat_purchases_means_no_maximum_likelihood_estimate() -> None:
    """With only one-time buyers the likelihood increases towards r -> 0 and does not
    depend on the dropout parameters at all: reported, not used."""
    rng = np.random.default_rng(3)
    t_obs = rng.integers(1, 53, 300).astype(float)
    zeros = np.zeros(300)
    for model_cls in (BetaGeoModel, ParetoNBDModel):
        with pytest.warns(ConvergenceWarning):
            result = model_cls().fit(zeros, zeros, t_obs).result
        assert result is not None and not result.converged
        assert "edge of the search box" in result.message or "not identified" in result.message


def test_too_few_customers_warns_and_predicts_nan() -> None:
    n = MIN_CUSTOMERS - 1
    x, tx, t_obs = np.ones(n), np.full(n, 5.0), np.full(n, 20.0)
    for model_cls in (BetaGeoModel, ParetoNBDModel):
        with pytest.warns(TooFewCustomersWarning, match="fewer than MIN_CUSTOMERS"):
            model = model_cls().fit(x, tx, t_obs)
        assert model.result is not None and not model.result.converged
        assert model.result.n_customers == n and all(np.isnan(v) for v in model.result.params.values())
        with pytest.warns(NotUsableWarning):
            assert np.isnan(model.expected_purchases(4.0, x, tx, t_obs)).all()
        with pytest.warns(NotUsableWarning):
            assert np.isnan(model.expected_purchases_new(4.0))


def test_gamma_gamma_needs_enough_repeat_buyers_with_positive_spend() -> None:
    frequency = np.array([0] * 50 + [1] * (MIN_REPEAT_BUYERS - 1) + [2, 3])
    spend = np.array([0.0] * 50 + [10.0] * (MIN_REPEAT_BUYERS - 1) + [0.0, np.nan])
    with pytest.warns(TooFewCustomersWarning, match="MIN_REPEAT_BUYERS"):
        model = GammaGammaModel().fit(frequency, spend)
    assert model.result is not None and not model.result.converged
    assert model.result.n_customers == MIN_REPEAT_BUYERS - 1
    with pytest.warns(NotUsableWarning):
        assert np.isnan(model.expected_avg_value(frequency, spend)).all()


def test_invalid_summaries_are_rejected() -> None:
    with pytest.raises(ValueError, match="recency must be <= T"):
        BetaGeoModel().fit([1], [5.0], [4.0])
    with pytest.raises(ValueError, match="non-negative integer"):
        BetaGeoModel().fit([1.5], [1.0], [4.0])
    with pytest.raises(ValueError, match="recency must be 0"):
        BetaGeoModel().fit([0], [1.0], [4.0])
    with pytest.raises(ValueError, match="time_unit"):
        BetaGeoModel(time_unit="months")
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeoModel().p_alive([0], [0], [1])


def test_successful_fit_emits_no_warning(cdnow_weeks) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ParetoNBDModel().fit(*cdnow_weeks)
    assert model.result is not None and model.result.converged
    assert model.result.message.startswith("converged: max |grad|")
    assert "smallest Hessian eigenvalue" in model.result.message
