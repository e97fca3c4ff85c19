"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987, "Counting Your Customers:
Who Are They and What Will They Do Next?", Management Science 33(1)), in the form of
Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related
Expressions" (FH05 below).

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha);
the lifetime is exponential with rate mu ~ Gamma(s, beta).

Likelihood (FH05, section 3):
``L = G(r+x) alpha^r beta^s / G(r) * [ 1/((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A_0 ]``
with, for alpha >= beta,
``A_0 = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t_x)) / (alpha+t_x)^(r+s+x)
      - 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+T))   / (alpha+T)^(r+s+x)``
and for alpha < beta the same with (alpha, beta, s+1) replaced by (beta, alpha, r+x).
Equivalently ``s/(r+s+x) A_0 = s * integral_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy``
(death at y between the last purchase and T), so each of the two 2F1 terms is
``(r+s+x) * H(x, y)`` with ``H(x, y) = integral_y^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du``.
log H is evaluated once per unique (x, y) pair (y = t_x or T) with the guarded 2F1 of
:mod:`loyalty.clv.special`, and A_0 = exp(log H(x,t_x)) - exp(log H(x,T)) in log space
(log(-expm1(.))), the alpha >= beta / alpha < beta branching of lifetimes' ``_log_A_0``.

Predictions (FH05):
* P(alive | x, t_x, T) = ``[1/((alpha+T)^(r+x)(beta+T)^s)] / [bracket of L]``
* E[Y(t) | x, t_x, T] = ``(r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive)``
* E[X(t)] = ``r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]``
  (both with the s -> 1 limit handled by :func:`loyalty.clv.special.expm1_ratio`).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .base import ExpectationFactors, SummaryRows, TransactionModel
from .compress import combine_codes, factorize
from .special import dot, expm1_ratio, log_hyp2f1, softplus_and_sigmoid

_FD_STEP = 1e-7
#: Largest shape s of the dropout rates' Gamma(s, beta) distribution the fit searches. At
#: s = 100 their coefficient of variation is 1/sqrt(s) = 10%: customers' dropout rates are
#: practically equal. On data with equal dropout rates (the project's generated data are
#: such) the likelihood keeps rising, ever more slowly, as s and beta grow together with
#: s / beta fixed, so the maximum-likelihood estimate does not exist; past s ~ 170 scipy's
#: 2F1 overflows and each value needs up to 200,000 series terms (z -> 1), so such a fit
#: used to run for its whole time budget (60 s) before it was reported as not converged.
#: It now stops at this bound and is reported as not converged at once ("at the edge").
S_MAX = 100.0


