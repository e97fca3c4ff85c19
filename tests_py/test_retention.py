"""Retention, churn and segment marts on real builds: values hand-computed on the fixture
data, CDNOW's monthly flows against an independent pandas computation of the active rule,
the status snapshot over a backfill (in order, then out of order), and a bad dbt var."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from conftest import CDNOW_AS_OF, CDNOW_CSV, FIXTURES, connect
from loyalty.dbt import run_dbt_in_process as run_dbt
from loyalty.errors import BuildError
from loyalty.load import load_raw

ACTIVE_WINDOW_DAYS = 365  # the default of dbt_project.yml
FLOW_COLUMNS = [
    "customers_start",
    "new_customers",
    "reactivated_customers",
    "retained_customers",
    "churned_customers",
    "customers_end",
]


# --- fixture data, as of 2024-03-31 (hand-computed) ---------------------------------------


def test_fixture_customer_months_follow_each_customer_from_cohort_to_as_of(fixture_warehouse: Path) -> None:
    # c4 buys 2023-11-05, 2023-12-20, 2024-03-01; c1 2024-01-10/20, 2024-02-15 (a refund on
    # 2024-01-25); c5 2024-02-29; c2 on the as-of date. Nobody is ever 365 days without a purchase.
    with connect(fixture_warehouse) as con:
        rows = con.execute(
            """select customer_id, strftime(activity_month, '%Y-%m'), lifecycle_status, n_purchases,
                      cast(revenue as double), is_active_at_month_start, is_active_in_month
               from marts.fct_customer_months order by 1, 2"""
        ).fetchall()
    assert rows == [
        ("c1", "2024-01", "new", 3, 27.0, False, True),  # 10 + 5 + 20 - 8 refund
        ("c1", "2024-02", "returning", 1, 0.0, True, True),  # the zero-amount purchase
        ("c1", "2024-03", "returning", 0, 0.0, True, True),
        ("c2", "2024-03", "new", 1, 50.0, False, True),
        ("c4", "2023-11", "new", 1, 30.0, False, True),
        ("c4", "2023-12", "returning", 1, 45.5, True, True),
        ("c4", "2024-01", "returning", 0, 0.0, True, True),
        ("c4", "2024-02", "returning", 0, 0.0, True, True),
        ("c4", "2024-03", "returning", 1, 12.25, True, True),
        ("c5", "2024-02", "new", 1, 99.99, False, True),
        ("c5", "2024-03", "returning", 0, 0.0, True, True),
    ]


def test_fixture_monthly_retention_flows(fixture_warehouse: Path) -> None:
    with connect(fixture_warehouse) as con:
        rows = con.execute(
            f"""select strftime(activity_month, '%Y-%m'), {", ".join(FLOW_COLUMNS)}, retention_rate,
                       churn_rate, month_end_date
                from marts.rpt_retention_rate_monthly order by activity_month"""
        ).fetchall()
    assert rows == [
        ("2023-11", 0, 1, 0, 0, 0, 1, None, None, dt.date(2023, 11, 30)),
        ("2023-12", 1, 0, 0, 1, 0, 1, 1.0, 0.0, dt.date(2023, 12, 31)),
        ("2024-01", 1, 1, 0, 1, 0, 2, 1.0, 0.0, dt.date(2024, 1, 31)),
        ("2024-02", 2, 1, 0, 2, 0, 3, 1.0, 0.0, dt.date(2024, 2, 29)),
        ("2024-03", 3, 1, 0, 3, 0, 4, 1.0, 0.0, dt.date(2024, 3, 31)),
    ]


def test_fixture_customer_statuses(fixture_warehouse: Path) -> None:
    # c1: gap 36 / 2 = 18 days, 45 days since: ratio 2.5, high risk, but first bought 81 days
    # ago: new. c4: gap 117 / 2 = 58.5, 30 days since: low; 3 purchase days: repeat. Top 20%
    # of 4 active customers by 12-month revenue = 1 customer: c5 (99.99). c1 and c2 were
    # acquired recently: potential; c4 regular. c5 bought once, 31 days ago, against the
    # population's gap (36 + 117) / (2 + 2) = 38.25 days: low.
    with connect(fixture_warehouse) as con:
        rows = con.execute(
            """select customer_id, is_churned, churn_risk, round(overdue_ratio, 4), lifecycle_stage,
                      value_tier, cast(revenue_last_12_months as double)
               from marts.dim_customers order by 1"""
        ).fetchall()
    assert rows == [
        ("c1", False, "high", 2.5, "new", "potential", 27.0),
        ("c2", False, "low", 0.0, "new", "potential", 50.0),
        ("c4", False, "low", round(30 / 58.5, 4), "repeat", "regular", 87.75),
        ("c5", False, "low", round(31 / ((36 + 117) / 4), 4), "new", "high_value", 99.99),
    ]


# --- CDNOW: the monthly flows against an independent computation ---------------------------


def expected_monthly_flows(purchase_days: pd.DataFrame, as_of: dt.date, window: int) -> pd.DataFrame:
    """The issue's definitions computed directly from purchase days, month by month."""
    first = purchase_days.groupby("customer_id")["date"].min()

    def active_on(day: pd.Timestamp) -> set:
        mask = (purchase_days["date"] <= day) & (purchase_days["date"] > day - pd.Timedelta(days=window))
        return set(purchase_days.loc[mask, "customer_id"])

    as_of_ts = pd.Timestamp(as_of)
    rows = []
    month = first.min().to_period("M")
    while month <= as_of_ts.to_period("M"):
        start_day = month.start_time.normalize() - pd.Timedelta(days=1)
        end_day = min(month.end_time.normalize(), as_of_ts)
        start, end = active_on(start_day), active_on(end_day)
        new = set(first[first.dt.to_period("M") == month].index)
        rows.append(
            {
                "activity_month": month.start_time.date(),
                "customers_start": len(start),
                "new_customers": len(new),
                "reactivated_customers": len((end - start) - new),
                "retained_customers": len(start & end),
                "churned_customers": len(start - end),
                "customers_end": len(end),
            }
        )
        month += 1
    return pd.DataFrame(rows)


