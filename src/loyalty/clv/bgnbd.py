"""BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way: An
Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284).

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha);
after each purchase they drop out with probability p ~ Beta(a, b). Sufficient
statistics: x = repeat purchases, t_x = time of the last one, T = observation time,
all measured from the first purchase.

Equations used (numbers as in the paper):

* (6) log-likelihood
  ``L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
      + delta(x>0) * B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``
  evaluated as lgamma/lbeta terms plus softplus(log a - log(b+x-1)
  + (r+x) log((alpha+T)/(alpha+t_x))), since B(a+1,b+x-1)/B(a,b+x) = a/(b+x-1).
* (9) ``E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]``
* (10) ``E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1)
  [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] * P(alive)``
* P(alive) = ``1 / (1 + delta(x>0) a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``
  (Fader, Hardie & Lee 2008, "Computing P(alive) Using the BG/NBD Model").

For (9) and (10) the 2F1 is evaluated after Euler's transformation
2F1(a', b'; c'; z) = (1-z)^(c'-a'-b') 2F1(c'-a', c'-b'; c'; z), which turns
(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) into (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z):
parameters that do not grow with x, so no overflow for heavy buyers.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .base import ExpectationFactors, SummaryRows, TransactionModel
from .compress import combine_codes, factorize
from .special import dot, hyp2f1, softplus_and_sigmoid


class BgNbdLikelihood:
    """Mean negative log-likelihood (eq. 6) on compressed rows, with analytic gradient.

    Terms that depend on x only are summed over unique x, those that depend on T only
    over unique T; only the softplus coupling term of repeat buyers is per row.
    """

    def __init__(self, rows: SummaryRows) -> None:
        w, x = rows.w, rows.x
        self.n = float(w.sum())
        self.ux = rows.x_values
        self.wx = np.bincount(rows.x_codes, weights=w, minlength=self.ux.shape[0])
        self.uT = rows.t_values
        self.wT = np.bincount(rows.t_codes, weights=w, minlength=self.uT.shape[0])
        self.xwT = np.bincount(rows.t_codes, weights=w * x, minlength=self.uT.shape[0])
        rep = x > 0
        self.w_r = w[rep]
        self.ix_r = rows.x_codes[rep]
        self.iT_r = rows.t_codes[rep]
        self.itx_r = rows.tx_codes[rep]
        self.utx = rows.tx_values

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(theta)
        ux, wx, n = self.ux, self.wx, self.n
        log_aT = np.log(alpha + self.uT)
        ll = (
            dot(wx, special.gammaln(r + ux) + special.betaln(a, b + ux))
            - n * (special.gammaln(r) + special.betaln(a, b))
            + n * r * np.log(alpha)
            - dot(r * self.wT + self.xwT, log_aT)
        )
        g_r = dot(wx, special.digamma(r + ux)) - n * special.digamma(r) + n * np.log(alpha) - dot(self.wT, log_aT)
        g_alpha = n * r / alpha - dot(r * self.wT + self.xwT, 1.0 / (alpha + self.uT))
        psi_ab = special.digamma(a + b)
        psi_abx = special.digamma(a + b + ux)
        g_a = dot(wx, psi_ab - psi_abx)
        g_b = dot(wx, special.digamma(b + ux) - psi_abx) - n * (special.digamma(b) - psi_ab)
        if self.w_r.size:
            d = log_aT[self.iT_r] - np.log(alpha + self.utx)[self.itx_r]
            rx = r + ux
            with np.errstate(divide="ignore", invalid="ignore"):  # x = 0 entries unused
                c_x = np.log(a) - np.log(b + ux - 1.0)
                inv_bx = 1.0 / (b + ux - 1.0)
            dd = c_x[self.ix_r] + rx[self.ix_r] * d
            softplus, sigmoid = softplus_and_sigmoid(dd)
            ll += dot(self.w_r, softplus)
            ws = self.w_r * sigmoid
            e = (1.0 / (alpha + self.uT))[self.iT_r] - (1.0 / (alpha + self.utx))[self.itx_r]
            k = ux.shape[0]
            s_x = np.bincount(self.ix_r, weights=ws, minlength=k)
            se_x = np.bincount(self.ix_r, weights=ws * e, minlength=k)
            g_r += dot(ws, d)
            g_alpha += dot(rx, se_x)
            g_a += s_x.sum() / a
            g_b -= dot(s_x[ux > 0], inv_bx[ux > 0])
        grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
        return -ll / n, -grad / n


def log_likelihood_individual(params: dict[str, float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood, eq. (6), written directly (no compression)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, tx, t_obs = (np.asarray(v, dtype=float) for v in (x, tx, t_obs))
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    term_T = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + t_obs)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_tx = np.where(
            x > 0,
            special.betaln(a + 1, b + x - 1) - special.betaln(a, b) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
    return common + np.logaddexp(term_T, term_tx)


def _log_odds_dead(params: dict[str, float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
    """log[a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)] for x > 0, -inf for x = 0."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + t_obs) - np.log(alpha + tx))
    return np.where(x > 0, out, -np.inf)


