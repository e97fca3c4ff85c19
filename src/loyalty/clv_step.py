"""The pipeline's CLV step: fit the BTYD models on the customer summary dbt built, check
them on a holdout period, and write the scores back for the marts to join.

Reads   intermediate.int_customers_summarized   (frequency, recency_days, tenure_days, monetary_value)
        intermediate.int_customer_purchase_days (for the holdout check and BG/BB)
        intermediate.int_as_of_date
Writes  clv.customer_scores      one row per customer, replaced each run
        clv.model_fits           one row per model and fit purpose per run, appended (history);
                                 with the dbt var bgbb_period also the BG/BB fit (bg_bb)
        clv.holdout_validation   per model and calibration frequency bucket, replaced each run

The settings are dbt vars (dbt_project.yml, overridable with `loyalty run --var`), so that
dbt and this step read the same values: clv_time_unit, clv_margin, clv_annual_discount_rate,
churn_model, clv_holdout_days, bgbb_period.

One step for every engine. The fits run here, on compressed summaries the engine computes
(distinct rows with customer counts); the per-customer work (scores, holdout predictions)
is handed to the engine with the fitted models (loyalty.clv.batches), which runs it where
the data is: in this process on DuckDB, in batches of 500,000 customers read from and written
back to the file (so its memory does not grow with the customers), in Spark's workers on Spark. The reads and writes go
through the run's engine (loyalty.engines); the tables' contract is loyalty.clv.tables.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from loyalty.clv.bgbb import OPPORTUNITY_PERIODS
from loyalty.clv.optimize import FIT_TIME_BUDGET_SECONDS, fit_time_budget
from loyalty.clv.result import FitResult
from loyalty.clv.tables import MODEL_FITS_NAMES, MODEL_PARAMS, SCORE_COLUMNS
from loyalty.errors import LoyaltyError
from loyalty.project import dbt_vars

if TYPE_CHECKING:
    from loyalty.clv.base import TransactionModel
    from loyalty.pipeline import RunConfig

TRANSACTION_MODELS = ("bg_nbd", "pareto_nbd")
__all__ = ["SCORE_COLUMNS", "ClvConfigError", "ClvReport", "ClvSettings", "clv_step", "subscription_step"]


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
    fit_time_budget_seconds: float = FIT_TIME_BUDGET_SECONDS  # a fit still running then is "not converged"

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
                fit_time_budget_seconds=float(variables.get("clv_fit_time_budget_seconds", FIT_TIME_BUDGET_SECONDS)),
            )
        except (TypeError, ValueError) as exc:
            raise ClvConfigError(f"A CLV dbt var has a value of the wrong type: {exc}.") from None
        if settings.time_unit not in ("days", "weeks"):
            raise ClvConfigError(f"The dbt var clv_time_unit must be days or weeks, not {settings.time_unit!r}.")
        if settings.churn_model not in ("auto", *TRANSACTION_MODELS):
            raise ClvConfigError(
                f"The dbt var churn_model must be auto, bg_nbd or pareto_nbd, not {settings.churn_model!r}."
            )
        if not math.isfinite(settings.margin):
            raise ClvConfigError("The dbt var clv_margin must be a finite number.")
        if not (math.isfinite(settings.annual_discount_rate) and settings.annual_discount_rate > -1):
            raise ClvConfigError("The dbt var clv_annual_discount_rate must be a number above -1.")
        if not (math.isfinite(settings.fit_time_budget_seconds) and settings.fit_time_budget_seconds > 0):
            raise ClvConfigError("The dbt var clv_fit_time_budget_seconds must be a number of seconds above 0.")
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


@dataclass(frozen=True)
class _Run:
    """What every row this run writes to clv.model_fits carries."""

    run_id: str
    fitted_at: dt.datetime
    as_of: dt.date | None

    @classmethod
    def start(cls, as_of: dt.date | None) -> _Run:
        fitted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        return cls(fitted_at.isoformat(), fitted_at, as_of)


def _fit_rows(
    fits: list[FitResult],
    purpose: str,
    selected: str,
    run_id: str,
    as_of: dt.date | None,
    calibration_end: dt.date | None,
    fitted_at: dt.datetime,
    nan_as_null: bool = False,
) -> list[dict[str, Any]]:
    rows = []
    for fit in fits:
        params = {f"param_{p}": float(fit.params[p]) if p in fit.params else None for p in MODEL_PARAMS}
        if nan_as_null:
            params = {k: (None if v is None or math.isnan(v) else v) for k, v in params.items()}
        row: dict[str, Any] = {
            "run_id": run_id,
            "model_name": fit.model_name,
            "fit_purpose": purpose,
            "time_unit": fit.time_unit,
            "message": fit.message,
            **params,
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


@contextmanager
def _recording(into: list[str]) -> Iterator[None]:
    """Record the warnings of the block (the model code warns; the report lists them)."""
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        yield
    into.extend(str(w.message) for w in found)


@dataclass
class _Holdout:
    """The holdout check's outcome: clv.holdout_validation rows, totals per model, fit rows."""

    frame: pd.DataFrame = field(default_factory=lambda: EMPTY_HOLDOUT)
    totals: pd.DataFrame | None = None
    fit_rows: list[dict[str, Any]] = field(default_factory=list)


