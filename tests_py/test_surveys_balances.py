"""Surveys (NPS, CSAT, CSI), balances (assets, tiers, big-customer decline) and subscriptions
(sBG) end to end: one `loyalty run` with all three optional inputs on small hand-made files,
every mart value checked by hand (subscriptions: against the published sBG figures).

The data (as of 2024-12-31, active window 60 days so that responses can be followed up):
customers a, b, c, d buy; e answers a survey but never buys; f and g only hold balances.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import connect, run_cli

SLOW_FIXTURES = {"warehouse"}  # a real run with surveys, balances and subscriptions (conftest: the `slow` tier)
TRANSACTIONS = """transaction_id,customer_id,transacted_at,amount
t1,a,2024-01-10,100
t2,a,2024-03-05,50
t3,a,2024-06-01,70
t4,b,2024-01-15,200
t5,b,2024-02-01,30
t6,c,2024-02-01,40
t7,d,2024-01-05,1000
t8,d,2024-12-01,500
"""

# r6-r12 are bad rows, one per reject reason; the comment must never reach the marts
SURVEYS = """response_id,customer_id,responded_at,nps_score,csat_score,attr_staff,attr_speed,attr_products,comment
r1,a,2024-01-20T10:00:00,10,5,10,1,,SECRET-COMMENT-1
r2,b,2024-01-20,3,2,,,,
r3,c,2024-02-10,6,,,,,
r4,d,2024-12-15,2,1,,,,very unhappy
r5,a,2024-06-10,8,,,,,
r6,a,2024-03-01,7.5,,,,,
r7,a,2024-03-01,11,,,,,
r8,b,2024-03-01,,6,,,,
r9,b,2024-03-01,,,,,,only a comment
r1,a,2024-03-02,9,,,,,
r11,c,2025-01-05,9,,,,,
r12,c,2024-03-01,9,,,0,,
r13,e,2024-05-05,,4,,,10,
"""

BALANCES = """customer_id,balance_date,product,balance
d,2023-12-31,savings,1500000
d,2024-12-31,savings,600000
d,2024-12-31,funds,500000
f,2023-12-31,savings,800000
f,2023-12-31,funds,200000
f,2024-12-31,savings,400000
a,2023-12-31,savings,5000
b,2023-12-31,funds,20000
b,2024-06-30,funds,25000
b,2024-12-15,funds,30000
b,2024-12-31,funds,32000
g,2024-12-31,savings,500
b,2024-06-30,funds,99
x,2024-05-31,savings,-5
x,2024-05-31,savings,"1.000,50"
x,,savings,10
,2024-05-31,savings,10
x,2025-01-31,savings,10
"""


def _regular_cohort_subscriptions(path: Path) -> Path:
    """FH07's "regular" cohort as subscriptions: 1,000 started 2017-01-01, lost per year as
    published (1000, 631, 468, 382, 326, 289, 262, 241), plus one bad row per reason."""
    alive = [1000, 631, 468, 382, 326, 289, 262, 241]
    lines = ["customer_id,started_at,ended_at,plan"]
    n = 0
    for year in range(1, 8):
        for _ in range(alive[year - 1] - alive[year]):
            n += 1
            lines.append(f"s{n},2017-01-01,{2016 + year}-06-30,basic")
    for _ in range(alive[7]):
        n += 1
        lines.append(f"s{n},2017-01-01,,basic")
    lines += [
        ",2017-01-01,,basic",  # missing_customer_id
        "b1,01/02/2017,,basic",  # invalid_started_at: not ISO
        "b2,2017-01-01,soon,basic",  # invalid_ended_at
        "b3,2017-05-01,2017-04-01,basic",  # ended_before_started
        "b4,2099-01-01,,basic",  # started_after_as_of
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("surveys_balances")
    (folder / "transactions.csv").write_text(TRANSACTIONS)
    (folder / "surveys.csv").write_text(SURVEYS)
    (folder / "balances.csv").write_text(BALANCES)
    subscriptions = _regular_cohort_subscriptions(folder / "subscriptions.csv")
    target = folder / "warehouse.duckdb"
    run_cli(
        "run",
        "--transactions",
        str(folder / "transactions.csv"),
        "--surveys",
        str(folder / "surveys.csv"),
        "--balances",
        str(folder / "balances.csv"),
        "--subscriptions",
        str(subscriptions),
        "--var",
        "clv_subscription_period=year",
        "--as-of",
        "2024-12-31",
        "--warehouse",
        str(target),
        "--var",
        "active_window_days=60",
        "--var",
        "big_customer_share=0.5",
        "--max-rejected-share",
        "1",
    )
    return target


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with connect(warehouse) as con:
        return con.execute(sql).fetchall()


def test_every_survey_row_is_valid_or_rejected_with_its_reason(warehouse: Path) -> None:
    assert _rows(warehouse, "select count(*) from raw.survey_responses") == [(13,)]
    valid = _rows(warehouse, "select response_id from marts.fct_survey_responses order by 1")
    assert [r[0] for r in valid] == ["r1", "r13", "r2", "r3", "r4", "r5"]
    rejected = dict(_rows(warehouse, "select source_row_number, reject_reason from marts.rejected_survey_responses"))
    assert rejected == {
        6: "unparseable_nps_score",
        7: "nps_score_out_of_range",
        8: "csat_score_out_of_range",
        9: "no_score",
        10: "duplicate_response_id",
        11: "after_as_of",
        12: "attribute_score_out_of_range",
    }
    # the first copy of r1 is kept
    assert _rows(warehouse, "select nps_score from marts.fct_survey_responses where response_id = 'r1'") == [(10,)]


def test_survey_comments_never_reach_staging_or_marts(warehouse: Path) -> None:
    with connect(warehouse) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema not in ('raw') and column_name ilike '%comment%'"
        ).fetchall()
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in ('marts', 'staging')"
        ).fetchall()
        hits = []
        for schema, table in tables:
            text = con.execute(f'select cast(list(t) as varchar) from "{schema}"."{table}" as t').fetchone()[0]
            if text and "SECRET-COMMENT" in text:
                hits.append(table)
    assert columns == []
    assert hits == []


def test_nps_monthly_by_hand(warehouse: Path) -> None:
    rows = _rows(
        warehouse,
        """
        select response_month, responses, nps_responses, promoters, passives, detractors, nps,
               nps_margin_of_error, csat, csi
        from marts.rpt_nps_monthly order by response_month""",
    )
    months = {r[0]: r[1:] for r in rows}
    assert list(months) == [
        dt.date(2024, 1, 1),
        dt.date(2024, 2, 1),
        dt.date(2024, 5, 1),
        dt.date(2024, 6, 1),
        dt.date(2024, 12, 1),
    ]
    jan = months[dt.date(2024, 1, 1)]
    # r1 promoter (10), r2 detractor (3): NPS 0; p = d = 1/2, variance (1 - 0) / 2, half-width 1.96 * 100 * sqrt(0.5)
    assert jan[:5] == (2, 2, 1, 0, 1)
    assert jan[5] == pytest.approx(0.0)
    assert jan[6] == pytest.approx(1.96 * 100 * math.sqrt(0.5))
    # CSAT 5 and 2: one of two satisfied; CSI of r1: staff 10 -> 100 (weight 0.3), speed 1 -> 0 (0.2): 30 / 0.5
    assert jan[7] == pytest.approx(0.5)
    assert jan[8] == pytest.approx(60.0)
    feb = months[dt.date(2024, 2, 1)]
    assert feb[:6] == (1, 1, 0, 0, 1, -100.0) and feb[6] == pytest.approx(0.0)
    may = months[dt.date(2024, 5, 1)]  # r13: CSAT 4 and products 10/10 only
    assert may[1] == 0 and may[5] is None and may[7] == pytest.approx(1.0) and may[8] == pytest.approx(100.0)
    assert months[dt.date(2024, 6, 1)][1:6] == (1, 0, 1, 0, 0.0)


def test_behaviour_after_the_response_by_nps_class(warehouse: Path) -> None:
    rows = _rows(
        warehouse,
        """
        select nps_class, responses, followed_up_responses, churned_after, churn_rate_after, avg_revenue_after
        from marts.rpt_nps_class_behaviour order by class_order""",
    )
    # promoter r1 (a, Jan 20): a buys 50 on Mar 5, inside the 60 days. passive r5 (a, Jun 10): nothing by Aug 9.
    # detractors: r2 (b) buys 30 on Feb 1; r3 (c) nothing by Apr 10; r4 (d, Dec 15) not followed up yet.
    assert rows == [
        ("promoter", 1, 1, 0, 0.0, Decimal("50.0000")),
        ("passive", 1, 1, 1, 1.0, Decimal("0.0000")),
        ("detractor", 3, 2, 1, 0.5, Decimal("15.0000")),
    ]


def test_dim_customers_latest_nps_and_csat(warehouse: Path) -> None:
    rows = _rows(
        warehouse,
        """
        select customer_id, latest_nps_class, latest_nps_score, latest_nps_date, latest_csat_score, latest_csat_date
        from marts.dim_customers order by customer_id""",
    )
    assert rows == [
        ("a", "passive", 8, dt.date(2024, 6, 10), 5, dt.date(2024, 1, 20)),
        ("b", "detractor", 3, dt.date(2024, 1, 20), 2, dt.date(2024, 1, 20)),
        ("c", "detractor", 6, dt.date(2024, 2, 10), None, None),
        ("d", "detractor", 2, dt.date(2024, 12, 15), 1, dt.date(2024, 12, 15)),
    ]


def test_high_value_detractor_alert(warehouse: Path) -> None:
    # d is the only active customer (60-day window), so high value by purchases, and holds 1.1M
    rows = _rows(
        warehouse,
        """
        select customer_id, value_tier, asset_tier, latest_nps_score, total_assets
        from marts.rpt_high_value_detractor_alerts""",
    )
    assert rows == [("d", "high_value", "high_net_worth", 2, Decimal("1100000.0000"))]


def test_every_balance_row_is_valid_or_rejected_with_its_reason(warehouse: Path) -> None:
    assert _rows(warehouse, "select count(*) from raw.balances") == [(18,)]
    rejected = dict(_rows(warehouse, "select source_row_number, reject_reason from marts.rejected_balances"))
    assert rejected == {
        13: "duplicate_balance",
        14: "negative_balance",
        15: "unparseable_balance",
        16: "missing_balance_date",
        17: "missing_customer_id",
        18: "after_as_of",
    }


def test_month_end_assets_and_tiers(warehouse: Path) -> None:
    b_months = _rows(
        warehouse,
        """
        select balance_month, month_end_balance from marts.fct_customer_balances_monthly
        where customer_id = 'b' order by 1""",
    )
    assert b_months == [
        (dt.date(2023, 12, 1), Decimal("20000.0000")),
        (dt.date(2024, 6, 1), Decimal("25000.0000")),
        (dt.date(2024, 12, 1), Decimal("32000.0000")),
    ]
    tiers = _rows(
        warehouse,
        """
        select customer_id, asset_tier, total_assets, n_products_held, current_balance_month
        from marts.dim_customer_assets order by 1""",
    )
    december = dt.date(2024, 12, 1)
    assert tiers == [
        ("a", "no_assets", Decimal("0.0000"), 0, december),
        ("b", "regular", Decimal("32000.0000"), 1, december),
        ("d", "high_net_worth", Decimal("1100000.0000"), 2, december),
        ("f", "regular", Decimal("400000.0000"), 1, december),
        ("g", "potential", Decimal("500.0000"), 1, december),
    ]


def test_product_holding_against_churn(warehouse: Path) -> None:
    # held in Dec 2023: d, a, b one product each (a holds nothing in Dec 2024), f two
    rows = _rows(
        warehouse,
        """
        select products_held, customers, churned_customers, churn_rate from marts.rpt_product_holding_churn
        order by min_products""",
    )
    assert rows[0][:3] == ("1", 3, 1) and rows[0][3] == pytest.approx(1 / 3)
    assert rows[1:] == [("2", 1, 0, 0.0), ("3", 0, 0, None), ("4+", 0, 0, None)]


def test_big_customer_balance_decline(warehouse: Path) -> None:
    # four customers with assets in Dec 2023; the top half (d 1.5M, f 1.0M) are big; f fell 60%, d 26.7%
    assert _rows(
        warehouse,
        """
        select customer_id, assets_start, assets_end, round(assets_change_pct, 6), asset_rank
        from marts.rpt_big_customer_balance_decline""",
    ) == [("f", Decimal("1000000.0000"), Decimal("400000.0000"), -60.0, 2)]
    assert _rows(
        warehouse,
        """
        select window_start_month, window_end_month, customers_with_assets, big_customers,
               big_customers_with_decline, decline_share, literature_decline_share
        from marts.rpt_big_customer_balance_decline_yearly""",
    ) == [(dt.date(2023, 12, 1), dt.date(2024, 12, 1), 4, 2, 1, 0.5, 0.315)]


def test_unknown_attribute_column_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TRANSACTIONS)
    (tmp_path / "s.csv").write_text("response_id,customer_id,responded_at,attr_parking\nr1,a,2024-01-01,5\n")
    proc = run_cli(
        "run",
        "--transactions",
        str(tmp_path / "t.csv"),
        "--surveys",
        str(tmp_path / "s.csv"),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        check=False,
    )
    assert proc.returncode == 2
    assert "attribute column attr_parking" in proc.stderr and "csi_weights" in proc.stderr
    assert not list(tmp_path.glob("w.duckdb*"))  # refused before the run started (check_extra_inputs)


def test_missing_required_balance_column_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TRANSACTIONS)
    (tmp_path / "b.csv").write_text("customer_id,balance\na,5\n")
    proc = run_cli(
        "run",
        "--transactions",
        str(tmp_path / "t.csv"),
        "--balances",
        str(tmp_path / "b.csv"),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("is missing the required column balance_date.")
    assert not list(tmp_path.glob("w.duckdb*"))  # refused before the run started (check_extra_inputs)


def test_a_lost_survey_or_balance_row_fails_the_reconciliation_in_words(warehouse: Path, tmp_path: Path) -> None:
    """The generic test rows_reconcile on each raw source (tests/generic/): a valid row that
    went missing fails it, and the failure says what it means (the test's description)."""
    import shutil

    import duckdb

    from loyalty.dbt import run_dbt_in_process as run_dbt
    from loyalty.errors import BuildError

    copy = tmp_path / "tampered.duckdb"
    shutil.copyfile(warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute("delete from marts.fct_survey_responses where response_id = 'r13'")
        con.execute("delete from intermediate.int_balances_validated where reject_reason is null and customer_id = 'b'")
    finally:
        con.close()
    with pytest.raises(BuildError) as caught:
        run_dbt(["test", "--select", "assert_survey_rows_reconcile", "assert_balance_rows_reconcile"], copy)
    message = str(caught.value)
    assert (
        "test assert_survey_rows_reconcile failed: 1 rows break the check: Nothing is lost: every raw survey "
        "row is either in fct_survey_responses or in rejected_survey_responses, never both, and the counts "
        "add up exactly"
    ) in message
    assert "test assert_balance_rows_reconcile failed: 1 rows break the check: Nothing is lost" in message


def test_subscriptions_fit_sbg_and_build_the_survival_marts(warehouse: Path) -> None:
    """FH07's regular cohort (subscriptions.csv of the module's run, periods of a year): the sBG
    fit reproduces the published estimates and every input row is a subscriber or rejected."""
    with connect(warehouse) as con:
        fit = con.execute(
            "select param_alpha, param_beta, n_customers, is_converged, time_unit from marts.rpt_clv_model_fits"
            " where model_name = 'sbg'"
        ).fetchall()
        survival = con.execute(
            "select period_number, n_active, observed_survival, projected_survival"
            " from marts.rpt_subscription_survival where cohort_start_date = date '2017-01-01' order by 1"
        ).fetchall()
        reasons = con.execute("select rejection_reason from marts.rejected_subscriptions order by 1").fetchall()
        active = con.execute(
            "select count(*), min(completed_periods), max(completed_periods),"
            " count(expected_remaining_periods), min(discounted_expected_residual_lifetime)"
            " from marts.rpt_subscriber_lifetimes"
        ).fetchone()
    assert len(fit) == 1
    alpha, beta, n, converged, unit = fit[0]
    assert converged and unit == "year" and n == 1000
    assert alpha == pytest.approx(0.704, abs=5e-4) and beta == pytest.approx(1.182, abs=5e-4)
    assert [row[1] for row in survival] == [1000, 631, 468, 382, 326, 289, 262, 241]
    assert all(abs(obs - proj) < 0.02 for _, _, obs, proj in survival)
    # every input row is either a subscriber in the marts or rejected with its reason
    assert sorted(r[0] for r in reasons) == sorted(
        ["missing_customer_id", "invalid_started_at", "invalid_ended_at", "ended_before_started", "started_after_as_of"]
    )
    # 241 active after 7 whole years; alpha < 1, so the mean remaining lifetime does not exist (null)
    assert active[:4] == (241, 7, 7, 0)
    assert active[4] > 1.0
