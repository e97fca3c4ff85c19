"""Calibration/holdout validation of the transaction models (the check of Fader, Hardie
& Lee 2005, section 4: fit on a calibration period, compare the conditional
expectations with what the same customers did in the holdout period)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .base import ClvWarning, TransactionModel
from .bgnbd import BetaGeoModel
from .paretonbd import ParetoNBDModel
from .result import TIME_UNITS, FitResult, check_time_unit
from .summary import DateLike, purchase_days, summarize_purchase_days

MODELS = ("bg_nbd", "pareto_nbd")
#: Calibration repeat purchase days 0..6 get their own bucket; 7 and more share "7+".
TOP_BUCKET = 7


def _bucket(frequency: np.ndarray) -> np.ndarray:
    return np.where(frequency >= TOP_BUCKET, f"{TOP_BUCKET}+", frequency.astype(np.int64).astype(str))


def holdout_validation(
    transactions: pd.DataFrame,
    calibration_end: DateLike,
    holdout_end: DateLike,
    *,
    time_unit: str = "weeks",
) -> dict[str, pd.DataFrame]:
    """Fit BG/NBD and Pareto/NBD on the calibration period and check them on the holdout.

    ``transactions``: customer_id, transaction_date, amount - purchases only, one row per
    purchase or per purchase day. Purchases are counted per distinct day (several on one
    day count once; zero-amount purchases count). The customers are those whose first
    purchase is on or before ``calibration_end``; calibration statistics are measured up
    to ``calibration_end`` (T = calibration_end - first purchase day), the holdout is
    (calibration_end, holdout_end], both dates inclusive days.

    Returns a dict of DataFrames (no figures; the tables hold what the usual plots show):

    * ``by_frequency`` - per calibration frequency bucket ("0".."6", "7+"): n_customers,
      actual_mean / predicted_mean_<model> repeat purchase days per customer in the
      holdout, and the same as totals (actual_total, predicted_total_<model>).
    * ``totals`` - per model: n_customers, actual_total, predicted_total,
      actual_mean, predicted_mean, mean_absolute_error (per customer: mean over
      customers of |predicted - actual| holdout purchase days), converged.
    * ``tracking`` - cumulative repeat purchase days of the whole cohort per period
      (``time_unit``) from the first customer's first purchase to holdout_end, actual
      vs expected (sum over customers of E[X(t)] since their first purchase; in-sample
      up to calibration_end, a forecast after it: ``is_holdout``).
    * ``customers`` - per customer: calibration frequency/recency/T (in ``time_unit``),
      actual and predicted holdout purchase days.
    * ``fits`` - one row per model: parameters, log-likelihood, converged, message.

    A model that does not converge gets NaN predictions and a warning.
    """
    check_time_unit(time_unit)
    cal_end = pd.Timestamp(calibration_end).normalize()
    hold_end = pd.Timestamp(holdout_end).normalize()
    if hold_end <= cal_end:
        raise ValueError("holdout_end must be after calibration_end")
    scale = TIME_UNITS[time_unit]

    days = purchase_days(transactions, until=hold_end)
    calibration = summarize_purchase_days(days, cal_end)  # customers with a first purchase by cal_end
    holdout_days = days[(days["day"] > cal_end) & days["customer_id"].isin(calibration["customer_id"])]
    actual_counts = holdout_days.groupby("customer_id").size()
    actual = actual_counts.reindex(calibration["customer_id"], fill_value=0).to_numpy(dtype=float)

    x = calibration["frequency"].to_numpy(dtype=float)
    tx = calibration["recency_days"].to_numpy(dtype=float) / scale
    t_obs = calibration["tenure_days"].to_numpy(dtype=float) / scale
    t_holdout = (hold_end - cal_end).days / scale
    models: dict[str, TransactionModel] = {
        "bg_nbd": BetaGeoModel(time_unit).fit(x, tx, t_obs),
        "pareto_nbd": ParetoNBDModel(time_unit).fit(x, tx, t_obs),
    }
    predicted: dict[str, np.ndarray] = {}
    for name, model in models.items():
        if model.result is not None and model.result.converged:
            predicted[name] = model.expected_purchases(t_holdout, x, tx, t_obs)
        else:
            predicted[name] = np.full(x.shape, np.nan)
            warnings.warn(
                f"holdout_validation: {name} did not converge; its predictions are NaN", ClvWarning, stacklevel=2
            )

    customers = pd.DataFrame(
        {
            "customer_id": calibration["customer_id"].to_numpy(),
            "frequency": x.astype(np.int64),
            "recency": tx,
            "T": t_obs,
            "frequency_bucket": _bucket(x),
            "actual_holdout": actual,
            **{f"predicted_holdout_{m}": predicted[m] for m in MODELS},
        }
    )
    agg: dict[str, tuple[str, str]] = {
        "n_customers": ("actual_holdout", "size"),
        "actual_mean": ("actual_holdout", "mean"),
        **{f"predicted_mean_{m}": (f"predicted_holdout_{m}", "mean") for m in MODELS},
        "actual_total": ("actual_holdout", "sum"),
        **{f"predicted_total_{m}": (f"predicted_holdout_{m}", "sum") for m in MODELS},
    }
    by_frequency = customers.groupby("frequency_bucket").agg(**agg)
    order = [str(k) for k in range(TOP_BUCKET)] + [f"{TOP_BUCKET}+"]
    by_frequency = by_frequency.reindex([b for b in order if b in by_frequency.index]).reset_index()

    results: dict[str, FitResult] = {}
    for m in MODELS:
        result = models[m].result
        assert result is not None  # fit() always sets it
        results[m] = result
    totals = pd.DataFrame(
        [
            {
                "model": m,
                "n_customers": len(customers),
                "actual_total": float(actual.sum()),
                "predicted_total": float(predicted[m].sum()),
                "actual_mean": float(actual.mean()),
                "predicted_mean": float(predicted[m].mean()),
                "mean_absolute_error": float(np.mean(np.abs(predicted[m] - actual))),
                "converged": results[m].converged,
            }
            for m in MODELS
        ]
    )
    tracking = _tracking(days, calibration, models, cal_end, hold_end, scale)
    fits = pd.DataFrame(
        [
            {
                "model": m,
                **{f"param_{k}": v for k, v in results[m].params.items()},
                "time_unit": time_unit,
                "log_likelihood": results[m].log_likelihood,
                "n_customers": results[m].n_customers,
                "converged": results[m].converged,
                "message": results[m].message,
            }
            for m in MODELS
        ]
    )
    return {"by_frequency": by_frequency, "totals": totals, "tracking": tracking, "customers": customers, "fits": fits}


def _tracking(
    days: pd.DataFrame,
    calibration: pd.DataFrame,
    models: dict[str, TransactionModel],
    cal_end: pd.Timestamp,
    hold_end: pd.Timestamp,
    scale: float,
) -> pd.DataFrame:
    """Cumulative repeat purchase days per period, actual vs expected (see caller)."""
    first = pd.to_datetime(calibration["first_purchase_date"])
    start = first.min()
    step = int(scale)
    n_periods = int(np.ceil(((hold_end - start).days + 1) / step))
    ends = (start + pd.to_timedelta(np.arange(1, n_periods + 1) * step - 1, unit="D")).to_numpy()
    period_end = pd.DatetimeIndex(np.minimum(ends, hold_end.to_datetime64()))
    # repeat purchase days of the cohort: every purchase day after the customer's first
    cohort = days.merge(calibration[["customer_id", "first_purchase_date"]], on="customer_id")
    repeat_days = cohort.loc[cohort["day"] > cohort["first_purchase_date"], "day"].to_numpy()
    repeat_days.sort()
    actual_cum = np.searchsorted(repeat_days, period_end.to_numpy(), side="right")
    # expected: customers grouped by first purchase day
    first_days, counts = np.unique(first.to_numpy(), return_counts=True)
    elapsed = (period_end.to_numpy()[:, None] - first_days[None, :]) / np.timedelta64(1, "D") / scale
    out = pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "period_end": period_end,
            "is_holdout": period_end > cal_end,
            "actual_cumulative": actual_cum,
        }
    )
    for name, model in models.items():
        if model.result is not None and model.result.converged:
            e = model.expected_purchases_new(np.maximum(elapsed, 0.0).ravel()).reshape(elapsed.shape)
            expected = np.einsum("ij,j->i", np.where(elapsed > 0, e, 0.0), counts.astype(float))
        else:
            expected = np.full(n_periods, np.nan)
        out[f"expected_cumulative_{name}"] = expected
    return out