def _calibration_end(settings: ClvSettings, as_of: dt.date | None, given: dt.date | None) -> dt.date | None:
    cal_end = given
    if cal_end is None and as_of is not None:
        cal_end = as_of - dt.timedelta(days=settings.holdout_days)
    if as_of is not None and cal_end is not None and cal_end >= as_of:
        raise ClvConfigError(f"The calibration end date {cal_end} must be before the as-of date {as_of}.")
    return cal_end


def _holdout_check(
    config: RunConfig, settings: ClvSettings, run: _Run, cal_end: dt.date | None, caught: list[str]
) -> _Holdout:
    """Fit BG/NBD and Pareto/NBD on the calibration period, compare their predictions with
    the holdout (loyalty.clv.holdout_validation's check, on compressed rows and per-bucket sums)."""
    from loyalty.clv import MIN_CUSTOMERS
    from loyalty.clv.batches import HoldoutPredictor, fit_holdout_models, holdout_tables, holdout_warnings

    engine, work, as_of = config.engine, config.work, run.as_of
    calibration = None
    if as_of is not None and cal_end is not None:
        calibration = engine.read_calibration_rows(work, cal_end, as_of)
    n_calibration = int(calibration["n_customers"].sum()) if calibration is not None else 0
    if calibration is None or n_calibration < MIN_CUSTOMERS:
        caught.append(
            f"No holdout check: {n_calibration} customers had bought by the calibration end date {cal_end} "
            f"(at least {MIN_CUSTOMERS} needed)."
        )
        return _Holdout()
    assert as_of is not None and cal_end is not None  # calibration rows were read
    with _recording(caught):
        models: dict[str, TransactionModel] = fit_holdout_models(calibration, settings.time_unit)
    caught += holdout_warnings(models)
    predictor = HoldoutPredictor(models, settings.time_unit, (as_of - cal_end).days)
    sums = engine.holdout_sums(work, cal_end, as_of, predictor)
    frame, totals = holdout_tables(sums, models, cal_end, as_of)
    results = [m.result for m in models.values() if m.result is not None]
    fit_rows = _fit_rows(
        results, "holdout_calibration", "", run.run_id, as_of, cal_end, run.fitted_at, nan_as_null=True
    )
    return _Holdout(frame, totals, fit_rows)


def _choose_model(settings: ClvSettings, holdout_totals: pd.DataFrame | None) -> tuple[str, str]:
    if settings.churn_model != "auto":
        return settings.churn_model, "set by the dbt var churn_model"
    if holdout_totals is not None:
        usable = holdout_totals[holdout_totals["converged"] & holdout_totals["mean_absolute_error"].notna()]
        if not usable.empty:
            best = usable.sort_values(["mean_absolute_error", "model"]).iloc[0]
            return str(best["model"]), f"lower holdout mean absolute error, {best['mean_absolute_error']:.4f}"
    return "bg_nbd", "no usable holdout check: BG/NBD by default"


