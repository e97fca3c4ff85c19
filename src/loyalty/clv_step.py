"""The pipeline's CLV step: fit the BTYD models on the customer summary dbt built, check
them on a holdout period, and write the scores back for the marts to join.

Reads   intermediate.int_customers_summarized   (frequency, recency_days, tenure_days, monetary_value)
        intermediate.int_customer_purchase_days (for the holdout check)
        intermediate.int_as_of_date
Writes  clv.customer_scores      one row per customer, replaced each run
        clv.model_fits           one row per model and fit purpose per run, appended (history);
                                 with the dbt var bgbb_period also the BG/BB fit (bg_bb)
        clv.holdout_validation   per model and calibration frequency bucket, replaced each run

The settings are dbt vars (dbt_project.yml, overridable with `loyalty run --var`), so that
dbt and this step read the same values: clv_time_unit, clv_margin, clv_annual_discount_rate,
churn_model, clv_holdout_days, bgbb_period. The reads and writes go through the run's engine (loyalty.engines:
read_clv_inputs, write_clv_outputs); the tables' contract is loyalty.clv.tables.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loyalty.clv.bgbb import OPPORTUNITY_PERIODS
from loyalty.clv.result import FitResult
from loyalty.clv.tables import MODEL_FITS_NAMES, MODEL_PARAMS
from loyalty.errors import LoyaltyError
from loyalty.project import dbt_vars

if TYPE_CHECKING:
    from loyalty.pipeline import RunConfig

TRANSACTION_MODELS = ("bg_nbd", "pareto_nbd")
SCORE_COLUMNS = (
    "customer_id",
    "p_alive_bg_nbd",
    "p_alive_pareto_nbd",
    "p_alive",
    "churn_probability",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "expected_avg_order_value",
    "predicted_clv_365d",
    "p_purchase_30d",
    "p_purchase_90d",
    "median_days_to_next_purchase_365d",
    "predicted_clv_365d_p10",
    "predicted_clv_365d_p90",
)


class ClvConfigError(LoyaltyError):
    """A CLV setting (dbt var) has a value the step cannot use."""


@dataclass
class ClvSettings:
    time_unit: str = "weeks"
    margin: float = 1.0
    annual_discount_rate: float = 0.10
    churn_model: str = "auto"
    holdout_days: int = 365
    bgbb_period: str | None = None  # BG/BB on calendar periods as opportunities; None: not fitted

    @classmethod
    def from_vars(cls, variables: dict[str, Any]) -> ClvSettings:
        try:
            settings = cls(
                time_unit=str(variables.get("clv_time_unit", "weeks")),
                margin=float(variables.get("clv_margin", 1.0)),
                annual_discount_rate=float(variables.get("clv_annual_discount_rate", 0.10)),
                churn_model=str(variables.get("churn_model", "auto")),
                holdout_days=int(variables.get("clv_holdout_days", 365)),
                bgbb_period=str(variables["bgbb_period"]) if variables.get("bgbb_period") else None,
            )
        except (TypeError, ValueError) as exc:
            raise ClvConfigError(f"A CLV dbt var has a value of the wrong type: {exc}.") from None
        if settings.time_unit not in ("days", "weeks"):
            raise ClvConfigError(f"The dbt var clv_time_unit must be days or weeks, not {settings.time_unit!r}.")
        if settings.churn_model not in ("auto", *TRANSACTION_MODELS):
            raise ClvConfigError(
                f"The dbt var churn_model must be auto, bg_nbd or pareto_nbd, not {settings.churn_model!r}."
            )
        if not (math.isfinite(settings.annual_discount_rate) and settings.annual_discount_rate > -1):
            raise ClvConfigError("The dbt var clv_annual_discount_rate must be a number above -1.")
        if settings.holdout_days < 1:
            raise ClvConfigError("The dbt var clv_holdout_days must be at least 1.")
        if settings.bgbb_period is not None and settings.bgbb_period not in OPPORTUNITY_PERIODS:
            raise ClvConfigError(
                f"The dbt var bgbb_period must be month, quarter or year (or unset), not {settings.bgbb_period!r}."
            )
        return settings


@dataclass
class ClvReport:
    run_id: str
    as_of_date: dt.date | None
    churn_model: str
    churn_model_reason: str
    n_customers: int
    fits: list[FitResult] = field(default_factory=list)
    holdout_totals: pd.DataFrame | None = None
    calibration_end: dt.date | None = None
    warnings: list[str] = field(default_factory=list)
    subscriptions: SubscriptionReport | None = None

    def lines(self) -> list[str]:
        out = [f"CLV: churn model {self.churn_model} ({self.churn_model_reason})"]
        for fit in self.fits:
            params = ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items())
            state = "converged" if fit.converged else f"NOT USED: {fit.message}"
            out.append(f"  {fit.model_name}: {params}; LL {fit.log_likelihood:.1f}; {state}")
        if self.subscriptions is not None:
            out += self.subscriptions.lines()
        return out


@dataclass
class _Inputs:
    summary: pd.DataFrame
    purchase_days: pd.DataFrame
    as_of: dt.date | None


def _read_inputs(config: RunConfig) -> _Inputs:
    inputs = config.engine.read_clv_inputs(config.work)
    return _Inputs(inputs.summary, inputs.purchase_days, inputs.as_of)


def _fit_rows(
    fits: list[FitResult],
    purpose: str,
    selected: str,
    run_id: str,
    as_of: dt.date | None,
    calibration_end: dt.date | None,
    fitted_at: dt.datetime,
) -> list[dict[str, Any]]:
    rows = []
    for fit in fits:
        row: dict[str, Any] = {
            "run_id": run_id,
            "model_name": fit.model_name,
            "fit_purpose": purpose,
            "time_unit": fit.time_unit,
            "message": fit.message,
            **{f"param_{p}": float(fit.params[p]) if p in fit.params else None for p in MODEL_PARAMS},
            "log_likelihood": float(fit.log_likelihood) if math.isfinite(fit.log_likelihood) else None,
            "n_customers": int(fit.n_customers),
            "converged": bool(fit.converged),
            "is_selected": purpose == "scoring" and fit.model_name == selected,
            "as_of_date": as_of,
            "calibration_end_date": calibration_end,
            "fitted_at": fitted_at,
        }
        rows.append(row)
    return rows


def _holdout_rows(result: dict[str, pd.DataFrame], calibration_end: dt.date, holdout_end: dt.date) -> pd.DataFrame:
    by_frequency = result["by_frequency"]
    customers = result["customers"]
    totals = result["totals"].set_index("model")
    rows = []
    for model in TRANSACTION_MODELS:
        predicted_col = f"predicted_holdout_{model}"
        errors = (customers[predicted_col] - customers["actual_holdout"]).abs()
        mae = errors.groupby(customers["frequency_bucket"]).mean()
        for order, bucket in enumerate(by_frequency["frequency_bucket"]):
            rec = by_frequency.iloc[order]
            rows.append(
                {
                    "model_name": model,
                    "frequency_bucket": str(bucket),
                    "bucket_order": _bucket_order(str(bucket)),
                    "n_customers": int(rec["n_customers"]),
                    "predicted_repeat_purchases": float(rec[f"predicted_total_{model}"]),
                    "actual_repeat_purchases": float(rec["actual_total"]),
                    "mean_absolute_error": float(mae.get(bucket, np.nan)),
                }
            )
        rows.append(
            {
                "model_name": model,
                "frequency_bucket": "total",
                "bucket_order": 8,
                # (the type: ignore: pandas-stubs types .loc[row, col] as any scalar; these are numbers)
                "n_customers": int(totals.loc[model, "n_customers"]),  # type: ignore[arg-type]
                "predicted_repeat_purchases": float(totals.loc[model, "predicted_total"]),  # type: ignore[arg-type]
                "actual_repeat_purchases": float(totals.loc[model, "actual_total"]),  # type: ignore[arg-type]
                "mean_absolute_error": float(totals.loc[model, "mean_absolute_error"]),  # type: ignore[arg-type]
            }
        )
    frame = pd.DataFrame(rows)
    frame["calibration_end_date"] = calibration_end
    frame["holdout_end_date"] = holdout_end
    return frame


def _bucket_order(bucket: str) -> int:
    return 7 if bucket.endswith("+") else int(bucket)


EMPTY_HOLDOUT = pd.DataFrame(
    {
        "model_name": pd.Series(dtype="string"),
        "frequency_bucket": pd.Series(dtype="string"),
        "bucket_order": pd.Series(dtype="int64"),
        "n_customers": pd.Series(dtype="int64"),
        "predicted_repeat_purchases": pd.Series(dtype="float64"),
        "actual_repeat_purchases": pd.Series(dtype="float64"),
        "mean_absolute_error": pd.Series(dtype="float64"),
        "calibration_end_date": pd.Series(dtype="datetime64[ns]"),
        "holdout_end_date": pd.Series(dtype="datetime64[ns]"),
    }
)


def _write_outputs(
    config: RunConfig, scores: pd.DataFrame, fit_rows: list[dict[str, Any]], holdout: pd.DataFrame
) -> None:
    fits = pd.DataFrame(fit_rows, columns=MODEL_FITS_NAMES)
    config.engine.write_clv_outputs(config.work, scores, fits, holdout)


def _choose_model(settings: ClvSettings, holdout_totals: pd.DataFrame | None) -> tuple[str, str]:
    if settings.churn_model != "auto":
        return settings.churn_model, "set by the dbt var churn_model"
    if holdout_totals is not None:
        usable = holdout_totals[holdout_totals["converged"] & holdout_totals["mean_absolute_error"].notna()]
        if not usable.empty:
            best = usable.sort_values(["mean_absolute_error", "model"]).iloc[0]
            return str(best["model"]), f"lower holdout mean absolute error, {best['mean_absolute_error']:.4f}"
    return "bg_nbd", "no usable holdout check: BG/NBD by default"


def clv_step(config: RunConfig, calibration_end: dt.date | None = None) -> ClvReport:
    """Fit, check on the holdout, score, and write the clv.* tables. See the module docstring."""
    from loyalty.clv import MIN_CUSTOMERS, holdout_validation, score_customers

    settings = ClvSettings.from_vars(dbt_vars(config.dbt_vars()))
    inputs = _read_inputs(config)
    fitted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = fitted_at.isoformat()
    caught: list[str] = []

    holdout_totals = None
    holdout_frame = EMPTY_HOLDOUT
    holdout_fit_rows: list[dict[str, Any]] = []
    cal_end = calibration_end
    if cal_end is None and inputs.as_of is not None:
        cal_end = inputs.as_of - dt.timedelta(days=settings.holdout_days)
    if inputs.as_of is not None and cal_end is not None and cal_end >= inputs.as_of:
        raise ClvConfigError(f"The calibration end date {cal_end} must be before the as-of date {inputs.as_of}.")
    days = inputs.purchase_days
    first_days = days.groupby("customer_id")["transaction_date"].min() if len(days) else pd.Series(dtype=object)
    n_calibration = int((pd.to_datetime(first_days) <= pd.Timestamp(cal_end)).sum()) if cal_end else 0
    if cal_end is not None and n_calibration >= MIN_CUSTOMERS:
        # the as-of date is the data's last day: None only without purchase days (n_calibration 0)
        assert inputs.as_of is not None
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            result = holdout_validation(days, cal_end, inputs.as_of, time_unit=settings.time_unit)
        caught += [str(w.message) for w in found]
        holdout_totals = result["totals"]
        holdout_frame = _holdout_rows(result, cal_end, inputs.as_of)
        for _, fit in result["fits"].iterrows():
            holdout_fit_rows.append(
                {
                    "run_id": run_id,
                    "model_name": fit["model"],
                    "fit_purpose": "holdout_calibration",
                    "time_unit": fit["time_unit"],
                    "message": fit["message"],
                    **{
                        f"param_{p}": (
                            float(fit[f"param_{p}"]) if f"param_{p}" in fit and pd.notna(fit[f"param_{p}"]) else None
                        )
                        for p in MODEL_PARAMS
                    },
                    "log_likelihood": float(fit["log_likelihood"]) if pd.notna(fit["log_likelihood"]) else None,
                    "n_customers": int(fit["n_customers"]),
                    "converged": bool(fit["converged"]),
                    "is_selected": False,
                    "as_of_date": inputs.as_of,
                    "calibration_end_date": cal_end,
                    "fitted_at": fitted_at,
                }
            )
    else:
        caught.append(
            f"No holdout check: {n_calibration} customers had bought by the calibration end date {cal_end} "
            f"(at least {MIN_CUSTOMERS} needed)."
        )

    chosen, reason = _choose_model(settings, holdout_totals)
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        scores, fits = score_customers(
            inputs.summary,
            time_unit=settings.time_unit,
            margin=settings.margin,
            annual_discount_rate=settings.annual_discount_rate,
            churn_model=chosen,
        )
    caught += [str(w.message) for w in found]
    scores = scores.loc[:, list(SCORE_COLUMNS)].copy()
    scores["churn_model"] = chosen

    fit_rows = _fit_rows(fits, "scoring", chosen, run_id, inputs.as_of, inputs.as_of, fitted_at) + holdout_fit_rows
    if settings.bgbb_period is not None and inputs.as_of is not None:
        bgbb, seen_until = bgbb_fit(inputs.purchase_days, inputs.as_of, settings.bgbb_period)
        fits = [*fits, bgbb]
        fit_rows += _fit_rows([bgbb], "discrete_opportunities", chosen, run_id, inputs.as_of, seen_until, fitted_at)
    _write_outputs(config, scores, fit_rows, holdout_frame)
    subscriptions = subscription_step(config, inputs.as_of, run_id)  # None unless --subscriptions was given
    return ClvReport(
        run_id, inputs.as_of, chosen, reason, len(scores), fits, holdout_totals, cal_end, caught, subscriptions
    )


# --------------------------------------------------------------------------- discrete opportunities (BG/BB)
def bgbb_fit(purchase_days: pd.DataFrame, as_of: dt.date, period: str) -> tuple[FitResult, dt.date]:
    """BG/BB on every customer's calendar periods after the first purchase's (dbt var
    bgbb_period; loyalty.clv.bgbb.opportunity_summary), customers with at least one whole
    period only. Returns the fit and the last day it saw (end of the last complete period)."""
    from loyalty.clv.bgbb import fit_bgbb, last_complete_period_end, opportunity_summary

    summary = opportunity_summary(purchase_days, as_of, period)
    summary = summary[summary["n_periods"] > 0]
    fit = fit_bgbb(summary["frequency"], summary["recency"], summary["n_periods"], period=period)
    return fit, last_complete_period_end(as_of, period)


# --------------------------------------------------------------------------- subscriptions (sBG)
SUBSCRIPTION_PERIODS = ("week", "month", "year")


@dataclass
class SubscriptionReport:
    n_rows: int
    n_valid: int
    n_rejected: int
    fit: FitResult

    def lines(self) -> list[str]:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.fit.params.items())
        state = "converged" if self.fit.converged else f"NOT USED: {self.fit.message}"
        return [
            f"Subscriptions: {self.n_rows:,} rows, {self.n_valid:,} valid, {self.n_rejected:,} rejected",
            f"  sbg ({self.fit.time_unit}s): {params}; LL {self.fit.log_likelihood:.1f}; {state}",
        ]


def subscription_step(config: RunConfig, as_of: dt.date | None, run_id: str) -> SubscriptionReport | None:
    """When the dbt var subscriptions_path is set (`loyalty run --subscriptions PATH`): read and
    check the subscriptions, fit the sBG model, and write clv.subscription_survival,
    clv.subscriber_scores and clv.rejected_subscriptions (replaced) and the fit to
    clv.model_fits (model_name 'sbg'), through the run's engine (DuckDB only today: the Spark
    engine refuses in one sentence; see the README)."""
    from loyalty.clv import subscriptions as subs
    from loyalty.load_subscriptions import read_subscriptions

    variables = dbt_vars(config.dbt_vars())
    path = variables.get("subscriptions_path")
    if not path:
        return None
    period = str(variables.get("clv_subscription_period", "month"))
    if period not in SUBSCRIPTION_PERIODS:
        raise ClvConfigError(f"The dbt var clv_subscription_period must be week, month or year, not {period!r}.")
    settings = ClvSettings.from_vars(variables)
    if as_of is None:
        raise ClvConfigError("The subscriptions need an as-of date, and the run has no valid transaction to give one.")
    valid, rejected = read_subscriptions(str(path), as_of)
    lifetimes = subs.subscription_lifetimes(valid, as_of, period)
    if len(lifetimes):
        fit = subs.fit_lifetimes(lifetimes, period)
    else:
        from loyalty.clv.sbg import fit_sbg

        fit = fit_sbg([], [], period=period)
    survival = subs.survival_by_cohort(lifetimes, fit)
    scores = subs.subscriber_scores(lifetimes, fit, subs.rate_per_period(settings.annual_discount_rate, period))
    plans = valid["plan"].to_numpy()
    scores.insert(1, "plan", plans[~lifetimes["is_churned"].to_numpy()] if len(lifetimes) else [])
    scores.insert(
        2, "started_at", valid["started_at"].to_numpy()[~lifetimes["is_churned"].to_numpy()] if len(lifetimes) else []
    )
    fitted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    fit_row = _fit_rows([fit], "subscriptions", "", run_id, as_of, None, fitted_at)
    fits = pd.DataFrame(fit_row, columns=MODEL_FITS_NAMES)
    config.engine.write_subscription_outputs(config.work, survival, scores, rejected, fits)
    return SubscriptionReport(len(valid) + len(rejected), len(valid), len(rejected), fit)
