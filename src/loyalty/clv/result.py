"""Fit results, minimum sample sizes and time units shared by the CLV models."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Fewer customers than this and a transaction model (BG/NBD, Pareto/NBD) is not fitted.
MIN_CUSTOMERS = 30
#: Fewer repeat buyers with positive spend than this and the Gamma-Gamma model is not fitted.
MIN_REPEAT_BUYERS = 10

#: Time units the transaction models accept, with their length in days.
TIME_UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0}

#: Parameters measured in units of time (the gamma rate parameters of the purchase and
#: dropout rate distributions). They scale with the time unit; the others are unit free.
RATE_SCALE_PARAMS = frozenset({"alpha", "beta"})


def check_time_unit(time_unit: str) -> str:
    """Return ``time_unit`` if it is one of :data:`TIME_UNITS`, else raise ValueError."""
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}")
    return time_unit


@dataclass
class FitResult:
    """Outcome of one maximum-likelihood fit.

    ``params`` are in the model's natural parametrisation (bg_nbd: r, alpha, a, b;
    pareto_nbd: r, alpha, s, beta; gamma_gamma: p, q, gamma); alpha and beta are per
    ``time_unit``. ``log_likelihood`` is the full log-likelihood summed over customers
    (not the mean). A fit with ``converged=False`` must not be used for predictions:
    the models return NaN and warn; ``message`` says why.
    """

    model_name: str
    params: dict[str, float]
    time_unit: str
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str
    n_evaluations: int = field(default=0, compare=False)
    #: Asymptotic covariance of the log-parameters (inverse Hessian of the total negative
    #: log-likelihood, in ``params`` order), when the model computed it; used for intervals.
    covariance_log: np.ndarray | None = field(default=None, compare=False, repr=False)

    def in_time_unit(self, time_unit: str) -> FitResult:
        """The same fit expressed in another time unit (alpha, beta rescaled).

        alpha and beta are measured in time units (lambda ~ Gamma(r, rate alpha) has mean
        r / alpha purchases per unit of time), so alpha_days = 7 * alpha_weeks. The
        log-likelihood changes with the unit (the density of the purchase times picks up
        a Jacobian 7^x per customer), so it is reported as NaN rather than carried over.
        """
        check_time_unit(time_unit)
        if self.time_unit not in TIME_UNITS or time_unit == self.time_unit:
            return self
        factor = TIME_UNITS[self.time_unit] / TIME_UNITS[time_unit]  # weeks -> days: x 7
        params = {k: (v * factor if k in RATE_SCALE_PARAMS else v) for k, v in self.params.items()}
        return FitResult(
            model_name=self.model_name,
            params=params,
            time_unit=time_unit,
            log_likelihood=math.nan,
            n_customers=self.n_customers,
            converged=self.converged,
            message=self.message + f" (rescaled from {self.time_unit})",
            n_evaluations=self.n_evaluations,
            covariance_log=self.covariance_log,  # log(factor * alpha) only shifts: same covariance
        )
