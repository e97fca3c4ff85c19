"""Shared machinery of the transaction models (BG/NBD, Pareto/NBD): input checks, the
minimum-sample rule, compression, the subsample warm start, and the NaN-on-failure
contract of the prediction methods."""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from .compress import Compressed, compress_rows
from .optimize import Objective, hessian_central, maximise_likelihood
from .result import MIN_CUSTOMERS, FitResult, check_time_unit


class ClvWarning(UserWarning):
    """Base class of the warnings this package emits."""


class TooFewCustomersWarning(ClvWarning):
    """Not enough customers to fit a model; its predictions are NaN."""


class ConvergenceWarning(ClvWarning):
    """A fit did not converge; its predictions are NaN."""


class NotUsableWarning(ClvWarning):
    """Predictions were requested from a fit that is not usable; NaN is returned."""


def as_float_array(values: object, name: str) -> np.ndarray:
    """``values`` (list, numpy array, pandas Series, scalar) as a 1-D float64 array."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def validate_summary(
    frequency: object, recency: object, T: object, weights: object | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check and convert (frequency, recency, T[, weights]) as used by lifetimes.

    frequency = number of repeat purchases (integer >= 0), recency = time of the last
    purchase since the first (0 when frequency = 0), T = time from the first purchase to
    the end of observation, with 0 <= recency <= T.
    """
    x = as_float_array(frequency, "frequency")
    tx = as_float_array(recency, "recency")
    t_obs = as_float_array(T, "T")
    if not (x.shape == tx.shape == t_obs.shape):
        raise ValueError("frequency, recency and T must have the same length")
    w = np.ones_like(x) if weights is None else as_float_array(weights, "weights")
    if w.shape != x.shape:
        raise ValueError("weights must have one value per customer")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be a non-negative integer count")
    if np.any(tx < 0):
        raise ValueError("recency must be >= 0")
    if np.any(tx > t_obs * (1 + 1e-12)):
        raise ValueError("recency must be <= T")
    if np.any((x == 0) & (tx > 0)):
        raise ValueError("recency must be 0 for customers with frequency 0")
    return x, np.minimum(tx, t_obs), t_obs, w


@dataclass(frozen=True)
class SummaryRows:
    """Unique (frequency x, recency t_x, T) rows with customer weights, in one time unit,
    plus each row's index into the sorted distinct values of x, t_x and T (so terms that
    depend on one of them only are evaluated once per distinct value)."""

    x: np.ndarray
    tx: np.ndarray
    t_obs: np.ndarray
    w: np.ndarray
    x_values: np.ndarray
    x_codes: np.ndarray
    tx_values: np.ndarray
    tx_codes: np.ndarray
    t_values: np.ndarray
    t_codes: np.ndarray

    @classmethod
    def from_compressed(cls, comp: Compressed, time_scale: float = 1.0) -> SummaryRows:
        """From ``compress_rows(frequency, recency, T)``; recency and T are divided by
        ``time_scale`` (e.g. 7 to go from days to weeks; codes are unaffected)."""
        keep = comp.weights > 0
        x, tx, t_obs = (c[keep] for c in comp.columns)
        (vx, vtx, vt), (cx, ctx, ct) = comp.values, comp.codes
        return cls(
            x=x.astype(float),
            tx=tx / time_scale,
            t_obs=t_obs / time_scale,
            w=comp.weights[keep],
            x_values=vx.astype(float),
            x_codes=cx[keep],
            tx_values=vtx / time_scale,
            tx_codes=ctx[keep],
            t_values=vt / time_scale,
            t_codes=ct[keep],
        )

    @property
    def n_customers(self) -> int:
        return round(float(self.w.sum()))

    def select(self, mask: np.ndarray, w: np.ndarray) -> SummaryRows:
        """The rows in ``mask`` with replacement weights ``w`` (distinct values kept)."""
        return SummaryRows(
            x=self.x[mask],
            tx=self.tx[mask],
            t_obs=self.t_obs[mask],
            w=w,
            x_values=self.x_values,
            x_codes=self.x_codes[mask],
            tx_values=self.tx_values,
            tx_codes=self.tx_codes[mask],
            t_values=self.t_values,
            t_codes=self.t_codes[mask],
        )


def summary_rows(
    frequency: object, recency: object, T: object, weights: object | None = None, time_scale: float = 1.0
) -> tuple[SummaryRows, Compressed]:
    """Validate and compress a summary; returns the rows and the compression (inverse)."""
    x, tx, t_obs, w = validate_summary(frequency, recency, T, weights)
    comp = compress_rows(x, tx, t_obs, weights=w)
    return SummaryRows.from_compressed(comp, time_scale), comp


