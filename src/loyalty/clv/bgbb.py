"""Beta-geometric/beta-Bernoulli (BG/BB) model for discrete purchase opportunities (Fader,
Hardie & Shang 2010, "Customer-Base Analysis in a Discrete-Time Noncontractual Setting",
Marketing Science 29(6), 1086-1108; FHS10 below).

At each of n opportunities after the first transaction (yearly donations, annual renewals of
a non-contractual kind) an alive customer transacts with probability p ~ Beta(alpha, beta),
and becomes inactive before the next opportunity with probability theta ~ Beta(gamma, delta).
Sufficient statistics: x = number of repeat transactions, t_x = the opportunity of the last
one (0 when x = 0), n = number of opportunities observed.

* log-likelihood (FHS10 eq. 5):
  ``L = B(alpha+x, beta+n-x)/B(alpha, beta) * B(gamma, delta+n)/B(gamma, delta)
      + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha, beta) * B(gamma+1, delta+t_x+i)/B(gamma, delta)``
* P(alive at n + 1 | x, t_x, n) (FHS10 eq. 11):
  ``B(alpha+x, beta+n-x)/B(alpha, beta) * B(gamma, delta+n+1)/B(gamma, delta) / L``
* expected transactions in the next n* opportunities (FHS10 eq. 13):
  ``1/L * B(alpha+x+1, beta+n-x)/B(alpha, beta) * delta/(gamma-1) * G(gamma+delta)/G(1+delta)
    * [G(1+delta+n)/G(gamma+delta+n) - G(1+delta+n+n*)/G(gamma+delta+n+n*)]``

All terms are evaluated as lbeta/lgamma sums and combined with logsumexp. The gradient is
by central differences (four parameters, a handful of distinct rows), which is accurate to
about 1e-10 and enough for the convergence test of :mod:`loyalty.clv.optimize`.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from scipy import special

from .optimize import hessian_central, maximise_likelihood
from .result import FitResult

MODEL_NAME = "bg_bb"
PARAM_NAMES = ("alpha", "beta", "gamma", "delta")
OPPORTUNITY_PERIODS = ("month", "quarter", "year")
_GRADIENT_STEP = 1e-6


def _rows(frequency: object, recency: object, n_periods: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, n = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (frequency, recency, n_periods))
    x, tx, n = np.broadcast_arrays(x, tx, n)
    for name, v in (("frequency", x), ("recency", tx), ("n_periods", n)):
        if not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(v != np.round(v)):
            raise ValueError(f"{name} must be whole numbers >= 0")
    if np.any(x > tx) or np.any(tx > n) or np.any((x == 0) & (tx > 0)) or np.any((x > 0) & (tx == 0)):
        raise ValueError("need frequency <= recency <= n_periods, recency = 0 exactly when frequency = 0")
    return x, tx, n


def log_likelihood_rows(params: dict[str, float], x: np.ndarray, tx: np.ndarray, n: np.ndarray) -> np.ndarray:
    """log L per row (FHS10 eq. 5)."""
    alpha, beta, gamma, delta = (params[k] for k in PARAM_NAMES)
    lb_ab = special.betaln(alpha, beta)
    lb_gd = special.betaln(gamma, delta)
    alive_term = special.betaln(alpha + x, beta + n - x) - lb_ab + special.betaln(gamma, delta + n) - lb_gd
    terms = [alive_term]
    span = n - tx  # i = 0 .. span - 1
    for i in range(int(span.max(initial=0))):
        with np.errstate(invalid="ignore"):
            term = (
                special.betaln(alpha + x, beta + tx - x + i)
                - lb_ab
                + special.betaln(gamma + 1.0, delta + tx + i)
                - lb_gd
            )
        terms.append(np.where(i < span, term, -np.inf))
    return special.logsumexp(np.vstack(terms), axis=0)


class BgBbLikelihood:
    """Mean negative log-likelihood in log-parameters, gradient by central differences."""

    def __init__(self, x: np.ndarray, tx: np.ndarray, n: np.ndarray, w: np.ndarray) -> None:
        self.x, self.tx, self.n, self.w = x, tx, n, w
        self.total = float(w.sum())

    def value(self, theta: np.ndarray) -> float:
        params = dict(zip(PARAM_NAMES, np.exp(theta), strict=True))
        return -float(self.w @ log_likelihood_rows(params, self.x, self.tx, self.n)) / self.total

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        grad = np.empty_like(theta)
        for j in range(theta.size):
            e = np.zeros_like(theta)
            e[j] = _GRADIENT_STEP
            grad[j] = (self.value(theta + e) - self.value(theta - e)) / (2 * _GRADIENT_STEP)
        return self.value(theta), grad


def fit_bgbb(
    frequency: object, recency: object, n_periods: object, weights: object | None = None, *, period: str = "year"
) -> FitResult:
    """Maximum-likelihood BG/BB fit on (x, t_x, n) rows, optionally with customer counts
    ``weights`` (as in the published donations summary). ``period`` is recorded as the time
    unit. The result carries ``covariance_log`` when it converged."""
    x, tx, n = _rows(frequency, recency, n_periods)
    w = np.ones_like(x) if weights is None else np.atleast_1d(np.asarray(weights, dtype=float))
    if w.shape != x.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite, >= 0 and one per row")
    keep = w > 0
    # compress to distinct (x, t_x, n): the likelihood depends on nothing else
    stacked = np.column_stack([x[keep], tx[keep], n[keep]])
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    uw = np.bincount(inverse.ravel(), weights=w[keep], minlength=unique.shape[0])
    total = float(uw.sum())
    if total <= 0 or not np.any(unique[:, 0] > 0):
        return FitResult(
            MODEL_NAME,
            {p: math.nan for p in PARAM_NAMES},
            period,
            math.nan,
            round(total),
            False,
            "not fitted: no customer has a repeat transaction",
        )
    objective = BgBbLikelihood(unique[:, 0], unique[:, 1], unique[:, 2], uw)
    starts = [np.log(np.array(s)) for s in ((1.0, 1.0, 1.0, 1.0), (0.5, 0.5, 0.5, 2.0), (2.0, 1.0, 1.0, 5.0))]
    outcome = maximise_likelihood(lambda _m, _w: objective, uw, starts, PARAM_NAMES)
    covariance = None
    if outcome.converged:
        covariance = np.linalg.inv(hessian_central(objective, outcome.theta) * total)
    return FitResult(
        model_name=MODEL_NAME,
        params={p: float(v) for p, v in zip(PARAM_NAMES, np.exp(outcome.theta), strict=True)},
        time_unit=period,
        log_likelihood=float(-outcome.mean_nll * total),
        n_customers=round(total),
        converged=outcome.converged,
        message=("converged: " if outcome.converged else "NOT converged: ")
        + outcome.message
        + f"; {unique.shape[0]} distinct (frequency, recency, n) rows",
        n_evaluations=outcome.n_evaluations,
        covariance_log=covariance,
    )


def p_alive(params: dict[str, float], frequency: object, recency: object, n_periods: object) -> np.ndarray:
    """P(alive at opportunity n + 1 | x, t_x, n) (FHS10 eq. 11)."""
    x, tx, n = _rows(frequency, recency, n_periods)
    alpha, beta, gamma, delta = (params[k] for k in PARAM_NAMES)
    log_num = (
        special.betaln(alpha + x, beta + n - x)
        - special.betaln(alpha, beta)
        + special.betaln(gamma, delta + n + 1.0)
        - special.betaln(gamma, delta)
    )
    return np.exp(log_num - log_likelihood_rows(params, x, tx, n))


def expected_transactions(
    params: dict[str, float], future: float, frequency: object, recency: object, n_periods: object
) -> np.ndarray:
    """Expected transactions in the next ``future`` opportunities (FHS10 eq. 13), evaluated as
    the finite sum it comes from, which has no removable singularity at gamma = 1."""
    x, tx, n = _rows(frequency, recency, n_periods)
    alpha, beta, gamma, delta = (params[k] for k in PARAM_NAMES)
    # sum_{j=1..n*} P(transact at n+j | alive at n+j) P(alive at n+j | data): equal to eq. 13 and
    # valid for every gamma, so computed as the sum (n* is a small number of opportunities).
    log_ll = log_likelihood_rows(params, x, tx, n)
    log_p_buy = special.betaln(alpha + x + 1.0, beta + n - x) - special.betaln(alpha, beta)
    total = np.zeros_like(x)
    for j in range(1, int(future) + 1):
        log_alive = special.betaln(gamma, delta + n + j) - special.betaln(gamma, delta)
        total += np.exp(log_p_buy + log_alive - log_ll)
    return total


def _period_number(dates: pd.Series, period: str) -> np.ndarray:
    """Calendar period of each date as one increasing whole number (months, quarters or years)."""
    dates = pd.to_datetime(dates)
    year = dates.dt.year.to_numpy(dtype=np.int64)
    month = dates.dt.month.to_numpy(dtype=np.int64)
    if period == "month":
        return year * 12 + month - 1
    if period == "quarter":
        return year * 4 + (month - 1) // 3
    if period == "year":
        return year
    raise ValueError(f"period must be one of {', '.join(OPPORTUNITY_PERIODS)}, not {period!r}")


def last_complete_period_end(as_of: dt.date, period: str) -> dt.date:
    """Last day of the last calendar period that ended on or before ``as_of``."""
    as_of_ts = pd.Timestamp(as_of)
    current, following = _period_number(pd.Series([as_of_ts, as_of_ts + pd.Timedelta(days=1)]), period)
    if following != current:  # as_of is the last day of its period: that period is complete
        return as_of
    start = {"month": as_of_ts.replace(day=1), "year": as_of_ts.replace(month=1, day=1)}.get(
        period, as_of_ts.replace(month=3 * ((as_of_ts.month - 1) // 3) + 1, day=1)
    )
    return (start - pd.Timedelta(days=1)).date()


def opportunity_summary(purchase_days: pd.DataFrame, as_of: dt.date, period: str) -> pd.DataFrame:
    """Each customer's purchases as discrete opportunities: one per whole calendar ``period``.

    The period of the first purchase is the start (as the first donation is in FHS10); each
    complete calendar period after it, up to the last one that ended on or before ``as_of``,
    is one opportunity. ``n_periods`` counts them, ``frequency`` (x) the ones with at least
    one purchase day, ``recency`` (t_x) the number of the last one with a purchase (0 when
    none). Purchases in the incomplete period of ``as_of`` are not seen. Columns:
    customer_id, frequency, recency, n_periods; one row per customer of ``purchase_days``
    (customer_id, transaction_date), n_periods 0 when the first purchase is not before the
    last complete period's end.
    """
    if period not in OPPORTUNITY_PERIODS:
        raise ValueError(f"period must be one of {', '.join(OPPORTUNITY_PERIODS)}, not {period!r}")
    columns = ["customer_id", "frequency", "recency", "n_periods"]
    if purchase_days.empty:
        return pd.DataFrame({c: pd.Series(dtype="object" if c == "customer_id" else "int64") for c in columns})
    last = int(_period_number(pd.Series([pd.Timestamp(last_complete_period_end(as_of, period))]), period)[0])
    frame = pd.DataFrame(
        {
            "customer_id": purchase_days["customer_id"].to_numpy(),
            "number": _period_number(purchase_days["transaction_date"], period),
        }
    ).drop_duplicates()
    first = frame.groupby("customer_id", sort=True)["number"].min()
    frame["since_first"] = frame["number"] - frame["customer_id"].map(first).to_numpy()
    seen = frame[(frame["since_first"] > 0) & (frame["number"] <= last)]
    repeats = seen.groupby("customer_id")["since_first"].agg(["count", "max"])
    out = pd.DataFrame({"customer_id": first.index})
    out["frequency"] = out["customer_id"].map(repeats["count"]).fillna(0).astype("int64").to_numpy()
    out["recency"] = out["customer_id"].map(repeats["max"]).fillna(0).astype("int64").to_numpy()
    out["n_periods"] = np.clip(last - first.to_numpy(), 0, None).astype("int64")
    return out.loc[:, columns]
