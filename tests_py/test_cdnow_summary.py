"""dim_customers on the public CDNOW sample agrees with lifetimes' day-grain summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, connect

EXPECTED = json.loads((FIXTURES / "cdnow_lifetimes_summary.json").read_text())


def test_customer_count_and_summary_sums_match_lifetimes(cdnow_warehouse: Path) -> None:
    with connect(cdnow_warehouse) as con:
        n, freq, rec, tenure, monetary, repeat = con.execute(  # type: ignore[misc]  # fetchone() is None only without a row; the unpacking then fails the test
            """
            select count(*), sum(frequency), sum(recency_days), sum(tenure_days),
                   sum(cast(monetary_value as double)), count(case when frequency > 0 then 1 end)
            from marts.dim_customers
            """
        ).fetchone()
    assert n == EXPECTED["customers"]
    assert freq == EXPECTED["sum_frequency"]
    assert rec == EXPECTED["sum_recency"]
    assert tenure == EXPECTED["sum_T"]
    assert repeat == EXPECTED["repeat_customers"]
    # monetary_value is stored with 4 decimals: 2,357 roundings move the sum by < 0.5e-4 each
    assert monetary == pytest.approx(EXPECTED["sum_monetary_value"], abs=2357 * 0.5e-4)


def test_customer_1_matches_lifetimes_row(cdnow_warehouse: Path) -> None:
    with connect(cdnow_warehouse) as con:
        row = con.execute(
            "select frequency, recency_days, tenure_days, monetary_value from marts.dim_customers"
            " where customer_id = '1'"
        ).fetchone()
    expected = EXPECTED["customer_1"]
    assert row[:3] == (expected["frequency"], expected["recency"], expected["T"])
    assert float(row[3]) == pytest.approx(expected["monetary_value"], abs=1e-4)


def test_cdnow_input_reconciles_and_cohorts_cover_first_quarter(cdnow_warehouse: Path) -> None:
    with connect(cdnow_warehouse) as con:
        raw = con.execute("select count(*) from raw.transactions").fetchone()[0]
        valid = con.execute("select count(*) from marts.fct_transactions").fetchone()[0]
        rejected = con.execute("select count(*) from marts.rejected_transactions").fetchone()[0]
        cohorts = con.execute(
            "select cohort_month, max(months_since_first_purchase), max(cohort_size)"
            " from marts.rpt_cohort_retention_monthly group by 1 order by 1"
        ).fetchall()
    assert (raw, valid, rejected) == (6919, 6919, 0)
    # CDNOW customers all made their first purchase in 1997 Q1; followed to June 1998
    assert [(str(c), m) for c, m, _ in cohorts] == [("1997-01-01", 17), ("1997-02-01", 16), ("1997-03-01", 15)]
    assert sum(size for _, _, size in cohorts) == 2357