def _score(config: RunConfig, settings: ClvSettings, chosen: str, caught: list[str]) -> tuple[list[FitResult], int]:
    """Fit the three models on the compressed summaries and have the engine score every
    customer with them (clv.customer_scores). Returns the fits and the customers scored."""
    from loyalty.clv.batches import CustomerScorer, fit_scoring_models

    inputs = config.engine.read_clv_fit_inputs(config.work)
    with _recording(caught):
        models = fit_scoring_models(inputs.transactions, inputs.spend, settings.time_unit, chosen)
    scorer = CustomerScorer(models, settings.time_unit, chosen, settings.margin, settings.annual_discount_rate)
    caught += scorer.warnings()
    n_customers = config.engine.write_clv_scores(config.work, scorer)
    return models.results(), n_customers


def clv_step(config: RunConfig, calibration_end: dt.date | None = None) -> ClvReport:
    """Fit, check on the holdout, score, and write the clv.* tables. See the module docstring."""
    settings = ClvSettings.from_vars(dbt_vars(config.dbt_vars()))
    with fit_time_budget(settings.fit_time_budget_seconds):
        return _fit_score_and_write(config, settings, calibration_end)


def _fit_score_and_write(config: RunConfig, settings: ClvSettings, calibration_end: dt.date | None) -> ClvReport:
    run = _Run.start(config.engine.read_clv_as_of(config.work))
    caught: list[str] = []
    cal_end = _calibration_end(settings, run.as_of, calibration_end)
    holdout = _holdout_check(config, settings, run, cal_end, caught)
    chosen, reason = _choose_model(settings, holdout.totals)
    fits, n_customers = _score(config, settings, chosen, caught)
    fit_rows = _fit_rows(fits, "scoring", chosen, run.run_id, run.as_of, run.as_of, run.fitted_at) + holdout.fit_rows
    if settings.bgbb_period is not None and run.as_of is not None:
        bgbb, seen_until = bgbb_fit(config, run.as_of, settings.bgbb_period)
        fits = [*fits, bgbb]
        fit_rows += _fit_rows(
            [bgbb], "discrete_opportunities", chosen, run.run_id, run.as_of, seen_until, run.fitted_at
        )
    config.engine.write_clv_fits(config.work, pd.DataFrame(fit_rows, columns=MODEL_FITS_NAMES), holdout.frame)
    subscriptions = subscription_step(config, run.as_of, run.run_id)  # None unless --subscriptions was given
    return ClvReport(
        run.run_id, run.as_of, chosen, reason, n_customers, fits, holdout.totals, cal_end, caught, subscriptions
    )


# --------------------------------------------------------------------------- discrete opportunities (BG/BB)
def bgbb_fit(config: RunConfig, as_of: dt.date, period: str) -> tuple[FitResult, dt.date]:
    """BG/BB on every customer's calendar periods after the first purchase's (dbt var
    bgbb_period; loyalty.clv.bgbb.opportunity_summary, computed by the engine and compressed),
    customers with at least one whole period only. Returns the fit and the last day it saw
    (end of the last complete period)."""
    from loyalty.clv.batches import sorted_rows
    from loyalty.clv.bgbb import fit_bgbb, last_complete_period_end

    seen_until = last_complete_period_end(as_of, period)
    rows = sorted_rows(
        config.engine.read_opportunity_rows(config.work, seen_until, period), ["frequency", "recency", "n_periods"]
    )
    fit = fit_bgbb(
        rows["frequency"].to_numpy(dtype=float),
        rows["recency"].to_numpy(dtype=float),
        rows["n_periods"].to_numpy(dtype=float),
        weights=rows["n_customers"].to_numpy(dtype=float),
        period=period,
    )
    return fit, seen_until


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
