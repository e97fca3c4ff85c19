"""Customer summaries (frequency, recency, tenure, monetary value) from transactions,
per distinct purchase day - the lifetimes convention the CLV models expect."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

TRANSACTION_COLUMNS = ("customer_id", "transaction_date", "amount")

# a date, or its ISO text (pd.Timestamp reads both)
DateLike = dt.date | str | pd.Timestamp


def purchase_days(transactions: pd.DataFrame, until: DateLike | None = None) -> pd.DataFrame:
    """One row per (customer_id, purchase day) with the day's total amount.

    Several purchases on one day count as one purchase day (their amounts are summed);
    purchases with amount 0 count. Rows after ``until`` (a date, inclusive) are dropped.
    """
    missing = [c for c in TRANSACTION_COLUMNS if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions are missing column(s) {missing}")
    dates = transactions["transaction_date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates, format="ISO8601")  # dates or timestamps, as text or objects
    day = dates.dt.tz_localize(None).dt.normalize() if dates.dt.tz is not None else dates.dt.normalize()
    frame = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"].to_numpy(),
            "day": day.to_numpy(),
            "amount": pd.to_numeric(transactions["amount"]).to_numpy(dtype=float),
        }
    )
    if frame["day"].isna().any():
        raise ValueError("transaction_date has missing values")
    if until is not None:
        frame = frame[frame["day"] <= pd.Timestamp(until)]
    # with as_index=False the sum is a DataFrame (the keys become columns); pandas-stubs says Series
    summed: pd.DataFrame = frame.groupby(["customer_id", "day"], as_index=False, sort=True)["amount"].sum()  # type: ignore[assignment]
    return summed


def summarize_purchase_days(days: pd.DataFrame, as_of: DateLike) -> pd.DataFrame:
    """Summary per customer from :func:`purchase_days` output (rows after ``as_of`` ignored).

    Columns: customer_id, first_purchase_date, frequency (repeat purchase days),
    recency_days (last - first purchase day), tenure_days (as_of - first purchase day),
    monetary_value (mean amount per repeat purchase day, 0.0 without repeat purchases,
    as lifetimes).
    """
    as_of_ts = pd.Timestamp(as_of).normalize()
    days = days[days["day"] <= as_of_ts]
    grouped = days.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    n_days = grouped["day"].size()
    total = grouped["amount"].sum()
    first_amount = days.loc[grouped["day"].idxmin(), ["customer_id", "amount"]].set_index("customer_id")["amount"]
    frequency = (n_days - 1).astype(np.int64)
    repeat_total = total - first_amount.reindex(total.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, repeat_total / frequency.where(frequency > 0, 1), 0.0)
    return pd.DataFrame(
        {
            "customer_id": first.index.to_numpy(),
            "first_purchase_date": first.to_numpy(),
            "frequency": frequency.to_numpy(),
            "recency_days": (last - first).dt.days.to_numpy(dtype=np.int64),
            "tenure_days": (as_of_ts - first).dt.days.to_numpy(dtype=np.int64),
            "monetary_value": np.asarray(monetary, dtype=float),
        }
    )


def summarize_transactions(transactions: pd.DataFrame, as_of: DateLike) -> pd.DataFrame:
    """Customer summary at ``as_of`` from raw purchases (customer_id, transaction_date,
    amount); see :func:`summarize_purchase_days` for the columns."""
    return summarize_purchase_days(purchase_days(transactions, until=as_of), as_of)