def _one_minus_scaled_2f1_over(a_: float, b_: float, r_: float, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """[1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] / (a-1), via Euler's transformation."""
    c = a_ + b_ + x - 1.0
    f = hyp2f1(a_ + b_ - 1.0 - r_, a_ - 1.0, c, z)
    log1mz = np.log1p(-z)
    # 1 - (1-z)^(a-1) F = -expm1((a-1) log(1-z)) + (1-z)^(a-1) (1 - F)
    power = np.exp((a_ - 1.0) * log1mz)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (-np.expm1((a_ - 1.0) * log1mz) + power * (1.0 - f)) / (a_ - 1.0)
    return out


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the distinct (a, b) pairs and the pairs' values."""
    va, ca = factorize(a)
    vb, cb = factorize(b)
    codes, ia, ib = combine_codes(ca, cb, max(vb.shape[0], 1))
    return codes, va[ia], vb[ib]


class BetaGeoModel(TransactionModel):
    """BG/NBD model; see the module docstring for the equations.

    >>> model = BetaGeoModel(time_unit="weeks").fit(frequency, recency, T)
    >>> model.result.converged, model.result.params   # r, alpha, a, b (alpha per week)
    """

    model_name = "bg_nbd"
    param_names = ("r", "alpha", "a", "b")

    def _objective(self, rows: SummaryRows) -> BgNbdLikelihood:
        return BgNbdLikelihood(rows)

    def _starts(self, rows: SummaryRows) -> list[np.ndarray]:
        # purchase rate per unit time while observed; r/alpha is the mean rate.
        rate = max(dot(rows.w, rows.x) / max(dot(rows.w, rows.t_obs), 1e-12), 1e-6)
        starts = [(1.0, 1.0 / rate, 1.0, 2.0), (0.3, 0.3 / rate, 0.5, 1.0), (3.0, 3.0 / rate, 2.0, 8.0)]
        return [np.log(np.array(s)) for s in starts]

    def _p_alive(self, params: dict[str, float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
        return special.expit(-_log_odds_dead(params, x, tx, t_obs))

    def _expectation_factors(
        self, params: dict[str, float], horizons: list[float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
    ) -> ExpectationFactors:
        """Eq. (10) as P(alive) x a table over distinct (x, T): the 2F1 term does not
        depend on t_x, so it is evaluated once per distinct (x, T) pair and horizon."""
        r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
        alive = self._p_alive(params, x, tx, t_obs)
        codes, ux, uT = _unique_pairs(x, t_obs)
        table = np.zeros((ux.shape[0], len(horizons)))
        for j, t in enumerate(horizons):
            if t > 0:
                z = t / (alpha + uT + t)
                table[:, j] = (a + b + ux - 1.0) * _one_minus_scaled_2f1_over(a, b, r, ux, z)
        return ExpectationFactors(alive, codes, table)

    def _expected_purchases_each(
        self, params: dict[str, float], t: np.ndarray, x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
        z = t / (alpha + t_obs + t)
        bracket = (a + b + x - 1.0) * _one_minus_scaled_2f1_over(a, b, r, x, z)
        return np.where(t > 0, bracket * self._p_alive(params, x, tx, t_obs), 0.0)

    def _expected_purchases_new(self, params: dict[str, float], t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
        z = t / (alpha + t)
        return (a + b - 1.0) * _one_minus_scaled_2f1_over(a, b, r, np.zeros_like(z), z)
