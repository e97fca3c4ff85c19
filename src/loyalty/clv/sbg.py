"""Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007, "How to
Project Customer Retention", Journal of Interactive Marketing 21(1), 76-90; FH07 below) and
the discounted expected residual lifetime of Fader & Hardie (2010), "Customer-Base Valuation
in a Contractual Setting: The Perils of Ignoring Heterogeneity", Marketing Science 29(1)
(FH10 below).

At the end of every period an active subscriber cancels with probability theta, constant
for that subscriber; theta ~ Beta(alpha, beta) across subscribers. T = the period in which a
subscriber cancels (T = 1: gone before the first renewal). Equations:

* P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),  t = 1, 2, ...   (FH07 eq. 5)
* S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)                     (FH07 eq. 6)
* retention rate r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)  (FH07 eq. 8)
* log-likelihood of n_t cancellations in periods t = 1..k and n_alive still active after
  k periods: sum_t n_t log P(T = t) + n_alive log S(k)                      (FH07 eq. 7)

A subscriber observed for ``k`` whole periods (``completed``) is alive at the start of
period k + 1, i.e. T > k. For such a subscriber theta | T > k ~ Beta(alpha, beta + k), so:

* expected remaining lifetime, as the expected number of further renewals (whole periods
  after the current one) sum_{j >= 1} P(T > k + j | T > k)
  = (beta + k) / (alpha - 1), which is infinite when alpha <= 1 (returned as NaN: the mean
  does not exist; use the median);
* median remaining lifetime: the smallest m >= 0 with P(T > k + m | T > k) <= 1/2;
* DERL (FH10 eq. 6) for a subscriber who has made n - 1 = k renewals, evaluated just before
  the next renewal decision, at discount rate d per period:
  ``DERL = B(alpha, beta + n) / B(alpha, beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1/(1 + d))``
  = sum_{j >= 1} P(T > k + j | T > k) / (1 + d)^(j - 1): the expected discounted number of
  future payments, the next one undiscounted. Multiply by the margin per period for a value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special

from .optimize import hessian_central, maximise_likelihood
from .result import FitResult

MODEL_NAME = "sbg"
PARAM_NAMES = ("alpha", "beta")


def _check(alpha: float, beta: float) -> None:
    if not (alpha > 0 and beta > 0 and math.isfinite(alpha) and math.isfinite(beta)):
        raise ValueError(f"sBG parameters must be positive and finite, got alpha={alpha}, beta={beta}")


def churn_probability(alpha: float, beta: float, t: object) -> np.ndarray:
    """P(T = t) for t = 1, 2, ... (FH07 eq. 5)."""
    _check(alpha, beta)
    tt = np.asarray(t, dtype=float)
    return np.exp(special.betaln(alpha + 1.0, beta + tt - 1.0) - special.betaln(alpha, beta))


def survival(alpha: float, beta: float, t: object) -> np.ndarray:
    """S(t) = P(T > t), the share of a cohort still active after t periods (FH07 eq. 6)."""
    _check(alpha, beta)
    tt = np.asarray(t, dtype=float)
    return np.exp(special.betaln(alpha, beta + tt) - special.betaln(alpha, beta))


def retention_rate(alpha: float, beta: float, t: object) -> np.ndarray:
    """r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1), t >= 1 (FH07 eq. 8)."""
    _check(alpha, beta)
    tt = np.asarray(t, dtype=float)
    return (beta + tt - 1.0) / (alpha + beta + tt - 1.0)


def lifetimes_from_survival(alive: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(completed periods, is_churned, weights) from a cohort's counts alive at the start of
    periods 0, 1, ..., k (alive[0] = cohort size): alive[t-1] - alive[t] cancelled in period
    t (completed t - 1 periods), and alive[k] are still active after k completed periods."""
    counts = np.asarray(alive, dtype=float)
    if counts.ndim != 1 or counts.size < 2:
        raise ValueError("alive must list the cohort size and at least one later count")
    lost = counts[:-1] - counts[1:]
    if np.any(lost < 0):
        raise ValueError("the number alive cannot rise from one period to the next")
    k = counts.size - 1
    completed = np.append(np.arange(k, dtype=float), float(k))
    churned = np.append(np.ones(k, dtype=bool), False)
    return completed, churned, np.append(lost, counts[-1])


class SbgLikelihood:
    """Mean negative log-likelihood in theta = log(alpha, beta), with its gradient.

    A cancellation after k completed periods contributes log P(T = k + 1)
    = lbeta(alpha + 1, beta + k) - lbeta(alpha, beta); an active subscriber with k completed
    periods contributes log S(k) = lbeta(alpha, beta + k) - lbeta(alpha, beta).
    """

    def __init__(self, completed: np.ndarray, churned: np.ndarray, weights: np.ndarray) -> None:
        self.k = completed.astype(float)
        self.churned = churned.astype(bool)
        self.w = weights.astype(float)
        self.n = float(self.w.sum())

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        alpha, beta = np.exp(theta)
        k, c, w = self.k, self.churned, self.w
        a_term = np.where(c, alpha + 1.0, alpha)
        ll_rows = special.betaln(a_term, beta + k) - special.betaln(alpha, beta)
        ll = float(w @ ll_rows)
        psi_all = special.digamma(a_term + beta + k)
        d_alpha = special.digamma(a_term) - psi_all - (special.digamma(alpha) - special.digamma(alpha + beta))
        d_beta = special.digamma(beta + k) - psi_all - (special.digamma(beta) - special.digamma(alpha + beta))
        grad = np.array([float(w @ d_alpha) * alpha, float(w @ d_beta) * beta])
        return -ll / self.n, -grad / self.n


