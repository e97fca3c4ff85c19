"""Simulation from the models themselves, for parameter-recovery tests and benchmarks.

All functions take a ``numpy.random.Generator`` so results are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def simulate_bg_nbd(
    params: Mapping[str, float], T: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(frequency, recency) of customers observed for T under BG/NBD (FHL 2005, section 2).

    lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); inter-purchase times Exp(lambda);
    after each repeat purchase the customer drops out with probability p.
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    t_obs = np.asarray(T, dtype=float)
    n = t_obs.shape[0]
    lam = np.asarray(rng.gamma(r, 1.0 / alpha, n))
    p = np.asarray(rng.beta(a, b, n))
    t = np.zeros(n)
    x = np.zeros(n)
    tx = np.zeros(n)
    active = np.flatnonzero(lam > 0)
    while active.size:
        t[active] += rng.exponential(1.0, active.size) / lam[active]
        active = active[t[active] <= t_obs[active]]
        x[active] += 1
        tx[active] = t[active]
        active = active[rng.random(active.size) >= p[active]]
    return x, tx


def simulate_pareto_nbd(
    params: Mapping[str, float], T: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(frequency, recency) under Pareto/NBD: lambda ~ Gamma(r, alpha), mu ~ Gamma(s, beta),
    lifetime ~ Exp(mu), purchases Poisson(lambda) while alive."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    t_obs = np.asarray(T, dtype=float)
    n = t_obs.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    lifetime = rng.exponential(1.0, n) / mu
    end = np.minimum(lifetime, t_obs)
    x = rng.poisson(lam * end).astype(float)
    # given x events on [0, end], the last one is end * U^(1/x)
    with np.errstate(divide="ignore"):
        tx = np.where(x > 0, end * rng.random(n) ** (1.0 / np.maximum(x, 1.0)), 0.0)
    return x, tx


def simulate_gamma_gamma(params: Mapping[str, float], frequency: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean spend of ``frequency`` transactions per customer (NaN where frequency = 0).

    nu ~ Gamma(q, rate gamma); the sum of x spends ~ Gamma(p x, rate nu)."""
    p, q, gamma = (params[k] for k in ("p", "q", "gamma"))
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, x.shape[0])
    total = rng.gamma(np.maximum(p * x, 1e-12), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1.0), np.nan)


#: Parameters (per day) of :func:`simulate_summary`'s default customer base: about 4.4
#: purchase days per customer over a three-year window.
DEFAULT_DAILY_BG_NBD = {"r": 0.75, "alpha": 52.0, "a": 0.9, "b": 3.2}
DEFAULT_GAMMA_GAMMA = {"p": 6.0, "q": 3.8, "gamma": 15.0}


def simulate_summary(
    n_customers: int,
    rng: np.random.Generator,
    *,
    window_days: int = 1095,
    bg_nbd: Mapping[str, float] | None = None,
    gamma_gamma: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A day-grain customer summary as :func:`loyalty.clv.score_customers` expects.

    Customers are acquired uniformly over ``window_days``; purchases follow BG/NBD (per
    day), spend Gamma-Gamma. Times are whole days: tenure_days is an integer and
    recency_days = ceil(time of last purchase) (a repeat purchase is on a later day).
    """
    params = dict(DEFAULT_DAILY_BG_NBD if bg_nbd is None else bg_nbd)
    tenure = rng.integers(0, window_days + 1, n_customers).astype(float)
    x, tx = simulate_bg_nbd(params, tenure, rng)
    recency = np.minimum(np.ceil(tx), tenure)
    monetary = simulate_gamma_gamma(dict(DEFAULT_GAMMA_GAMMA if gamma_gamma is None else gamma_gamma), x, rng)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, n_customers + 1, dtype=np.int64),
            "frequency": x.astype(np.int64),
            "recency_days": recency.astype(np.int64),
            "tenure_days": tenure.astype(np.int64),
            "monetary_value": np.where(x > 0, np.round(monetary, 2), 0.0),
        }
    )
