"""Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The Gamma-Gamma
Model of Monetary Value"; Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value
Curves for Customer Base Analysis", Journal of Marketing Research 42(4)).

Each transaction value z ~ Gamma(p, nu), nu ~ Gamma(q, gamma) across customers. For a
customer with x repeat transactions of mean value m the density of m is

``f(m | p, q, gamma, x) = G(px+q) / (G(px) G(q)) * gamma^q m^(px-1) x^(px) / (gamma + m x)^(px+q)``

and the conditional expectation of a customer's mean transaction value is

``E[M | p, q, gamma, m, x] = p (gamma + m x) / (p x + q - 1)``

(a weighted average of the population mean p gamma / (q - 1) and the observed m).
Only repeat buyers (x > 0) with m > 0 enter the fit. The model assumes spend is
independent of the transaction process; check that before trusting it.
"""

from __future__ import annotations

import math
import warnings
from typing import Self

import numpy as np
from scipy import special

from .base import ConvergenceWarning, NotUsableWarning, TooFewCustomersWarning, as_float_array
from .compress import factorize
from .optimize import hessian_central, maximise_likelihood
from .result import MIN_REPEAT_BUYERS, FitResult
from .special import dot


class GammaGammaLikelihood:
    """Mean negative log-likelihood of the mean spends with analytic gradient.

    Terms linear in p or q with data-only coefficients (sum of w x log m, etc.) are
    precomputed; only log(gamma + m x) is evaluated per row.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray, w: np.ndarray, x_values: np.ndarray, x_codes: np.ndarray) -> None:
        self.n = float(w.sum())
        self.w = w
        self.wpx = w * x
        self.mx = m * x
        self.ux = x_values
        self.wx = np.bincount(x_codes, weights=w, minlength=x_values.shape[0])
        log_m = np.log(m)
        self.c_p = dot(self.wpx, log_m + np.log(x))  # coefficient of p
        self.c_const = -dot(w, log_m)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, gamma = np.exp(theta)
        n, ux, wx = self.n, self.ux, self.wx
        log_gm = np.log(gamma + self.mx)
        s_wpx_log, s_w_log = dot(self.wpx, log_gm), dot(self.w, log_gm)
        px = p * ux
        ll = (
            dot(wx, special.gammaln(px + q) - special.gammaln(px))
            - n * special.gammaln(q)
            + n * q * np.log(gamma)
            + p * self.c_p
            + self.c_const
            - p * s_wpx_log
            - q * s_w_log
        )
        psi_pxq = special.digamma(px + q)
        inv_gm = 1.0 / (gamma + self.mx)
        g_p = dot(wx, ux * (psi_pxq - special.digamma(px))) + self.c_p - s_wpx_log
        g_q = dot(wx, psi_pxq) - n * special.digamma(q) + n * np.log(gamma) - s_w_log
        g_gamma = n * q / gamma - p * dot(self.wpx, inv_gm) - q * dot(self.w, inv_gm)
        grad = np.array([g_p * p, g_q * q, g_gamma * gamma])
        return -ll / n, -grad / n


def log_likelihood_individual(params: dict[str, float], x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log density of the mean spend, written directly."""
    p, q, gamma = (params[k] for k in ("p", "q", "gamma"))
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + m * x)
    )