def _log_h_parts(
    r: float, alpha: float, s: float, beta: float, px: np.ndarray, py: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Pieces of log H(x, y) = -log A - A log(m+y) + log 2F1(A, B'; A+1; z).

    Returns (A, B', z, log(m+y), alpha_is_max) with A = r+s+x, m = max(alpha, beta),
    z = |alpha-beta|/(m+y), and B' = s+1 if alpha >= beta else r+x.
    """
    big_alpha = alpha >= beta
    m = alpha if big_alpha else beta
    a_ = r + s + px
    b_ = np.full_like(px, s + 1.0) if big_alpha else r + px
    log_my = np.log(m + py)
    z = abs(alpha - beta) / (m + py)
    return a_, b_, z, log_my, big_alpha


def log_h(params: tuple[float, float, float, float], px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """log H(x, y) = log integral_y^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du (see module)."""
    r, alpha, s, beta = params
    a_, b_, z, log_my, _ = _log_h_parts(r, alpha, s, beta, px, py)
    return -np.log(a_) - a_ * log_my + log_hyp2f1(a_, b_, a_ + 1.0, z)


def _log_h_and_gradient(
    r: float, alpha: float, s: float, beta: float, px: np.ndarray, py: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """log H on pairs and its derivatives wrt (r, alpha, s, beta), shape (4, n_pairs).

    d log 2F1 / dz is analytic ((A B'/(A+1)) 2F1(A+1, B'+1; A+2; z) / 2F1); the
    derivatives with respect to A (with c = A + 1) and B' are forward differences.
    """
    a_, b_, z, log_my, big_alpha = _log_h_parts(r, alpha, s, beta, px, py)
    log_f = log_hyp2f1(a_, b_, a_ + 1.0, z)
    h = -np.log(a_) - a_ * log_my + log_f
    # forward differences: truncation error ~ step/2 * d2 log F (small), rounding ~ 1e-16/step
    ha = _FD_STEP * np.maximum(a_, 1.0)
    hb = _FD_STEP * np.maximum(b_, 1.0)
    f_a = (log_hyp2f1(a_ + ha, b_, a_ + ha + 1.0, z) - log_f) / ha
    f_b = (log_hyp2f1(a_, b_ + hb, a_ + 1.0, z) - log_f) / hb
    f_z = a_ * b_ / (a_ + 1.0) * np.exp(log_hyp2f1(a_ + 1.0, b_ + 1.0, a_ + 2.0, z) - log_f)
    d_a = -1.0 / a_ - log_my + f_a  # dH/dA with A = r + s + x
    grad = np.empty((4, px.shape[0]))
    if big_alpha:  # m = alpha, B' = s + 1, z = (alpha - beta)/(alpha + y)
        grad[0] = d_a
        grad[2] = d_a + f_b
        grad[1] = -a_ / (alpha + py) + f_z * (beta + py) / (alpha + py) ** 2
        grad[3] = -f_z / (alpha + py)
    else:  # m = beta, B' = r + x, z = (beta - alpha)/(beta + y)
        grad[0] = d_a + f_b
        grad[2] = d_a
        grad[1] = -f_z / (beta + py)
        grad[3] = -a_ / (beta + py) + f_z * (alpha + py) / (beta + py) ** 2
    return h, grad


class ParetoNbdLikelihood:
    """Mean negative log-likelihood on compressed rows with its gradient.

    Per customer: log L = lgamma(r+x) - lgamma(r) + r log alpha + s log beta
    + logaddexp(u, v) with u = -(r+x) log(alpha+T) - s log(beta+T) and
    v = log s + log(H(x,t_x) - H(x,T)) (v = -inf when t_x = T).
    """

    def __init__(self, rows: SummaryRows) -> None:
        # rows with t_x < T (a death between the last purchase and T is possible) first,
        # so that the per-row work below runs on contiguous slices
        has = rows.tx < rows.t_obs
        order = np.concatenate([np.flatnonzero(has), np.flatnonzero(~has)])
        self.k = int(has.sum())
        w, x = rows.w[order], rows.x[order]
        self.n = float(w.sum())
        self.w = w
        self.x = x
        self.ux = rows.x_values
        self.wx = np.bincount(rows.x_codes, weights=rows.w, minlength=self.ux.shape[0])
        self.uT, self.iT = rows.t_values, rows.t_codes[order]
        # distinct (x, y) pairs over y = t_x and y = T of the rows with t_x < T
        sel = order[: self.k]
        y_values = np.union1d(rows.tx_values, rows.t_values)
        y_tx = np.searchsorted(y_values, rows.tx_values)[rows.tx_codes[sel]]
        y_T = np.searchsorted(y_values, rows.t_values)[rows.t_codes[sel]]
        x_codes = rows.x_codes[sel]
        codes, ix, iy = combine_codes(
            np.concatenate([x_codes, x_codes]), np.concatenate([y_tx, y_T]), max(y_values.shape[0], 1)
        )
        self.px, self.py = self.ux[ix], y_values[iy]
        self.i1, self.i2 = codes[: self.k], codes[self.k :]

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, s, beta = np.exp(theta)
        n, w, x, iT, k = self.n, self.w, self.x, self.iT, self.k
        log_aT = np.log(alpha + self.uT)
        log_bT = np.log(beta + self.uT)
        u = (-r * log_aT - s * log_bT)[iT] - x * log_aT[iT]
        grad_ll = np.zeros(4)
        ll_rows = dot(w[k:], u[k:])  # rows with t_x = T: only the "alive at T" term
        wp = w.copy()  # weight x P(alive at T | data) per row
        if k:
            h, dh = _log_h_and_gradient(r, alpha, s, beta, self.px, self.py)
            h1 = h[self.i1]
            gap = h1 - h[self.i2]  # > 0: H decreases in y
            one_minus = -np.expm1(-gap)  # 1 - H(x,T)/H(x,t_x)
            v = np.log(s) + h1 + np.log(one_minus)
            softplus, pi = softplus_and_sigmoid(u[:k] - v)
            ll_rows += dot(w[:k], v + softplus)  # logaddexp(u, v)
            wp[:k] *= pi
            # d log(H1 - H2) = q dH1 - (q - 1) dH2 with q = 1/(1 - exp(-gap))
            wv = w[:k] - wp[:k]
            wvq = wv / one_minus
            n_pairs = h.shape[0]
            coef = np.bincount(self.i1, weights=wvq, minlength=n_pairs) - np.bincount(
                self.i2, weights=wvq - wv, minlength=n_pairs
            )
            grad_ll += np.einsum("kj,j->k", dh, coef)
            grad_ll[2] += wv.sum() / s
        ll = (
            dot(self.wx, special.gammaln(r + self.ux))
            - n * special.gammaln(r)
            + n * (r * np.log(alpha) + s * np.log(beta))
            + ll_rows
        )
        n_T = self.uT.shape[0]
        wp_T = np.bincount(iT, weights=wp, minlength=n_T)
        wpx_T = np.bincount(iT, weights=wp * x, minlength=n_T)
        grad_ll[0] += (
            dot(self.wx, special.digamma(r + self.ux)) - n * special.digamma(r) + n * np.log(alpha) - dot(wp_T, log_aT)
        )
        grad_ll[1] += n * r / alpha - dot(r * wp_T + wpx_T, 1.0 / (alpha + self.uT))
        grad_ll[2] += n * np.log(beta) - dot(wp_T, log_bT)
        grad_ll[3] += n * s / beta - s * dot(wp_T, 1.0 / (beta + self.uT))
        grad = grad_ll * np.array([r, alpha, s, beta])
        return -ll / n, -grad / n


def _u_v(params: dict[str, float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log of the two likelihood terms (u: alive at T, v: died in (t_x, T])."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    u = -(r + x) * np.log(alpha + t_obs) - s * np.log(beta + t_obs)
    v = np.full(x.shape, -np.inf)
    has = tx < t_obs
    if np.any(has):
        k = int(has.sum())
        vx, cx = factorize(np.concatenate([x[has], x[has]]))
        vy, cy = factorize(np.concatenate([tx[has], t_obs[has]]))
        codes, ix, iy = combine_codes(cx, cy, max(vy.shape[0], 1))
        h = log_h((r, alpha, s, beta), vx[ix], vy[iy])
        h1, h2 = h[codes[:k]], h[codes[k:]]
        v[has] = np.log(s) + h1 + np.log(-np.expm1(h2 - h1))  # log(H1 - H2), H1 > H2
    return u, v


def log_likelihood_individual(params: dict[str, float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood (FH05), no compression."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    x, tx, t_obs = (np.asarray(v, dtype=float) for v in (x, tx, t_obs))
    u, v = _u_v(params, x, tx, t_obs)
    return special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(u, v)


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD model; see the module docstring for the equations.

    >>> model = ParetoNBDModel(time_unit="weeks").fit(frequency, recency, T)
    >>> model.result.params   # r, alpha, s, beta (alpha, beta per week)
    """

    model_name = "pareto_nbd"
    param_names = ("r", "alpha", "s", "beta")
    #: s (the shape of the dropout rates' Gamma distribution) stays below S_MAX; see S_MAX
    log_upper = {"s": float(np.log(S_MAX))}

    def _objective(self, rows: SummaryRows) -> ParetoNbdLikelihood:
        return ParetoNbdLikelihood(rows)

    def _starts(self, rows: SummaryRows) -> list[np.ndarray]:
        w = rows.w
        rate = max(dot(w, rows.x) / max(dot(w, rows.t_obs), 1e-12), 1e-6)
        mean_T = max(dot(w, rows.t_obs) / float(w.sum()), 1e-3)
        starts = [(1.0, 1.0 / rate, 1.0, mean_T), (0.5, 0.5 / rate, 0.5, mean_T), (2.0, 2.0 / rate, 2.0, 4 * mean_T)]
        return [np.log(np.array(s)) for s in starts]

    def _p_alive(self, params: dict[str, float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
        u, v = _u_v(params, x, tx, t_obs)
        return special.expit(u - v)

    def _expectation_factors(
        self, params: dict[str, float], horizons: list[float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
    ) -> ExpectationFactors:
        """E[Y(t) | x, t_x, T] = (r+x)(beta+T)/(alpha+T) P(alive) x g(T, t), with the
        horizon term g = [1 - ((beta+T)/(beta+T+t))^(s-1)]/(s-1) tabulated per distinct T."""
        r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
        alive = self._p_alive(params, x, tx, t_obs)
        row_factor = (r + x) * (beta + t_obs) / (alpha + t_obs) * alive
        uT, iT = factorize(t_obs)
        table = np.empty((uT.shape[0], len(horizons)))
        for j, t in enumerate(horizons):
            table[:, j] = expm1_ratio(s - 1.0, np.log1p(t / (beta + uT)))
        return ExpectationFactors(row_factor, iT, table)

    def _expected_purchases_each(
        self, params: dict[str, float], t: np.ndarray, x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
    ) -> np.ndarray:
        r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
        row_factor = (r + x) * (beta + t_obs) / (alpha + t_obs) * self._p_alive(params, x, tx, t_obs)
        return row_factor * expm1_ratio(s - 1.0, np.log1p(t / (beta + t_obs)))

    def _expected_purchases_new(self, params: dict[str, float], t: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
        return r * beta / alpha * expm1_ratio(s - 1.0, np.log1p(t / beta))
