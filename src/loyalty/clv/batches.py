"""The CLV step's model work, split so that an engine can run the per-customer part where
the data is (loyalty.engines: in-process on DuckDB, in Spark's Python workers on Spark).

* The fits read compressed summaries, one row per distinct (frequency, recency, T) or
  (frequency, monetary value) with its number of customers (loyalty.clv.tables' SQL):
  :func:`fit_scoring_models`, :func:`fit_holdout_models`. The transaction models' fits
  compress their input anyway, so they are the same as on one row per customer.
* :class:`CustomerScorer` scores any batch of customers (rows of
  loyalty.clv.tables.SUMMARY_SQL) with the fitted models. Every score is a function of the
  customer's own row and of the fits; the one input that is not, the covariance of the
  chosen model's parameters (the CLV interval), is computed once on the compressed rows
  and carried along. So a batch gives the same scores as :func:`loyalty.clv.score_customers`
  on all customers (a test pins this).
* :class:`HoldoutPredictor` turns a batch of calibration customers (rows of
  loyalty.clv.tables.holdout_customers_sql) into sums per calibration frequency bucket;
  sums of batches add up, and :func:`holdout_tables` makes the clv.holdout_validation rows
  (predicted vs actual per bucket, totals, mean absolute error) from the added sums, as
  :func:`loyalty.clv.holdout_validation` defines them.

The scorer and the predictor are plain picklable objects with the fitted parameters.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .base import ClvWarning, TransactionModel, summary_rows
from .bgnbd import BetaGeoModel
from .gammagamma import GammaGammaModel
from .holdout import MODELS as HOLDOUT_MODELS
from .holdout import TOP_BUCKET
from .paretonbd import ParetoNBDModel
from .result import TIME_UNITS
from .score import DEFAULT_CHURN_MODEL, FittedModels, compute_scores, prepare_summary
from .tables import SCORE_COLUMNS

#: the compressed transaction summary: distinct rows and their number of customers
TRANSACTION_ROW_COLUMNS = ("frequency", "recency_days", "tenure_days", "n_customers")
SPEND_ROW_COLUMNS = ("frequency", "monetary_value", "n_customers")
#: the partial sums of :class:`HoldoutPredictor`, one row per frequency bucket
HOLDOUT_SUM_COLUMNS = (
    "frequency_bucket",
    "n_customers",
    "actual_total",
    *(f"predicted_total_{m}" for m in HOLDOUT_MODELS),
    *(f"absolute_error_{m}" for m in HOLDOUT_MODELS),
)
HOLDOUT_SUMS_SCHEMA = (
    "frequency_bucket string, n_customers bigint, actual_total double, "
    + ", ".join(f"predicted_total_{m} double" for m in HOLDOUT_MODELS)
    + ", "
    + ", ".join(f"absolute_error_{m} double" for m in HOLDOUT_MODELS)
)
BUCKET_ORDER = [str(k) for k in range(TOP_BUCKET)] + [f"{TOP_BUCKET}+"]


def sorted_rows(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Compressed rows in one order whatever the engine returned (the fits sum over rows)."""
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- scoring
def fit_scoring_models(
    transactions: pd.DataFrame, spend: pd.DataFrame, time_unit: str, churn_model: str
) -> FittedModels:
    """BG/NBD and Pareto/NBD on the compressed transaction summary, Gamma-Gamma on the
    compressed spend summary, and the chosen model's parameter covariance (all rows)."""
    transactions = sorted_rows(transactions, ["frequency", "recency_days", "tenure_days"])
    spend = sorted_rows(spend, ["frequency", "monetary_value"])
    rows, _ = summary_rows(
        transactions["frequency"].to_numpy(),
        transactions["recency_days"].to_numpy(),
        transactions["tenure_days"].to_numpy(),
        weights=transactions["n_customers"].to_numpy(dtype=float),
        time_scale=TIME_UNITS[time_unit],
    )
    models = FittedModels(
        bg_nbd=BetaGeoModel(time_unit).fit_rows(rows),
        pareto_nbd=ParetoNBDModel(time_unit).fit_rows(rows),
        gamma_gamma=GammaGammaModel().fit(
            spend["frequency"].to_numpy(dtype=float),
            spend["monetary_value"].to_numpy(dtype=float, na_value=np.nan),
            weights=spend["n_customers"].to_numpy(dtype=float),
        ),
    )
    chosen = DEFAULT_CHURN_MODEL if churn_model == "auto" else churn_model
    chosen_model: TransactionModel = models.bg_nbd if chosen == "bg_nbd" else models.pareto_nbd
    models.covariances[chosen] = chosen_model.covariance_log(rows)
    return models


