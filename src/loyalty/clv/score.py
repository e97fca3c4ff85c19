"""Per-customer scores: P(alive), expected purchases and discounted CLV.

:func:`score_customers` fits BG/NBD, Pareto/NBD and Gamma-Gamma on a customer summary
and scores every customer. All model work is done once per unique (frequency, recency,
T) row and mapped back to customers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import predictions
from .base import ClvWarning, SummaryRows, TransactionModel, summary_rows
from .bgnbd import BetaGeoModel
from .compress import Compressed
from .gammagamma import GammaGammaModel
from .paretonbd import ParetoNBDModel
from .result import TIME_UNITS, FitResult, check_time_unit

SUMMARY_COLUMNS = ("customer_id", "frequency", "recency_days", "tenure_days", "monetary_value")
CHURN_MODELS = ("auto", "bg_nbd", "pareto_nbd")
#: "auto" resolves to this model; the pipeline passes "bg_nbd" or "pareto_nbd"
#: explicitly when a holdout comparison (:func:`loyalty.clv.holdout_validation`) says so.
DEFAULT_CHURN_MODEL = "bg_nbd"
DAYS_PER_MONTH = 365.0 / 12.0


def clv_steps(horizon_days: int) -> tuple[int, float]:
    """Number of discounting steps and their length in days: whole months of 365/12 days
    (12 steps for 365 days), at least one step."""
    n_steps = max(1, round(horizon_days / DAYS_PER_MONTH))
    return n_steps, horizon_days / n_steps


def discounted_clv(
    cumulative_purchases: np.ndarray, avg_value: np.ndarray, margin: float, step_rate: float
) -> np.ndarray:
    """sum_m (E[purchases by step m] - E[by step m-1]) * avg_value * margin / (1 + rate)^m.

    ``cumulative_purchases`` has one column per step m = 1..M (expected purchases in
    (T, T + m * step]); this is lifetimes' ``customer_lifetime_value`` with the
    discount rate per step.
    """
    total = np.zeros(cumulative_purchases.shape[0])
    previous = np.zeros(cumulative_purchases.shape[0])
    for m in range(cumulative_purchases.shape[1]):
        current = cumulative_purchases[:, m]
        total += (current - previous) * (1.0 + step_rate) ** -(m + 1)
        previous = current
    return total * avg_value * margin


def score_customers(
    summary: pd.DataFrame,
    *,
    time_unit: str = "weeks",
    margin: float = 1.0,
    annual_discount_rate: float = 0.10,
    churn_model: str = "auto",
    horizon_days: int = 365,
) -> tuple[pd.DataFrame, list[FitResult]]:
    """Fit the three models on ``summary`` and score each customer.

    ``summary`` has one row per customer with columns customer_id, frequency (repeat
    purchase days), recency_days (last minus first purchase day), tenure_days (as-of
    date minus first purchase day) and monetary_value (mean spend per repeat purchase
    day; ignored when frequency is 0). Durations are converted to ``time_unit``
    ("weeks" = days / 7, or "days") for fitting.

    ``churn_model`` chooses the transaction model behind p_alive, churn_probability,
    the expected purchases and the CLV: "bg_nbd", "pareto_nbd", or "auto", which means
    BG/NBD (:data:`DEFAULT_CHURN_MODEL`) unless the caller passes a preference - the
    pipeline picks the model from :func:`loyalty.clv.holdout_validation` and passes it.

    Returned ``scores`` columns, one row per customer in input order:

    * customer_id
    * p_alive_bg_nbd, p_alive_pareto_nbd - P(alive at the as-of date) under each model
    * p_alive (chosen model), churn_probability = 1 - p_alive
    * expected_purchases_90d, expected_purchases_365d - conditional expected repeat
      purchase days in the next 90 / 365 days (chosen model)
    * expected_avg_order_value - Gamma-Gamma conditional expected spend per purchase
      day, p (gamma + m x) / (p x + q - 1); for frequency 0 the population mean
      p gamma / (q - 1)
    * predicted_clv_<horizon_days>d (predicted_clv_365d by default) - discounted margin
      over the horizon, as lifetimes' ``customer_lifetime_value``: the horizon is cut
      into monthly steps of 365/12 days (12 for 365 days) and
      ``CLV = sum_{m=1..12} (E[purchases by month m] - E[by month m-1])
      * expected_avg_order_value * margin / (1 + monthly_rate)^m``
      with monthly_rate = (1 + annual_discount_rate)^(1/12) - 1 (in general the rate
      per step is (1 + annual)^(step_days/365) - 1).

    ``fits`` is [bg_nbd, pareto_nbd, gamma_gamma] :class:`FitResult`. A model that was
    not fitted (too few customers) or did not converge gives NaN in its columns (and in
    p_alive, churn_probability, the expected purchases and the CLV when it is the chosen
    model, or in expected_avg_order_value and the CLV for Gamma-Gamma), with a warning.
    """
    _check_arguments(summary, time_unit, churn_model, horizon_days, margin, annual_discount_rate)
    prepared = prepare_summary(summary, time_unit)
    models = FittedModels(
        bg_nbd=BetaGeoModel(time_unit).fit_rows(prepared.rows),
        pareto_nbd=ParetoNBDModel(time_unit).fit_rows(prepared.rows),
        gamma_gamma=GammaGammaModel().fit(prepared.frequency, prepared.monetary),
    )
    scores = compute_scores(
        prepared,
        models,
        churn_model=churn_model,
        margin=margin,
        annual_discount_rate=annual_discount_rate,
        horizon_days=horizon_days,
    )
    return scores, models.results()


def _check_arguments(
    summary: pd.DataFrame,
    time_unit: str,
    churn_model: str,
    horizon_days: int,
    margin: float,
    annual_discount_rate: float,
) -> None:
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"summary is missing column(s) {missing}")
    check_time_unit(time_unit)
    if churn_model not in CHURN_MODELS:
        raise ValueError(f"churn_model must be one of {CHURN_MODELS}, got {churn_model!r}")
    if not (isinstance(horizon_days, (int, np.integer)) and horizon_days > 0):
        raise ValueError("horizon_days must be a positive whole number of days")
    if not math.isfinite(margin):
        raise ValueError("margin must be finite")
    if not (math.isfinite(annual_discount_rate) and annual_discount_rate > -1):
        raise ValueError("annual_discount_rate must be > -1")


@dataclass
class PreparedSummary:
    """A validated summary: compressed (frequency, recency, T) rows in the time unit,
    and the per-customer columns the spend model and the output need."""

    summary: pd.DataFrame
    time_unit: str
    rows: SummaryRows
    compressed: Compressed
    frequency: np.ndarray
    monetary: np.ndarray


@dataclass
class FittedModels:
    bg_nbd: BetaGeoModel
    pareto_nbd: ParetoNBDModel
    gamma_gamma: GammaGammaModel
    #: covariance of a transaction model's log-parameters (``covariance_log`` on all the rows
    #: it was fitted on), by model name, when computed beforehand: scoring a batch of the
    #: customers (loyalty.clv.batches) must not recompute it from the batch's rows alone
    covariances: dict[str, np.ndarray | None] = field(default_factory=dict)

    def results(self) -> list[FitResult]:
        return [r for r in (self.bg_nbd.result, self.pareto_nbd.result, self.gamma_gamma.result) if r is not None]

    def covariance_log(self, model: TransactionModel, rows: SummaryRows) -> np.ndarray | None:
        """The given covariance of ``model``, else ``model.covariance_log(rows)``."""
        if model.model_name in self.covariances:
            return self.covariances[model.model_name]
        return model.covariance_log(rows)


def prepare_summary(summary: pd.DataFrame, time_unit: str) -> PreparedSummary:
    """Validate the summary and compress it (in days, then converted to ``time_unit``)."""
    frequency = summary["frequency"].to_numpy()
    rows, comp = summary_rows(
        frequency,
        summary["recency_days"].to_numpy(),
        summary["tenure_days"].to_numpy(),
        time_scale=TIME_UNITS[time_unit],
    )
    monetary = summary["monetary_value"].to_numpy(dtype=float, na_value=np.nan)
    return PreparedSummary(summary, time_unit, rows, comp, frequency, monetary)


def compute_scores(
    prepared: PreparedSummary,
    models: FittedModels,
    *,
    churn_model: str = "auto",
    margin: float = 1.0,
    annual_discount_rate: float = 0.10,
    horizon_days: int = 365,
) -> pd.DataFrame:
    """The ``scores`` frame of :func:`score_customers` from fitted models."""
    chosen = DEFAULT_CHURN_MODEL if churn_model == "auto" else churn_model
    time_unit = prepared.time_unit
    scale = TIME_UNITS[time_unit]
    transaction_models: dict[str, TransactionModel] = {"bg_nbd": models.bg_nbd, "pareto_nbd": models.pareto_nbd}
    summary, comp = prepared.summary, prepared.compressed
    frequency, monetary = prepared.frequency, prepared.monetary
    gg = models.gamma_gamma

    # predictions on the unique rows, mapped back with the compression's inverse
    ux = comp.columns[0].astype(float)
    utx = comp.columns[1] / scale
    uT = comp.columns[2] / scale
    inverse = comp.inverse
    n = len(summary)
    nan = np.full(n, np.nan)
    unusable: list[str] = []

    def usable(name: str, result: FitResult | None) -> bool:
        ok = result is not None and result.converged
        if not ok:
            unusable.append(f"{name} ({result.message if result else 'not fitted'})")
        return ok

    p_alive = {
        name: (model.p_alive(ux, utx, uT)[inverse] if usable(name, model.result) else nan)
        for name, model in transaction_models.items()
    }
    n_steps, step_days = clv_steps(int(horizon_days))
    horizons_days = [90.0, 365.0] + [step_days * m for m in range(1, n_steps + 1)]
    step_rate = (1.0 + annual_discount_rate) ** (step_days / 365.0) - 1.0
    chosen_model = transaction_models[chosen]
    coefficients: np.ndarray | None = None  # of the expected purchases by each horizon, in the CLV
    if chosen_model.result is not None and chosen_model.result.converged:
        factors = chosen_model.expectation_factors([h / scale for h in horizons_days], ux, utx, uT)
        assert factors is not None
        purchases_90d, purchases_365d = factors.column(0)[inverse], factors.column(1)[inverse]
        # sum_{m=1..M} (E_m - E_{m-1}) d^m = sum_{m<M} E_m (d^m - d^(m+1)) + E_M d^M, d = 1/(1+rate)
        discount = (1.0 + step_rate) ** -np.arange(1, n_steps + 2)
        coefficients = np.zeros(len(horizons_days))
        coefficients[2:] = discount[:-1] - discount[1:]
        coefficients[-1] += discount[-1]
        discounted_purchases = factors.combine(coefficients)[inverse]
    else:
        purchases_90d = purchases_365d = discounted_purchases = nan
    avg_value = gg.expected_avg_value(frequency, monetary) if usable("gamma_gamma", gg.result) else nan
    clv = discounted_purchases * avg_value * margin
    actionable = _actionable_predictions(prepared, models, chosen_model, clv, horizons_days[2:], coefficients)

    if unusable:
        warnings.warn(
            "score_customers: NaN scores for model(s) that are not usable: " + "; ".join(unusable),
            ClvWarning,
            stacklevel=2,
        )
    scores = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "p_alive_bg_nbd": p_alive["bg_nbd"],
            "p_alive_pareto_nbd": p_alive["pareto_nbd"],
            "p_alive": p_alive[chosen],
            "churn_probability": 1.0 - p_alive[chosen],
            "expected_purchases_90d": purchases_90d,
            "expected_purchases_365d": purchases_365d,
            "expected_avg_order_value": avg_value,
            f"predicted_clv_{int(horizon_days)}d": clv,
            **actionable.columns(int(horizon_days)),
        },
        index=summary.index,
    )
    return scores


@dataclass
class ActionablePredictions:
    """The scores of :mod:`loyalty.clv.predictions`, per customer (NaN where not usable)."""

    p_purchase_30d: np.ndarray
    p_purchase_90d: np.ndarray
    median_days_to_next_purchase_365d: np.ndarray
    clv_p10: np.ndarray
    clv_p90: np.ndarray

    def columns(self, horizon_days: int) -> dict[str, np.ndarray]:
        return {
            "p_purchase_30d": self.p_purchase_30d,
            "p_purchase_90d": self.p_purchase_90d,
            "median_days_to_next_purchase_365d": self.median_days_to_next_purchase_365d,
            f"predicted_clv_{horizon_days}d_p10": self.clv_p10,
            f"predicted_clv_{horizon_days}d_p90": self.clv_p90,
        }


def _actionable_predictions(
    prepared: PreparedSummary,
    models: FittedModels,
    model: TransactionModel,
    clv: np.ndarray,
    step_horizons_days: list[float],
    coefficients: np.ndarray | None,
) -> ActionablePredictions:
    """P(purchase within 30 / 90 days), median days to the next purchase and the CLV
    interval (see :mod:`loyalty.clv.predictions`), computed on the unique (x, t_x, T) rows."""
    n = len(prepared.summary)
    nan = np.full(n, np.nan)
    if coefficients is None:
        return ActionablePredictions(nan, nan, nan, nan, nan)
    scale = TIME_UNITS[prepared.time_unit]
    comp, inverse = prepared.compressed, prepared.compressed.inverse
    ux = comp.columns[0].astype(float)
    utx = comp.columns[1] / scale
    uT = comp.columns[2] / scale
    alive_u = model.p_alive(ux, utx, uT)
    p30 = predictions.p_purchase_within(model, 30.0 / scale, ux, utx, uT, alive_u)[inverse]
    p90 = predictions.p_purchase_within(model, 90.0 / scale, ux, utx, uT, alive_u)[inverse]
    median_days = predictions.median_days_to_next_purchase(
        model, ux, utx, uT, days_per_unit=scale, horizon_days=365, p_alive=alive_u
    )[inverse]
    low = high = nan
    gg = models.gamma_gamma
    covariance = models.covariance_log(model, prepared.rows)
    gg_cov = gg.result.covariance_log if gg.result is not None else None
    if covariance is not None and gg_cov is not None and gg.result is not None and gg.result.converged:
        model_cls = type(model)
        horizons = [h / scale for h in step_horizons_days]

        def discounted(params: dict[str, float]) -> np.ndarray:
            factors = model_cls.from_params(params, model.time_unit).expectation_factors(horizons, ux, utx, uT)
            assert factors is not None
            return factors.combine(coefficients[2:])

        log_var = predictions.log_variance(discounted, model.params, covariance)[inverse]
        log_var = log_var + predictions.gamma_gamma_log_variance(
            gg.result.params, gg_cov, prepared.frequency, prepared.monetary
        )
        low, high = predictions.clv_interval(clv, log_var)
    return ActionablePredictions(p30, p90, median_days, low, high)