def test_cdnow_monthly_flows_match_an_independent_computation(cdnow_warehouse: Path) -> None:
    raw = pd.read_csv(CDNOW_CSV, dtype={"customer_id": str}, parse_dates=["date"])
    purchase_days = raw.loc[raw["dollar_value"] >= 0, ["customer_id", "date"]].drop_duplicates()
    expected = expected_monthly_flows(purchase_days, dt.date.fromisoformat(CDNOW_AS_OF), ACTIVE_WINDOW_DAYS)
    with connect(cdnow_warehouse) as con:
        actual = con.execute(
            f"select activity_month, {', '.join(FLOW_COLUMNS)} from marts.rpt_retention_rate_monthly"
            " order by activity_month"
        ).df()
    actual["activity_month"] = actual["activity_month"].dt.date
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)
    # 18 months (1997-01 .. 1998-06); nobody churns before 1998 because everybody bought in 1997
    assert len(actual) == 18
    assert actual["new_customers"].sum() == 2357


def test_cdnow_identities_and_as_of_month_match_dim_customers(cdnow_warehouse: Path) -> None:
    with connect(cdnow_warehouse) as con:
        monthly = con.execute("select * from marts.rpt_retention_rate_monthly order by activity_month").df()
        active = con.execute("select count(*) from marts.dim_customers where not is_churned").fetchone()[0]
        stages = dict(con.execute("select lifecycle_stage, count(*) from marts.dim_customers group by 1").fetchall())
    assert (monthly["customers_start"] == monthly["retained_customers"] + monthly["churned_customers"]).all()
    assert (
        monthly["customers_end"]
        == monthly["retained_customers"] + monthly["new_customers"] + monthly["reactivated_customers"]
    ).all()
    assert (monthly["customers_start"].iloc[1:].to_numpy() == monthly["customers_end"].iloc[:-1].to_numpy()).all()
    assert monthly["customers_end"].iloc[-1] == active
    assert stages["churned"] == 2357 - active


# --- the status snapshot over a backfill ---------------------------------------------------


def snapshot_history(warehouse: Path) -> list[tuple]:
    with connect(warehouse) as con:
        return con.execute(
            """select customer_id, lifecycle_stage, value_tier, rfm_segment, is_churned,
                      cast(dbt_valid_from as date), cast(dbt_valid_to as date)
               from snapshots.customer_status_snapshot
               where customer_id in ('c1', 'c4') order by 1, 6"""
        ).fetchall()


@pytest.mark.slow
def test_status_snapshot_is_dated_by_as_of_and_ignores_out_of_order_runs(tmp_path: Path) -> None:
    """A backfill over three month ends, then a rerun of an older month.

    Hand-derived statuses (fixture data): as of 2024-01-31 the customers are c4 and c1. c4
    first bought 87 days ago (new) and has the top 12-month revenue of the 2 active customers
    (high_value); RFM over 2 customers gives c4 R1 F1 (lost) and c1 R2 F2 (hibernating); c1
    is new and potential. As of 2024-02-29 c4 is 116 days old with 2 purchase days (repeat),
    c5 is the top spender so c4 is regular, and c4 R1 F2 is still lost; c1 now has 3
    purchase days: R2 F3, at_risk. As of 2024-03-31 c4 is R3 F4 (loyal); c1 is unchanged.
    """
    warehouse = tmp_path / "history.duckdb"
    load_raw(warehouse, str(FIXTURES / "transactions.csv"), str(FIXTURES / "customers.csv"))

    def build(as_of: str) -> None:
        # the models the snapshot needs, the seed and the snapshot (their tests run in `make dbt-test`)
        run_dbt(
            [
                "build",
                "--select",
                "+customer_status_snapshot",
                "--resource-type",
                "model",
                "--resource-type",
                "seed",
                "--resource-type",
                "snapshot",
            ],
            warehouse,
            variables={"as_of_date": as_of},
        )

    for as_of in ("2024-01-31", "2024-02-29", "2024-03-31"):
        build(as_of)
    jan, feb, mar = dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31)
    expected = [
        ("c1", "new", "potential", "hibernating", False, jan, feb),
        ("c1", "new", "potential", "at_risk", False, feb, None),
        ("c4", "new", "high_value", "lost", False, jan, feb),
        ("c4", "repeat", "regular", "lost", False, feb, mar),
        ("c4", "repeat", "regular", "loyal", False, mar, None),
    ]
    assert snapshot_history(warehouse) == expected

    build("2024-02-29")  # out of order: the marts describe February again, the history does not move
    assert snapshot_history(warehouse) == expected
    with connect(warehouse) as con:
        assert con.execute("select as_of_date from intermediate.int_as_of_date").fetchone()[0] == feb


def test_active_window_shorter_than_a_month_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as failure:
        run_dbt(
            ["build", "--select", "fct_customer_months"], tmp_path / "w.duckdb", variables={"active_window_days": 20}
        )
    assert "active_window_days must be a number of at least 31, got 20." in str(failure.value)