@dataclass(frozen=True)
class CustomerScorer:
    """Scores batches of customers (customer_id, frequency, recency_days, tenure_days,
    monetary_value) with fitted models: the columns of clv.customer_scores."""

    models: FittedModels
    time_unit: str
    churn_model: str
    margin: float
    annual_discount_rate: float

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        with warnings.catch_warnings():
            # the same for every batch: the step reports them once, from `warnings()`
            warnings.simplefilter("ignore", ClvWarning)
            return self._score(batch)

    def _score(self, batch: pd.DataFrame) -> pd.DataFrame:
        scores = compute_scores(
            prepare_summary(batch.reset_index(drop=True), self.time_unit),
            self.models,
            churn_model=self.churn_model,
            margin=self.margin,
            annual_discount_rate=self.annual_discount_rate,
        )
        out = scores.loc[:, list(SCORE_COLUMNS)]
        out["churn_model"] = self.churn_model
        return out

    def warnings(self) -> list[str]:
        """What scoring warns about (models that are not usable): it depends on the fits only."""
        empty = pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=object),
                **{c: pd.Series(dtype="int64") for c in ("frequency", "recency_days", "tenure_days")},
                "monetary_value": pd.Series(dtype=float),
            }
        )
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            self._score(empty)
        gg = self.models.gamma_gamma.result
        messages = [str(w.message) for w in found]
        if gg is not None and gg.converged and gg.params["q"] <= 1.0:
            messages.append(
                "gamma_gamma: q <= 1, the population mean spend does not exist; NaN returned "
                "for customers without repeat purchases"
            )
        return messages


# --------------------------------------------------------------------------- holdout check
def fit_holdout_models(calibration: pd.DataFrame, time_unit: str) -> dict[str, TransactionModel]:
    """BG/NBD and Pareto/NBD on the compressed calibration summary (recency and T in days)."""
    calibration = sorted_rows(calibration, ["frequency", "recency_days", "tenure_days"])
    scale = TIME_UNITS[time_unit]
    x = calibration["frequency"].to_numpy(dtype=float)
    tx = calibration["recency_days"].to_numpy(dtype=float) / scale
    t_obs = calibration["tenure_days"].to_numpy(dtype=float) / scale
    w = calibration["n_customers"].to_numpy(dtype=float)
    return {
        "bg_nbd": BetaGeoModel(time_unit).fit(x, tx, t_obs, w),
        "pareto_nbd": ParetoNBDModel(time_unit).fit(x, tx, t_obs, w),
    }


def holdout_warnings(models: dict[str, TransactionModel]) -> list[str]:
    return [
        f"holdout_validation: {name} did not converge; its predictions are NaN"
        for name, model in models.items()
        if model.result is None or not model.result.converged
    ]


def _bucket(frequency: np.ndarray) -> np.ndarray:
    return np.where(frequency >= TOP_BUCKET, f"{TOP_BUCKET}+", frequency.astype(np.int64).astype(str))


