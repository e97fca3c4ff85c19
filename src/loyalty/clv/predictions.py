"""Predictions that marketing teams act on, from the fitted BG/NBD or Pareto/NBD model and
Gamma-Gamma (Fader & Hardie's closed forms; see docs block ``clv_predictions``).

* :func:`p_purchase_within` - P(at least one purchase in (T, T + t] | x, t_x, T)
  = P(alive at T) * [1 - P(no purchase in (T, T + t] | alive at T)], with

  - BG/NBD: a customer alive at T drops out only right after a purchase, so no purchase in
    t means no Poisson event: ``P0 = ((alpha + T)/(alpha + T + t))^(r + x)``
    (lambda | alive at T ~ Gamma(r + x, alpha + T));
  - Pareto/NBD: with lambda | alive ~ Gamma(r + x, alpha + T) and mu | alive ~ Gamma(s, beta + T)
    independent, P(no purchase in t | lambda, mu) = [mu + lambda e^-(lambda+mu)t]/(lambda + mu);
    averaged over the posterior,
    ``P0 = s (beta+T)^s (alpha+T)^(r+x) [H(x, T) - H(x, T+t)]
          + ((alpha+T)/(alpha+T+t))^(r+x) ((beta+T)/(beta+T+t))^s``
    with H(x, y) = integral_y^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du, the integral of
    :mod:`loyalty.clv.paretonbd` (E[mu/(lambda+mu) e^-(lambda+mu)t] = the same integral from T+t).

* :func:`median_days_to_next_purchase` - the median of the predictive distribution of the
  waiting time to the next purchase: the smallest whole number of days d <= ``horizon_days``
  with P(at least one purchase in (T, T + d]) >= 1/2, NaN when there is none. The mean
  waiting time does not exist (a customer who may be gone may never buy again, so the
  waiting time is infinite with positive probability); the median does whenever the
  customer is more likely than not to buy within the horizon, which also answers "probably
  gone" (P(alive) < 1/2 gives NaN) and one-time buyers (the same rule, no special case).
  BG/NBD has the closed form t = (alpha + T)[(1 - 1/(2 P(alive)))^(-1/(r+x)) - 1]; for
  Pareto/NBD the day is found by bisection.

* :func:`clv_interval` - 10th and 90th percentiles of the predicted CLV from the parameter
  uncertainty: the log-parameters of the transaction model and of Gamma-Gamma are
  asymptotically normal with covariance the inverse Hessian of the negative log-likelihood
  (fitted separately, so independent); log CLV is propagated by the delta method
  (derivatives by forward differences for the transaction model, analytic for
  Gamma-Gamma), and the percentiles are CLV * exp(-/+ 1.2816 sd(log CLV)). Deterministic;
  checked against seeded parameter draws in the tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import TransactionModel
from .compress import combine_codes, factorize
from .paretonbd import log_h

#: Standard normal quantile of 0.9: the 10th / 90th percentiles are mean -/+ Z90 sd.
Z90 = 1.2815515655446004
_FD_STEP = 1e-5


def _pairs(x: np.ndarray, t_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vx, cx = factorize(x)
    vt, ct = factorize(t_obs)
    codes, ix, it = combine_codes(cx, ct, max(vt.shape[0], 1))
    return codes, vx[ix], vt[it]


def p_no_purchase_if_alive(
    model: TransactionModel, t: np.ndarray | float, x: np.ndarray, t_obs: np.ndarray
) -> np.ndarray:
    """P(no purchase in (T, T + t] | alive at T, x, T), per row (t in the model's time unit,
    a scalar or one value per row)."""
    params = model.params
    x = np.asarray(x, dtype=float)
    t_obs = np.asarray(t_obs, dtype=float)
    t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    r, alpha = params["r"], params["alpha"]
    log_gamma_part = (r + x) * (np.log(alpha + t_obs) - np.log(alpha + t_obs + t))
    if model.model_name == "bg_nbd":
        return np.exp(log_gamma_part)
    s, beta = params["s"], params["beta"]
    both = log_gamma_part + s * (np.log(beta + t_obs) - np.log(beta + t_obs + t))
    # H(x, T) and H(x, T + t) on the distinct pairs
    k = x.shape[0]
    codes, px, py = _pairs(np.concatenate([x, x]), np.concatenate([t_obs, t_obs + t]))
    h = log_h((r, alpha, s, beta), px, py)
    h_T, h_Tt = h[codes[:k]], h[codes[k:]]
    log_a = np.log(s) + s * np.log(beta + t_obs) + (r + x) * np.log(alpha + t_obs) + h_T
    gone_before = np.exp(log_a) * -np.expm1(np.minimum(h_Tt - h_T, 0.0))
    return np.clip(gone_before + np.exp(both), 0.0, 1.0)


def p_purchase_within(
    model: TransactionModel,
    t: float | np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    t_obs: np.ndarray,
    p_alive: np.ndarray | None = None,
) -> np.ndarray:
    """P(at least one purchase in (T, T + t] | x, t_x, T); t in the model's time unit."""
    alive = model.p_alive(x, tx, t_obs) if p_alive is None else p_alive
    return alive * (1.0 - p_no_purchase_if_alive(model, t, x, t_obs))