@dataclass(frozen=True)
class ExpectationFactors:
    """Conditional expectations for several horizons in factored form:
    E[purchases in (T, T + h_j] | customer i] = row_factor[i] * table[codes[i], j].

    Both models factor this way (the horizon enters through (x, T) or T only), so sums
    over horizons - such as discounted CLV - cost one pass over the customers."""

    row_factor: np.ndarray
    codes: np.ndarray
    table: np.ndarray

    def column(self, j: int) -> np.ndarray:
        """Expected purchases for horizon j, per customer."""
        return self.row_factor * self.table[:, j][self.codes]

    def combine(self, coefficients: np.ndarray) -> np.ndarray:
        """sum_j coefficients[j] * E[purchases by h_j], per customer."""
        return self.row_factor * np.einsum("kj,j->k", self.table, np.asarray(coefficients, dtype=float))[self.codes]

    def matrix(self) -> np.ndarray:
        """All horizons: array (n_customers, n_horizons)."""
        return np.asfortranarray(self.row_factor[:, None] * self.table[self.codes])


class TransactionModel(ABC):
    """Base of :class:`BetaGeoModel` and :class:`ParetoNBDModel`."""

    model_name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    #: upper bounds on some log-parameters, tighter than the search box (optimize.LOG_BOUND)
    log_upper: ClassVar[Mapping[str, float]] = {}

    def __init__(self, time_unit: str = "weeks") -> None:
        self.time_unit = check_time_unit(time_unit)
        self.result: FitResult | None = None

    def __repr__(self) -> str:
        state = (
            "unfitted"
            if self.result is None
            else (
                ", ".join(f"{k}={v:.4g}" for k, v in self.result.params.items())
                + ("" if self.result.converged else ", NOT CONVERGED")
            )
        )
        return f"{type(self).__name__}(time_unit={self.time_unit!r}; {state})"

    # ------------------------------------------------------------------ fitting
    @classmethod
    def from_params(cls, params: Mapping[str, float], time_unit: str = "weeks") -> Self:
        """A model with given parameters (e.g. published estimates), ready to predict."""
        model = cls(time_unit=time_unit)
        missing = set(cls.param_names) - set(params)
        if missing:
            raise ValueError(f"missing parameters: {sorted(missing)}")
        model.result = FitResult(
            model_name=cls.model_name,
            params={k: float(params[k]) for k in cls.param_names},
            time_unit=time_unit,
            log_likelihood=math.nan,
            n_customers=0,
            converged=True,
            message="parameters supplied by the caller",
        )
        return model

    @property
    def params(self) -> dict[str, float]:
        if self.result is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return dict(self.result.params)

    def fit(
        self,
        frequency: object,
        recency: object,
        T: object,
        weights: object | None = None,
        *,
        max_iter: int = 1000,
    ) -> Self:
        """Maximum-likelihood fit on (frequency, recency, T) in ``self.time_unit``.

        ``weights`` (optional) are customer counts per row, so an already compressed
        summary can be passed. Rows are compressed to unique (x, t_x, T) with summed
        weights and the weighted log-likelihood is maximised over log-parameters.
        Sets and returns ``self`` with ``self.result`` (check ``result.converged``).
        """
        rows, _ = summary_rows(frequency, recency, T, weights)
        return self.fit_rows(rows, max_iter=max_iter)

    def fit_rows(self, rows: SummaryRows, *, max_iter: int = 1000) -> Self:
        """Fit on already compressed rows (in ``self.time_unit``); see :meth:`fit`."""
        n_customers = rows.n_customers
        if n_customers < MIN_CUSTOMERS:
            self.result = self._failed(
                n_customers,
                f"not fitted: {n_customers} customers, fewer than MIN_CUSTOMERS = {MIN_CUSTOMERS}",
            )
            warnings.warn(
                f"{self.model_name}: {self.result.message}; predictions are NaN", TooFewCustomersWarning, stacklevel=3
            )
            return self

        def build(mask: np.ndarray | None, w: np.ndarray | None) -> Objective:
            return self._objective(rows if mask is None or w is None else rows.select(mask, w))

        outcome = maximise_likelihood(
            build, rows.w, self._starts(rows), self.param_names, max_iter=max_iter, log_upper=self.log_upper
        )
        params = {k: float(v) for k, v in zip(self.param_names, np.exp(outcome.theta), strict=True)}
        self.result = FitResult(
            model_name=self.model_name,
            params=params,
            time_unit=self.time_unit,
            log_likelihood=float(-outcome.mean_nll * rows.w.sum()),
            n_customers=n_customers,
            converged=outcome.converged,
            message=("converged: " if outcome.converged else "NOT converged: ")
            + outcome.message
            + f"; {rows.w.shape[0]} unique (frequency, recency, T) rows",
            n_evaluations=outcome.n_evaluations,
        )
        if not outcome.converged:
            warnings.warn(
                f"{self.model_name} fit did not converge ({self.result.message}); its predictions are NaN",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def covariance_log(self, rows: SummaryRows) -> np.ndarray | None:
        """Asymptotic covariance of the log-parameters at the fitted optimum: the inverse of
        the central-difference Hessian of the total negative log-likelihood on ``rows`` (the
        rows the model was fitted on). None when the fit is not usable or the Hessian is not
        positive definite."""
        if self.result is None or not self.result.converged:
            return None
        theta = np.log([self.result.params[k] for k in self.param_names])
        hessian = hessian_central(self._objective(rows), theta) * float(rows.w.sum())
        if not np.all(np.isfinite(hessian)) or not np.all(np.linalg.eigvalsh(hessian) > 0):
            return None
        return np.linalg.inv(hessian)

    def _failed(self, n_customers: int, message: str) -> FitResult:
        return FitResult(
            model_name=self.model_name,
            params={k: math.nan for k in self.param_names},
            time_unit=self.time_unit,
            log_likelihood=math.nan,
            n_customers=n_customers,
            converged=False,
            message=message,
        )

    @abstractmethod
    def _objective(self, rows: SummaryRows) -> Objective:
        """Mean negative log-likelihood (and gradient wrt log-params) on unique rows."""

    @abstractmethod
    def _starts(self, rows: SummaryRows) -> list[np.ndarray]:
        """A few starting points (log-params) computed from simple data summaries."""

    # -------------------------------------------------------------- predictions
    def _usable_params(self, what: str) -> dict[str, float] | None:
        if self.result is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        if not self.result.converged:
            warnings.warn(
                f"{self.model_name}: {what} is NaN because the fit is not usable ({self.result.message})",
                NotUsableWarning,
                stacklevel=3,
            )
            return None
        return self.result.params

    def p_alive(self, frequency: object, recency: object, T: object) -> np.ndarray:
        """Probability that each customer is still alive at T (time in ``time_unit``)."""
        x, tx, t_obs = _broadcast_summary(frequency, recency, T)
        params = self._usable_params("p_alive")
        if params is None:
            return np.full(x.shape, np.nan)
        return self._p_alive(params, x, tx, t_obs)

    def expected_purchases(self, t: object, frequency: object, recency: object, T: object) -> np.ndarray:
        """Conditional expected number of repeat purchases in (T, T + t]."""
        x, tx, t_obs = _broadcast_summary(frequency, recency, T)
        horizon = np.asarray(t, dtype=float)
        params = self._usable_params("expected_purchases")
        shape = np.broadcast_shapes(x.shape, horizon.shape)
        if params is None:
            return np.full(shape, np.nan)
        if horizon.ndim == 0:
            return self._expected_purchases(params, [float(horizon)], x, tx, t_obs)[:, 0].reshape(shape)
        xb, txb, tb, hb = np.broadcast_arrays(x, tx, t_obs, horizon)
        out = self._expected_purchases_each(params, hb.ravel(), xb.ravel(), txb.ravel(), tb.ravel())
        return out.reshape(shape)

    def expected_purchases_horizons(
        self, horizons: Sequence[float], frequency: object, recency: object, T: object
    ) -> np.ndarray:
        """Conditional expected purchases for several horizons: array (n_customers, len(horizons))."""
        factors = self.expectation_factors(horizons, frequency, recency, T)
        if factors is None:
            return np.full((np.atleast_1d(np.asarray(frequency)).shape[0], len(horizons)), np.nan)
        return factors.matrix()

    def expectation_factors(
        self, horizons: Sequence[float], frequency: object, recency: object, T: object
    ) -> ExpectationFactors | None:
        """Expected purchases for several horizons in factored form (see
        :class:`ExpectationFactors`), or None (with a warning) if the fit is not usable.
        This is how :func:`loyalty.clv.score_customers` computes the monthly CLV steps."""
        x, tx, t_obs = _broadcast_summary(frequency, recency, T)
        params = self._usable_params("expected_purchases")
        if params is None:
            return None
        return self._expectation_factors(params, [float(h) for h in horizons], x.ravel(), tx.ravel(), t_obs.ravel())

    def expected_purchases_new(self, t: object) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in (0, t] of a new customer (unconditional)."""
        horizon = np.asarray(t, dtype=float)
        params = self._usable_params("expected_purchases_new")
        if params is None:
            return np.full(horizon.shape, np.nan)
        return self._expected_purchases_new(params, horizon)

    @abstractmethod
    def _p_alive(self, params: dict[str, float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray) -> np.ndarray: ...

    def _expected_purchases(
        self, params: dict[str, float], horizons: list[float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
    ) -> np.ndarray:
        return self._expectation_factors(params, horizons, x, tx, t_obs).matrix()

    @abstractmethod
    def _expectation_factors(
        self, params: dict[str, float], horizons: list[float], x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
    ) -> ExpectationFactors: ...

    @abstractmethod
    def _expected_purchases_each(
        self, params: dict[str, float], t: np.ndarray, x: np.ndarray, tx: np.ndarray, t_obs: np.ndarray
    ) -> np.ndarray:
        """Conditional expectations with one horizon per customer (arrays of equal shape)."""

    @abstractmethod
    def _expected_purchases_new(self, params: dict[str, float], t: np.ndarray) -> np.ndarray: ...


def _broadcast_summary(frequency: object, recency: object, T: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, t_obs = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (frequency, recency, T)))
    return x, np.minimum(tx, t_obs), t_obs