@dataclass(frozen=True)
class HoldoutPredictor:
    """Per-bucket sums of a batch of calibration customers (frequency, recency_days,
    tenure_days, actual_holdout): customers, actual and predicted holdout purchase days,
    and |predicted - actual| per model (predictions of a model that did not converge are
    NaN and add nothing)."""

    models: dict[str, TransactionModel]
    time_unit: str
    holdout_days: int

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        scale = TIME_UNITS[self.time_unit]
        x = batch["frequency"].to_numpy(dtype=float)
        tx = batch["recency_days"].to_numpy(dtype=float) / scale
        t_obs = batch["tenure_days"].to_numpy(dtype=float) / scale
        actual = batch["actual_holdout"].to_numpy(dtype=float)
        frame = pd.DataFrame({"frequency_bucket": _bucket(x), "n_customers": 1, "actual_total": actual})
        for name in HOLDOUT_MODELS:
            model = self.models[name]
            if model.result is not None and model.result.converged:
                predicted = model.expected_purchases(self.holdout_days / scale, x, tx, t_obs)
            else:
                predicted = np.full(x.shape, np.nan)
            frame[f"predicted_total_{name}"] = predicted
            frame[f"absolute_error_{name}"] = np.abs(predicted - actual)
        sums = frame.groupby("frequency_bucket", as_index=False, sort=True).sum()
        return sums.loc[:, list(HOLDOUT_SUM_COLUMNS)].astype({"n_customers": "int64"})


def add_holdout_sums(parts: pd.DataFrame) -> pd.DataFrame:
    """Partial sums of several batches added per bucket, in bucket order."""
    total = parts.groupby("frequency_bucket").sum()
    return total.reindex([b for b in BUCKET_ORDER if b in total.index]).reset_index()


def _bucket_order(bucket: str) -> int:
    return TOP_BUCKET if bucket.endswith("+") else int(bucket)


def holdout_tables(
    sums: pd.DataFrame, models: dict[str, TransactionModel], calibration_end: dt.date, holdout_end: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clv.holdout_validation rows, totals per model) from the added per-bucket sums. Per
    model and bucket: customers, predicted and actual repeat purchase days in the holdout,
    the mean over customers of |predicted - actual|; then the same over all buckets
    ("total", bucket_order 8). A model that did not converge has NaN totals and errors."""
    sums = add_holdout_sums(sums)
    rows: list[dict[str, object]] = []
    totals: list[dict[str, object]] = []
    n_total = int(sums["n_customers"].to_numpy().sum())
    for name in HOLDOUT_MODELS:
        result = models[name].result
        converged = bool(result is not None and result.converged)
        for rec in sums.to_dict("records"):
            bucket, n = str(rec["frequency_bucket"]), int(rec["n_customers"])
            rows.append(
                {
                    "model_name": name,
                    "frequency_bucket": bucket,
                    "bucket_order": _bucket_order(bucket),
                    "n_customers": n,
                    "predicted_repeat_purchases": float(rec[f"predicted_total_{name}"]),
                    "actual_repeat_purchases": float(rec["actual_total"]),
                    "mean_absolute_error": float(rec[f"absolute_error_{name}"]) / n if converged else math.nan,
                }
            )
        predicted = float(sums[f"predicted_total_{name}"].to_numpy().sum()) if converged else math.nan
        error = float(sums[f"absolute_error_{name}"].to_numpy().sum()) / n_total if converged and n_total else math.nan
        actual = float(sums["actual_total"].to_numpy().sum())
        totals.append(
            {
                "model": name,
                "n_customers": n_total,
                "actual_total": actual,
                "predicted_total": predicted,
                "mean_absolute_error": error,
                "converged": converged,
            }
        )
        rows.append(
            {
                "model_name": name,
                "frequency_bucket": "total",
                "bucket_order": TOP_BUCKET + 1,
                "n_customers": n_total,
                "predicted_repeat_purchases": predicted,
                "actual_repeat_purchases": actual,
                "mean_absolute_error": error,
            }
        )
    frame = pd.DataFrame(rows)
    frame["calibration_end_date"] = calibration_end
    frame["holdout_end_date"] = holdout_end
    return frame, pd.DataFrame(totals)