def median_days_to_next_purchase(
    model: TransactionModel,
    x: np.ndarray,
    tx: np.ndarray,
    t_obs: np.ndarray,
    *,
    days_per_unit: float,
    horizon_days: int = 365,
    p_alive: np.ndarray | None = None,
) -> np.ndarray:
    """Smallest whole number of days d in 1..``horizon_days`` with
    P(at least one purchase within d days) >= 1/2, else NaN (see the module docstring).
    x, t_x, T are in the model's time unit; ``days_per_unit`` converts (7 for weeks)."""
    x = np.asarray(x, dtype=float)
    t_obs = np.asarray(t_obs, dtype=float)
    alive = model.p_alive(x, tx, t_obs) if p_alive is None else p_alive
    out = np.full(x.shape, np.nan)
    if model.model_name == "bg_nbd":
        r, alpha = model.params["r"], model.params["alpha"]
        ok = alive > 0.5
        with np.errstate(divide="ignore", invalid="ignore"):
            t_units = (alpha + t_obs) * np.expm1(-np.log1p(-0.5 / alive) / (r + x))
        days = np.maximum(np.ceil(t_units * days_per_unit - 1e-9), 1.0)
        return np.where(ok & (days <= horizon_days), days, np.nan)

    def prob(days: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return alive[rows] * (1.0 - p_no_purchase_if_alive(model, days / days_per_unit, x[rows], t_obs[rows]))

    candidates = np.flatnonzero(alive > 0.5)
    candidates = candidates[prob(np.full(candidates.shape, float(horizon_days)), candidates) >= 0.5]
    lo = np.zeros(candidates.shape)  # P(lo days) < 1/2 (lo = 0: no time, no purchase)
    hi = np.full(candidates.shape, float(horizon_days))  # P(hi days) >= 1/2
    while candidates.size and np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        reached = prob(mid, candidates) >= 0.5
        hi = np.where(reached, mid, hi)
        lo = np.where(reached, lo, mid)
    out[candidates] = hi
    return out


def log_variance(
    values: Callable[[dict[str, float]], np.ndarray], params: dict[str, float], covariance: np.ndarray
) -> np.ndarray:
    """Delta-method variance of log values(params) when the log-parameters have covariance
    ``covariance`` (derivatives by forward differences in the log-parameters)."""
    names = list(params)
    theta = np.log([params[k] for k in names])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_base = np.log(values(params))
        grads = []
        for j in range(theta.size):
            shifted = theta.copy()
            shifted[j] += _FD_STEP
            grads.append((np.log(values(dict(zip(names, np.exp(shifted), strict=True)))) - log_base) / _FD_STEP)
    g = np.vstack(grads)  # (k, n)
    return np.einsum("in,ij,jn->n", g, covariance, g)


def gamma_gamma_log_variance(
    params: dict[str, float], covariance: np.ndarray, frequency: np.ndarray, monetary: np.ndarray
) -> np.ndarray:
    """Delta-method variance of log E[M | x, m] = log p + log(gamma + m x) - log(p x + q - 1),
    with the analytic derivatives in (log p, log q, log gamma)."""
    p, q, gamma = params["p"], params["q"], params["gamma"]
    m_used = np.where((frequency > 0) & np.isfinite(monetary), monetary, 0.0)
    x_used = np.where(np.isfinite(monetary), frequency, 0.0)
    denom = p * x_used + q - 1.0
    g = np.vstack([1.0 - p * x_used / denom, -q / denom, gamma / (gamma + m_used * x_used)])
    return np.einsum("in,ij,jn->n", g, covariance, g)


def clv_interval(clv: np.ndarray, log_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(10th, 90th) percentiles of CLV when log CLV is normal with variance ``log_var``."""
    sd = np.sqrt(np.maximum(log_var, 0.0))
    low, high = clv * np.exp(-Z90 * sd), clv * np.exp(Z90 * sd)
    return np.minimum(low, high), np.maximum(low, high)