def fit_sbg(completed: object, churned: object, weights: object | None = None, *, period: str = "month") -> FitResult:
    """Maximum-likelihood sBG fit on subscribers' completed whole periods and whether they
    have cancelled (True) or are still active (False), one row per subscriber or per group
    with ``weights`` subscribers. ``period`` is recorded as the fit's time unit.

    The returned :class:`FitResult` has params alpha, beta and ``covariance_log`` (the
    asymptotic covariance of log alpha, log beta: the inverse Hessian of the total negative
    log-likelihood) when the fit converged.
    """
    k = np.atleast_1d(np.asarray(completed, dtype=float))
    c = np.atleast_1d(np.asarray(churned, dtype=bool))
    w = np.ones_like(k) if weights is None else np.atleast_1d(np.asarray(weights, dtype=float))
    if not (k.shape == c.shape == w.shape):
        raise ValueError("completed, churned and weights must have the same length")
    if np.any(~np.isfinite(k)) or np.any(k < 0) or np.any(k != np.round(k)):
        raise ValueError("completed periods must be whole numbers >= 0")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and >= 0")
    n = float(w.sum())
    if not np.any(c & (w > 0)):
        return FitResult(
            MODEL_NAME,
            {p: math.nan for p in PARAM_NAMES},
            period,
            math.nan,
            round(n),
            False,
            "not fitted: no subscriber has cancelled, so the cancellation rate cannot be estimated",
        )
    objective = SbgLikelihood(k, c, w)
    starts = [np.log(np.array(s)) for s in ((1.0, 1.0), (0.5, 2.0), (2.0, 5.0))]
    outcome = maximise_likelihood(lambda _m, _w: objective, w, starts, PARAM_NAMES)
    params = {p: float(v) for p, v in zip(PARAM_NAMES, np.exp(outcome.theta), strict=True)}
    covariance = None
    if outcome.converged:
        hessian = hessian_central(objective, outcome.theta) * n
        covariance = np.linalg.inv(hessian)
    return FitResult(
        model_name=MODEL_NAME,
        params=params,
        time_unit=period,
        log_likelihood=float(-outcome.mean_nll * n),
        n_customers=round(n),
        converged=outcome.converged,
        message=("converged: " if outcome.converged else "NOT converged: ") + outcome.message,
        n_evaluations=outcome.n_evaluations,
        covariance_log=covariance,
    )


def expected_remaining_periods(alpha: float, beta: float, completed: object) -> np.ndarray:
    """Expected number of further renewals of a subscriber with ``completed`` whole periods,
    (beta + k) / (alpha - 1); NaN when alpha <= 1 (the expectation is infinite)."""
    _check(alpha, beta)
    k = np.asarray(completed, dtype=float)
    if alpha <= 1.0:
        return np.full(k.shape, np.nan)
    return (beta + k) / (alpha - 1.0)


def median_remaining_periods(
    alpha: float, beta: float, completed: npt.ArrayLike, max_periods: int = 100_000
) -> np.ndarray:
    """Smallest m >= 0 with P(T > k + m | T > k) <= 1/2, per subscriber (k = ``completed``).

    Found by bisection on m, the conditional survival being decreasing in m; NaN when it
    stays above 1/2 for ``max_periods`` periods."""
    _check(alpha, beta)
    k = np.atleast_1d(np.asarray(completed, dtype=float))
    uk, inverse = np.unique(k, return_inverse=True)

    def cond_survival(m: np.ndarray) -> np.ndarray:
        # minus a rounding margin, so that exactly 1/2 (e.g. alpha = beta = 1) counts as reached
        return np.exp(special.betaln(alpha, beta + uk + m) - special.betaln(alpha, beta + uk)) - 1e-12

    lo = np.zeros_like(uk)  # S(lo) > 1/2 unless lo is the answer
    hi = np.full_like(uk, float(max_periods))
    never = cond_survival(hi) > 0.5
    done = cond_survival(lo) <= 0.5
    hi = np.where(done, 0.0, hi)
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        below = cond_survival(mid) <= 0.5
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid)
    out = np.where(never, np.nan, hi)
    return out[inverse].reshape(np.shape(completed)) if np.ndim(completed) else out[inverse]


def derl(alpha: float, beta: float, completed: object, discount_rate: float) -> np.ndarray:
    """Discounted expected residual lifetime (FH10 eq. 6) of a subscriber with ``completed``
    whole periods (n - 1 = k renewals), at ``discount_rate`` per period (> 0): the expected
    discounted number of future payments, the next one undiscounted."""
    _check(alpha, beta)
    if not discount_rate > 0:
        raise ValueError("the discount rate per period must be > 0")
    k = np.asarray(completed, dtype=float)
    n = k + 1.0
    ratio = np.exp(special.betaln(alpha, beta + n) - special.betaln(alpha, beta + n - 1.0))
    return ratio * special.hyp2f1(1.0, beta + n, alpha + beta + n, 1.0 / (1.0 + discount_rate))
