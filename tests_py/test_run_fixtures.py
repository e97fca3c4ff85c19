"""The pipeline on tests_py/fixtures: every kind of bad row, hand-checked customers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from conftest import connect


def test_default_as_of_is_latest_valid_date_not_the_2099_row(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        as_of = con.execute("select distinct as_of_date from marts.dim_customers").fetchall()
    assert as_of == [(dt.date(2024, 3, 31),)]


def test_every_raw_row_is_valid_or_rejected_with_its_reason(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        raw = con.execute("select count(*) from raw.transactions").fetchone()[0]
        valid = con.execute("select count(*) from marts.fct_transactions").fetchone()[0]
        reasons = dict(
            con.execute(
                "select transaction_id, reject_reason from marts.rejected_transactions where transaction_id is not null"
            ).fetchall()
        )
        missing_id = con.execute(
            "select reject_reason, source_row_number from marts.rejected_transactions where transaction_id is null"
        ).fetchall()
        kept_t003 = con.execute("select amount from marts.fct_transactions where transaction_id = 't003'").fetchall()
    assert (raw, valid) == (19, 11)
    assert reasons == {
        "t012": "missing_customer_id",
        "t013": "missing_transacted_at",
        "t014": "unparseable_transacted_at",
        "t015": "missing_amount",
        "t016": "unparseable_amount",
        "t003": "duplicate_transaction_id",
        "t017": "after_as_of",
    }
    assert missing_id == [("missing_transaction_id", 19)]
    # the first copy of the duplicated id is the one kept
    assert kept_t003 == [(Decimal("20.0000"),)]


def test_rejected_rows_keep_their_values_as_given(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        row = con.execute(
            "select transacted_at, amount, source_row_number from marts.rejected_transactions"
            " where transaction_id = 't016'"
        ).fetchone()
    assert row == ("2024-01-05", "12,50 EUR", 16)


def test_dim_customers_hand_computed_customer_c4(fixture_warehouse: Path) -> None:
    # c4 buys on 2023-11-05 (30), 2023-12-20 (45.50), 2024-03-01 (12.25); as of 2024-03-31
    with connect(fixture_warehouse) as con:
        row = con.execute(
            """select frequency, recency_days, tenure_days, days_since_last_purchase, monetary_value,
                      total_revenue, n_categories, cohort_month, country, acquisition_channel, signup_date
               from marts.dim_customers where customer_id = 'c4'"""
        ).fetchone()
    assert row == (
        2,
        117,
        147,
        30,
        Decimal("28.8750"),
        Decimal("87.7500"),
        2,
        dt.date(2023, 11, 1),
        "US",
        "paid_search",
        None,
    )


def test_refund_only_and_never_buying_customers_are_not_in_dim_customers(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        ids = [r[0] for r in con.execute("select customer_id from marts.dim_customers order by 1").fetchall()]
        c1 = con.execute(
            "select country, acquisition_channel, signup_date, frequency, total_revenue from marts.dim_customers"
            " where customer_id = 'c1'"
        ).fetchone()
    assert ids == ["c1", "c2", "c4", "c5"]
    # the customers file lists c1 twice: the first row wins
    assert c1 == ("DE", "email", dt.date(2023, 12, 24), 2, Decimal("27.0000"))


def test_personal_data_never_reaches_the_marts(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_schema in ('marts', 'staging',"
                " 'intermediate')"
            ).fetchall()
        }
        found = con.execute(
            "select count(*) from marts.dim_customers where country like '%@%' or acquisition_channel like '%@%'"
        ).fetchone()[0]
    assert not columns & {"email", "full_name"}
    assert found == 0


def test_cohort_retention_has_zero_activity_months_and_no_month_after_as_of(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        rows = con.execute(
            """select months_since_first_purchase, active_customers, retention_rate, revenue, activity_month
               from marts.rpt_cohort_retention_monthly where cohort_month = '2023-11-01' order by 1"""
        ).fetchall()
    assert rows == [
        (0, 1, 1.0, Decimal("30.0000"), dt.date(2023, 11, 1)),
        (1, 1, 1.0, Decimal("45.5000"), dt.date(2023, 12, 1)),
        (2, 0, 0.0, Decimal("0.0000"), dt.date(2024, 1, 1)),
        (3, 0, 0.0, Decimal("0.0000"), dt.date(2024, 2, 1)),
        (4, 1, 1.0, Decimal("12.2500"), dt.date(2024, 3, 1)),
    ]