class GammaGammaModel:
    """Gamma-Gamma spend model; see the module docstring.

    >>> gg = GammaGammaModel().fit(frequency, monetary_value)
    >>> gg.expected_avg_value(frequency, monetary_value)
    """

    model_name = "gamma_gamma"
    param_names = ("p", "q", "gamma")

    def __init__(self) -> None:
        self.result: FitResult | None = None

    def __repr__(self) -> str:
        state = "unfitted" if self.result is None else ", ".join(f"{k}={v:.4g}" for k, v in self.result.params.items())
        return f"GammaGammaModel({state})"

    @classmethod
    def from_params(cls, params: dict[str, float]) -> Self:
        """A model with given parameters, ready to predict."""
        model = cls()
        model.result = FitResult(
            cls.model_name,
            {k: float(params[k]) for k in cls.param_names},
            "n/a",
            math.nan,
            0,
            True,
            "parameters supplied by the caller",
        )
        return model

    def fit(
        self, frequency: object, monetary_value: object, weights: object | None = None, *, max_iter: int = 1000
    ) -> Self:
        """Fit on repeat buyers (frequency > 0) with monetary_value > 0; other rows are
        ignored (their number is in ``result.message``). monetary_value = mean spend per
        repeat transaction (per repeat purchase day)."""
        x = as_float_array(frequency, "frequency")
        m = np.asarray(monetary_value, dtype=float).reshape(-1)
        if m.shape != x.shape:
            raise ValueError("frequency and monetary_value must have the same length")
        w = np.ones_like(x) if weights is None else as_float_array(weights, "weights")
        if w.shape != x.shape or np.any(w < 0):
            raise ValueError("weights must be >= 0, one per customer")
        use = (x > 0) & np.isfinite(m) & (m > 0) & (w > 0)
        n_used = round(float(w[use].sum()))
        n_excluded = round(float(w.sum())) - n_used
        note = f"{n_used} repeat buyers with positive spend ({n_excluded} other customers excluded)"
        if n_used < MIN_REPEAT_BUYERS:
            self.result = FitResult(
                self.model_name,
                {k: math.nan for k in self.param_names},
                "n/a",
                math.nan,
                n_used,
                False,
                f"not fitted: {note}, fewer than MIN_REPEAT_BUYERS = {MIN_REPEAT_BUYERS}",
            )
            warnings.warn(
                f"gamma_gamma: {self.result.message}; predictions are NaN", TooFewCustomersWarning, stacklevel=2
            )
            return self
        # Mean spend is continuous, so rows are not compressed; terms that depend on x only
        # are summed per distinct x.
        xu, mu, wu = x[use], m[use], w[use]
        x_values, x_codes = factorize(xu)

        def build(mask: np.ndarray | None, w_sub: np.ndarray | None) -> GammaGammaLikelihood:
            if mask is None or w_sub is None:
                return GammaGammaLikelihood(xu, mu, wu, x_values, x_codes)
            return GammaGammaLikelihood(xu[mask], mu[mask], w_sub, x_values, x_codes[mask])

        mean_m = dot(wu, mu) / float(wu.sum())
        # q > 1 so the population mean p gamma/(q-1) exists; gamma chosen to match mean_m
        starts = [np.log([p, q, mean_m * (q - 1) / p]) for p, q in ((1.0, 2.0), (5.0, 3.0), (0.5, 5.0))]
        out = maximise_likelihood(build, wu, starts, self.param_names, max_iter=max_iter)
        params = {k: float(v) for k, v in zip(self.param_names, np.exp(out.theta), strict=True)}
        covariance = None
        if out.converged:  # asymptotic covariance of the log-parameters, for the CLV interval
            hessian = hessian_central(build(None, None), out.theta) * float(wu.sum())
            covariance = np.linalg.inv(hessian) if np.all(np.linalg.eigvalsh(hessian) > 0) else None
        self.result = FitResult(
            self.model_name,
            params,
            "n/a",
            float(-out.mean_nll * wu.sum()),
            n_used,
            out.converged,
            ("converged: " if out.converged else "NOT converged: ") + out.message + f"; {note}",
            out.n_evaluations,
            covariance,
        )
        if not out.converged:
            warnings.warn(
                f"gamma_gamma fit did not converge ({self.result.message}); its predictions are NaN",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _usable_params(self) -> dict[str, float] | None:
        if self.result is None:
            raise RuntimeError("GammaGammaModel is not fitted: call fit() first")
        if not self.result.converged:
            warnings.warn(
                f"gamma_gamma: predictions are NaN because the fit is not usable ({self.result.message})",
                NotUsableWarning,
                stacklevel=3,
            )
            return None
        return self.result.params

    def population_mean(self) -> float:
        """Mean spend per transaction of a new customer, p gamma / (q - 1) (NaN if q <= 1)."""
        params = self._usable_params()
        if params is None:
            return math.nan
        p, q, gamma = params["p"], params["q"], params["gamma"]
        return p * gamma / (q - 1.0) if q > 1.0 else math.nan

    def expected_avg_value(self, frequency: object, monetary_value: object) -> np.ndarray:
        """E[M | p, q, gamma, m, x] = p (gamma + m x) / (p x + q - 1).

        For frequency 0 (or a missing monetary value) this is the population mean
        p gamma / (q - 1). NaN where the expectation does not exist (p x + q <= 1).
        """
        x = np.atleast_1d(np.asarray(frequency, dtype=float))
        m = np.atleast_1d(np.asarray(monetary_value, dtype=float))
        x, m = np.broadcast_arrays(x, m)
        params = self._usable_params()
        if params is None:
            return np.full(x.shape, np.nan)
        p, q, gamma = params["p"], params["q"], params["gamma"]
        m_used = np.where((x > 0) & np.isfinite(m), m, 0.0)
        x_used = np.where(np.isfinite(m), x, 0.0)
        denom = p * x_used + q - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(denom > 0, p * (gamma + m_used * x_used) / denom, np.nan)
        if np.any(denom <= 0):
            warnings.warn(
                "gamma_gamma: q <= 1, the population mean spend does not exist; NaN returned "
                "for customers without repeat purchases",
                NotUsableWarning,
                stacklevel=2,
            )
        return out
