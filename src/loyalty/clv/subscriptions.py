"""Subscriptions -> sBG inputs and outputs: lifetimes in whole periods, survival by cohort
observed against the sBG projection, and per active subscriber the expected remaining
lifetime, the median remaining lifetime and the DERL (see :mod:`loyalty.clv.sbg`).

Definitions (docs block ``sbg_subscriptions``):

* a subscriber's lifetime is the number of **whole periods** from ``started_at`` to
  ``ended_at`` (or to the as-of date when still active). A whole month runs from a day to
  the same day of the next month (Jan 31 -> Feb 28 is not a whole month); a whole year
  likewise; a week is 7 days.
* a subscriber who ended after k whole periods cancelled in period k + 1 (T = k + 1:
  ended within the first period = T = 1); an active one with k whole periods has T > k.
* the cohort of a subscriber is the period in which they started (month start for
  ``month``, year start for ``year``, the Monday of the week for ``week``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from . import sbg
from .result import FitResult

PERIODS = ("week", "month", "year")
SURVIVAL_COLUMNS = [
    "cohort_start",
    "period_number",
    "n_subscribers",
    "n_observable",
    "n_active",
    "observed_survival",
    "observed_retention",
    "projected_survival",
    "projected_retention",
]


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"the subscription period must be one of {PERIODS}, not {period!r}")


def whole_periods(start: pd.Series, end: pd.Series, period: str) -> np.ndarray:
    """Whole periods from ``start`` to ``end`` (dates; end >= start), per row."""
    _check_period(period)
    s = pd.to_datetime(start)
    e = pd.to_datetime(end)
    if period == "week":
        return ((e - s).dt.days // 7).to_numpy(dtype=np.int64)
    months = (e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month)
    short = e.dt.day < s.dt.day  # the day of the month has not come round yet
    whole = (months - short.astype(int)).to_numpy(dtype=np.int64)
    return whole if period == "month" else whole // 12


def cohort_start(start: pd.Series, period: str) -> pd.Series:
    """First day of the period in which each subscription started."""
    _check_period(period)
    s = pd.to_datetime(start)
    if period == "week":
        return (s - pd.to_timedelta(s.dt.weekday, unit="D")).dt.normalize()
    if period == "month":
        return s.dt.to_period("M").dt.start_time
    return s.dt.to_period("Y").dt.start_time


def subscription_lifetimes(subscriptions: pd.DataFrame, as_of: dt.date, period: str) -> pd.DataFrame:
    """One row per subscription: customer_id, cohort_start, completed_periods, is_churned.

    ``subscriptions`` has customer_id, started_at, ended_at (NaT/None = active) as dates,
    already validated (started_at <= as_of, ended_at >= started_at). An ``ended_at`` after
    the as-of date counts as still active at the as-of date."""
    as_of_ts = pd.Timestamp(as_of)
    started = pd.to_datetime(subscriptions["started_at"])
    ended = pd.to_datetime(subscriptions["ended_at"])
    churned = ended.notna() & (ended <= as_of_ts)
    end = ended.where(churned, as_of_ts)
    return pd.DataFrame(
        {
            "customer_id": subscriptions["customer_id"].to_numpy(),
            "cohort_start": cohort_start(started, period).dt.date.to_numpy(),
            "completed_periods": whole_periods(started, end, period),
            "is_churned": churned.to_numpy(),
            "periods_observable": whole_periods(started, pd.Series(as_of_ts, index=started.index), period),
        }
    )


def fit_lifetimes(lifetimes: pd.DataFrame, period: str) -> FitResult:
    """sBG fit on all subscriptions (one row per completed-periods / churned pattern)."""
    grouped = lifetimes.groupby(["completed_periods", "is_churned"]).size().reset_index(name="n")
    return sbg.fit_sbg(grouped["completed_periods"], grouped["is_churned"], grouped["n"], period=period)


def survival_by_cohort(lifetimes: pd.DataFrame, fit: FitResult) -> pd.DataFrame:
    """Per cohort and period t = 0..max observable: subscribers in the cohort, how many have
    been observable for t periods (started at least t whole periods before the as-of
    date), how many of those were still active after t periods, the observed survival
    (active / observable) and retention (active after t / active after t - 1, on the same
    observable subscribers), and the sBG-projected survival S(t) and retention r_t.
    Projected values are NaN when the fit is not usable."""
    rows = []
    ok = fit.converged
    a, b = (fit.params["alpha"], fit.params["beta"]) if ok else (np.nan, np.nan)
    for cohort, group in lifetimes.groupby("cohort_start", sort=True):
        horizon = int(group["periods_observable"].max())
        k = group["completed_periods"].to_numpy()
        observable = group["periods_observable"].to_numpy()
        for t in range(horizon + 1):
            seen = observable >= t
            active_t = int(np.sum(seen & (k >= t)))
            active_prev = int(np.sum(seen & (k >= t - 1))) if t > 0 else active_t
            n_seen = int(seen.sum())
            rows.append(
                {
                    "cohort_start": cohort,
                    "period_number": t,
                    "n_subscribers": len(group),
                    "n_observable": n_seen,
                    "n_active": active_t,
                    "observed_survival": active_t / n_seen if n_seen else np.nan,
                    "observed_retention": active_t / active_prev if t > 0 and active_prev else np.nan,
                    "projected_survival": float(sbg.survival(a, b, t)) if ok else np.nan,
                    "projected_retention": float(sbg.retention_rate(a, b, t)) if ok and t > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=SURVIVAL_COLUMNS)


def subscriber_scores(lifetimes: pd.DataFrame, fit: FitResult, discount_rate_per_period: float) -> pd.DataFrame:
    """Per active subscription: customer_id, completed_periods, expected_remaining_periods
    (NaN when alpha <= 1: the mean is infinite), median_remaining_periods and derl (see
    :mod:`loyalty.clv.sbg`); all NaN when the fit is not usable."""
    active = lifetimes[~lifetimes["is_churned"]]
    k = active["completed_periods"].to_numpy(dtype=float)
    out = pd.DataFrame({"customer_id": active["customer_id"].to_numpy(), "completed_periods": k.astype(np.int64)})
    if not fit.converged:
        for column in ("expected_remaining_periods", "median_remaining_periods", "derl"):
            out[column] = np.nan
        return out
    a, b = fit.params["alpha"], fit.params["beta"]
    out["expected_remaining_periods"] = sbg.expected_remaining_periods(a, b, k)
    out["median_remaining_periods"] = sbg.median_remaining_periods(a, b, k)
    out["derl"] = sbg.derl(a, b, k, discount_rate_per_period)
    return out


def rate_per_period(annual_rate: float, period: str) -> float:
    """The discount rate per period equivalent to ``annual_rate``."""
    _check_period(period)
    per_year = {"week": 365.0 / 7.0, "month": 12.0, "year": 1.0}[period]
    return float((1.0 + annual_rate) ** (1.0 / per_year) - 1.0)
