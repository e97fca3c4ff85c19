"""Read the optional subscriptions input (`loyalty run --subscriptions PATH`) for the sBG model.

Columns: customer_id, started_at, ended_at (empty = still active), optional plan. Dates are
ISO 8601 (YYYY-MM-DD, or a timestamp of which the date is used). Every row ends either in
the valid frame or in the rejected frame with one reason:

* missing_customer_id, invalid_started_at, invalid_ended_at (not an ISO date),
* ended_before_started, started_after_as_of (the subscription starts after the as-of date).

Problems with the input as a whole (no file, unreadable, a required column missing, no rows)
raise :class:`loyalty.errors.InputError` with one sentence.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pandas as pd

from loyalty.duckdb_config import connect as duckdb_connect
from loyalty.errors import InputError
from loyalty.load import resolve_files

SUBSCRIPTION_REQUIRED = ("customer_id", "started_at", "ended_at")
SUBSCRIPTION_OPTIONAL = ("plan",)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


def _read_text(path: str) -> pd.DataFrame:
    frames = []
    for file in resolve_files(path, "subscriptions"):
        con = duckdb_connect()
        try:
            if file.suffix.lower() == ".csv":
                rel = con.sql("select * from read_csv(?, all_varchar = true, header = true)", params=[str(file)])
            else:
                rel = con.sql("select * from read_parquet(?)", params=[str(file)])
            frame = rel.df()
        except duckdb.Error as exc:
            raise InputError(f"The subscriptions file {file} cannot be read: {str(exc).splitlines()[0]}") from None
        finally:
            con.close()
        missing = [c for c in SUBSCRIPTION_REQUIRED if c not in frame.columns]
        if missing:
            raise InputError(f"The subscriptions file {file} lacks the required column(s) {', '.join(missing)}.")
        keep = [c for c in (*SUBSCRIPTION_REQUIRED, *SUBSCRIPTION_OPTIONAL) if c in frame.columns]
        frame = frame[keep].astype("string")
        frame.insert(0, "source_file", file.name)
        frame.insert(1, "row_number", range(1, len(frame) + 1))
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    if data.empty:
        raise InputError(f"The subscriptions input {path} has no rows.")
    if "plan" not in data.columns:
        data["plan"] = pd.Series(pd.NA, index=data.index, dtype="string")
    return data


def _iso_date(values: pd.Series) -> pd.Series:
    """The date of each ISO 8601 text (NaT where empty or not ISO: no other format is guessed)."""
    text = values.fillna("").str.strip()
    ok = text.str.match(_ISO).fillna(False).astype(bool)
    parsed = pd.to_datetime(text.where(ok).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    return parsed


def read_subscriptions(path: str, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(valid, rejected): valid has customer_id, plan, started_at, ended_at (dates, NaT =
    active); rejected has source_file, row_number, the raw text columns and rejection_reason."""
    raw = _read_text(path)
    customer = raw["customer_id"].fillna("").str.strip()
    started = _iso_date(raw["started_at"])
    ended_text = raw["ended_at"].fillna("").str.strip()
    ended = _iso_date(raw["ended_at"])
    reason = pd.Series(pd.NA, index=raw.index, dtype="string")

    def flag(mask: pd.Series, why: str) -> None:
        reason.loc[mask & reason.isna()] = why

    flag(customer == "", "missing_customer_id")
    flag(started.isna(), "invalid_started_at")
    flag((ended_text != "") & ended.isna(), "invalid_ended_at")
    flag(ended.notna() & started.notna() & (ended < started), "ended_before_started")
    flag(started.notna() & (started > pd.Timestamp(as_of)), "started_after_as_of")
    bad = reason.notna()
    rejected = raw[bad].copy()
    rejected["rejection_reason"] = reason[bad]
    valid = pd.DataFrame(
        {
            "customer_id": customer[~bad].to_numpy(),
            "plan": raw.loc[~bad, "plan"].to_numpy(),
            "started_at": started[~bad].to_numpy(),
            "ended_at": ended[~bad].to_numpy(),
        }
    )
    return valid, rejected.reset_index(drop=True)
