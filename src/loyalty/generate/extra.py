"""Synthetic survey responses and balances that follow the simulated customers' behaviour.

Both are derived from a transactions file written by `loyalty generate` (read back with
DuckDB; malformed rows are ignored), so that they agree with what the customers did:

- Surveys: a share of the customers answer once, on a day between their first purchase and
  180 days after their last one. Their satisfaction is driven by what they do NEXT: the
  number of purchase days in the 365 days after the response (0 -> mostly detractors, 3 or
  more -> mostly promoters), plus noise. NPS (0-10), CSAT (1-5, asked of 70%) and the
  attribute scores of seeds/csi_weights.csv (1-10, each answered by 80%) follow it; a few
  responses carry a free-text comment.
- Balances: a share of the customers hold 1-3 products (savings, funds, pension,
  brokerage) from the month of their first purchase; month-end statements to the end
  date. Assets start in proportion to the customer's spend (lognormal noise) and drift;
  once a customer has made no purchase for a year, most of their assets are withdrawn
  over the following months (so the big-customer decline report finds them).

`bad_row_rate` makes that share of rows malformed, spread over the reject reasons.
Deterministic for a given seed and transactions file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from loyalty.project import csi_attributes

SURVEY_SHARE = 0.3
BALANCE_SHARE = 0.4
PRODUCTS = ("savings", "funds", "pension", "brokerage")
COMMENTS = ("Great service.", "Too slow to answer.", "App keeps crashing.", "Friendly staff.", "Prices went up.")


@dataclass
class ExtraGenerateResult:
    path: Path
    n_rows: int
    n_bad_rows: int


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader(path: Path) -> str:
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({_quote(str(path))})"
    return f"read_csv({_quote(str(path))}, all_varchar = true, header = true)"


def _purchases(con: duckdb.DuckDBPyConnection, transactions: Path) -> pd.DataFrame:
    """One row per customer and purchase day of the well-formed purchases of the file."""
    return con.execute(
        f"""
        select distinct cast(customer_id as varchar) as customer_id,
               cast(try_cast(replace(replace(cast(transacted_at as varchar), 'T', ' '), 'Z', '') as timestamp)
                    as date) as purchase_date,
        from {_reader(transactions)}
        where customer_id is not null and try_cast(cast(amount as varchar) as decimal(18, 4)) >= 0
          and try_cast(replace(replace(cast(transacted_at as varchar), 'T', ' '), 'Z', '') as timestamp)
              is not null
        """
    ).df()


def _write(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    con = duckdb.connect()
    try:
        con.register("frame", frame)
        fmt = "parquet" if out.suffix.lower() == ".parquet" else "csv, header true"
        con.execute(f"copy frame to {_quote(str(partial))} (format {fmt})")
    finally:
        con.close()
    partial.replace(out)


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"Unsupported output extension {out.suffix or '(none)'!r} for {out}: use .parquet or .csv.")


def generate_surveys(
    transactions: Path, out: Path, *, end: dt.date, seed: int = 42, bad_row_rate: float = 0.0
) -> ExtraGenerateResult:
    """Write survey responses of a share of the customers of `transactions` to `out` (.csv/.parquet)."""
    _check_out(out)
    rng = np.random.default_rng([seed, 11])
    con = duckdb.connect()
    try:
        responses = _survey_responses(con, _purchases(con, transactions), rng, end)
    finally:
        con.close()
    frame = _survey_scores(responses, rng, end)
    n = len(frame)
    n_bad = _spoil_surveys(frame, rng, bad_row_rate)
    _write(frame, out)
    return ExtraGenerateResult(out, n, n_bad)


def _survey_responses(
    con: duckdb.DuckDBPyConnection, days: pd.DataFrame, rng: np.random.Generator, end: dt.date
) -> pd.DataFrame:
    """Who answers and when (between the first purchase and 180 days after the last one), with
    the number of purchase days in the 365 days after the response."""
    spans = days.groupby("customer_id")["purchase_date"].agg(["min", "max"]).sort_index()
    chosen = spans[rng.random(len(spans)) < SURVEY_SHARE]
    first = pd.to_datetime(chosen["min"]).to_numpy()
    last_possible = np.minimum(pd.to_datetime(chosen["max"]).to_numpy() + np.timedelta64(180, "D"), np.datetime64(end))
    span_days = np.maximum((last_possible - first).astype("timedelta64[D]").astype(int), 0)
    offset = np.floor(rng.random(len(chosen)) * (span_days + 1)).astype(int)
    responses = pd.DataFrame(
        {
            "customer_id": chosen.index.to_numpy(),
            "response_date": (first + offset.astype("timedelta64[D]")).astype("datetime64[D]"),
        }
    )
    con.register("responses", responses)
    con.register("days", days)
    responses["next_purchase_days"] = (
        con.execute(
            """
        select count(days.purchase_date)
        from responses
        left join days
            on days.customer_id = responses.customer_id
            and days.purchase_date > cast(responses.response_date as date)
            and days.purchase_date <= cast(responses.response_date as date) + 365
        group by responses.customer_id, responses.response_date
        order by responses.customer_id
        """
        )
        .df()
        .iloc[:, 0]
        .to_numpy()
    )
    return responses


def _survey_scores(responses: pd.DataFrame, rng: np.random.Generator, end: dt.date) -> pd.DataFrame:
    """The survey rows: scores driven by the purchase rate after the response, plus noise."""
    n = len(responses)
    # purchase days per 365 days over the part of the next year that the history covers
    observable = np.clip(
        (np.datetime64(end) - responses["response_date"].to_numpy().astype("datetime64[D]")).astype(int), 30, 365
    )
    next_rate = responses["next_purchase_days"].to_numpy() * 365.0 / observable
    satisfaction = 5.0 + 1.6 * np.minimum(next_rate, 3) + rng.normal(0, 1.5, n)
    nps = np.clip(np.rint(satisfaction), 0, 10).astype(int)
    csat = np.clip(np.rint(1 + satisfaction / 2.5 + rng.normal(0, 0.5, n)), 1, 5).astype(int)
    seconds = rng.integers(8 * 3600, 20 * 3600, n)
    frame = pd.DataFrame(
        {
            "response_id": [f"s{i:09d}" for i in range(1, n + 1)],
            "customer_id": responses["customer_id"].to_numpy(),
            "responded_at": [
                f"{d}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
                for d, s in zip(responses["response_date"].dt.date.astype(str), seconds, strict=True)
            ],
            "nps_score": nps.astype(str),
            "csat_score": np.where(rng.random(n) < 0.7, csat.astype(str), ""),
        }
    )
    for attribute in csi_attributes():
        score = np.clip(np.rint(satisfaction + rng.normal(0, 1.2, n)), 1, 10).astype(int)
        frame[f"attr_{attribute}"] = np.where(rng.random(n) < 0.8, score.astype(str), "")
    frame["comment"] = np.where(rng.random(n) < 0.1, rng.choice(np.array(COMMENTS), n), "")
    return frame


def _spoil_surveys(frame: pd.DataFrame, rng: np.random.Generator, rate: float) -> int:
    """Make `rate` of the rows malformed, cycling through the survey reject reasons."""
    bad = np.flatnonzero(rng.random(len(frame)) < rate)
    for k, row in enumerate(bad):
        kind = k % 6
        if kind == 0:
            frame.loc[row, "nps_score"] = "11"
        elif kind == 1:
            frame.loc[row, "nps_score"] = "7.5"
        elif kind == 2:
            frame.loc[row, "csat_score"] = "0"
        elif kind == 3:
            frame.loc[row, "responded_at"] = "31/02/2024"
        elif kind == 4:
            frame.loc[row, "customer_id"] = ""
        else:
            frame.loc[row, "response_id"] = frame.loc[max(int(row) - 1, 0), "response_id"] if row else ""
    return len(bad)


def generate_balances(
    transactions: Path, out: Path, *, end: dt.date, seed: int = 42, bad_row_rate: float = 0.0
) -> ExtraGenerateResult:
    """Write month-end balance statements of a share of the customers of `transactions` to `out`."""
    _check_out(out)
    rng = np.random.default_rng([seed, 12])
    con = duckdb.connect()
    try:
        days = _purchases(con, transactions)
    finally:
        con.close()
    spans = days.groupby("customer_id")["purchase_date"].agg(["min", "max", "count"]).sort_index()
    chosen = spans[rng.random(len(spans)) < BALANCE_SHARE]
    end_month = np.datetime64(end, "M")
    rows: list[tuple[str, str, str, str]] = []
    for customer_id, (first, last, n_days) in zip(chosen.index, chosen.to_numpy(), strict=True):
        first_month = np.datetime64(first, "M")
        lapsed_from = np.datetime64(last, "M") + 12  # a year without a purchase
        months = np.arange(first_month, end_month + 1)
        n_products = int(rng.integers(1, 4))
        products = rng.choice(np.array(PRODUCTS), n_products, replace=False)
        for product in products:
            balance = float(rng.lognormal(np.log(2_000.0 * n_days), 1.2))
            for month in months:
                if month >= lapsed_from:
                    balance *= float(rng.uniform(0.2, 0.7))  # withdrawing after lapsing
                else:
                    balance *= float(np.exp(rng.normal(0.003, 0.04)))
                month_end = (month + 1).astype("datetime64[D]") - 1
                rows.append((str(customer_id), str(month_end), str(product), f"{balance:.2f}"))
    frame = pd.DataFrame(rows, columns=["customer_id", "balance_date", "product", "balance"])
    bad = np.flatnonzero(rng.random(len(frame)) < bad_row_rate)
    for k, row in enumerate(bad):
        column, value = [
            ("balance", "-100.00"),
            ("balance", "1.000,50"),
            ("balance_date", "2024-13-01"),
            ("customer_id", ""),
        ][k % 4]
        frame.loc[row, column] = value
    _write(frame, out)
    return ExtraGenerateResult(out, len(frame), len(bad))
