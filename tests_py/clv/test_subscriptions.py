"""Subscriptions -> whole-period lifetimes, survival by cohort and per-subscriber sBG scores,
on small examples worked by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loyalty.clv import sbg, subscriptions
from loyalty.clv.result import FitResult


def test_whole_months_count_only_completed_months() -> None:
    start = pd.Series(pd.to_datetime(["2024-01-31", "2024-01-15", "2024-01-15", "2023-03-01"]))
    end = pd.Series(pd.to_datetime(["2024-02-29", "2024-02-14", "2024-02-15", "2024-03-01"]))
    # Jan 31 -> Feb 29: the 31st has not come round, 0; Jan 15 -> Feb 14: 0; -> Feb 15: 1; a year: 12
    assert subscriptions.whole_periods(start, end, "month").tolist() == [0, 0, 1, 12]
    assert subscriptions.whole_periods(start, end, "year").tolist() == [0, 0, 0, 1]
    assert subscriptions.whole_periods(start, end, "week").tolist() == [4, 4, 4, 52]


def test_lifetimes_churn_and_censoring_by_hand() -> None:
    subs = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "started_at": pd.to_datetime(["2024-01-10", "2024-01-20", "2024-02-05", "2024-02-05"]),
            "ended_at": pd.to_datetime(["2024-03-15", None, "2024-02-20", "2024-07-01"]),  # type: ignore[arg-type]  # pandas-stubs rejects None (NaT) in a list of dates
        }
    )
    life = subscriptions.subscription_lifetimes(subs, dt.date(2024, 5, 1), "month")
    assert life["completed_periods"].tolist() == [2, 3, 0, 2]  # d ends after the as-of date: active
    assert life["is_churned"].tolist() == [True, False, True, False]
    assert [str(c) for c in life["cohort_start"]] == ["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01"]
    assert life["periods_observable"].tolist() == [3, 3, 2, 2]


def test_survival_by_cohort_counts_only_subscribers_observable_that_long() -> None:
    subs = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "started_at": pd.to_datetime(["2024-01-10", "2024-01-20", "2024-02-05", "2024-02-05"]),
            "ended_at": pd.to_datetime(["2024-03-15", None, "2024-02-20", None]),  # type: ignore[arg-type]  # pandas-stubs rejects None (NaT) in a list of dates
        }
    )
    life = subscriptions.subscription_lifetimes(subs, dt.date(2024, 5, 1), "month")
    fit = FitResult("sbg", {"alpha": 2.0, "beta": 3.0}, "month", -1.0, 4, True, "given")
    table = subscriptions.survival_by_cohort(life, fit)
    jan = table[table["cohort_start"] == dt.date(2024, 1, 1)].set_index("period_number")
    # January: a (2 whole months, churned) and b (active, 3 months): alive after 0..3 = 2, 2, 2, 1
    assert jan["n_active"].tolist() == [2, 2, 2, 1]
    assert jan["observed_survival"].tolist() == [1.0, 1.0, 1.0, 0.5]
    assert jan.loc[3, "observed_retention"] == 0.5
    # sBG alpha=2, beta=3: S(1) = 0.6, S(2) = 0.4, r_2 = 4/6
    assert jan.loc[1, "projected_survival"] == pytest.approx(0.6)
    assert jan.loc[2, "projected_retention"] == pytest.approx(4 / 6)
    feb = table[table["cohort_start"] == dt.date(2024, 2, 1)].set_index("period_number")
    assert feb["n_observable"].tolist() == [2, 2, 2]
    assert feb["n_active"].tolist() == [2, 1, 1]


def test_subscriber_scores_by_hand() -> None:
    life = pd.DataFrame({"customer_id": ["a", "b"], "completed_periods": [0, 4], "is_churned": [False, False]})
    fit = FitResult("sbg", {"alpha": 2.0, "beta": 3.0}, "month", -1.0, 2, True, "given")
    scores = subscriptions.subscriber_scores(life, fit, 0.01)
    assert scores["expected_remaining_periods"].tolist() == pytest.approx([3.0, 7.0])
    assert scores["derl"].tolist() == pytest.approx(sbg.derl(2.0, 3.0, [0, 4], 0.01).tolist())


def test_fit_on_lifetimes_rebuilt_from_the_published_regular_cohort() -> None:
    # 1,000 subscribers started on 2000-01-01, lost each year as in FH07's "regular" cohort
    alive = [1000, 631, 468, 382, 326, 289, 262, 241]
    rows: list[tuple[dt.date | None, bool]] = []
    for year in range(1, 8):
        rows += [(dt.date(1999 + year, 6, 30), True)] * (alive[year - 1] - alive[year])
    rows += [(None, False)] * alive[7]
    subs = pd.DataFrame(
        {
            "customer_id": [str(i) for i in range(1000)],
            "started_at": pd.to_datetime(["2000-01-01"] * 1000),
            "ended_at": pd.to_datetime([r[0] for r in rows]),  # type: ignore[arg-type]  # pandas-stubs rejects None (NaT) in a list of dates
        }
    )
    life = subscriptions.subscription_lifetimes(subs, dt.date(2007, 1, 1), "year")
    fit = subscriptions.fit_lifetimes(life, "year")
    assert fit.params["alpha"] == pytest.approx(0.704, abs=5e-4)
    assert fit.params["beta"] == pytest.approx(1.182, abs=5e-4)
    table = subscriptions.survival_by_cohort(life, fit)
    assert (table["n_active"] == np.array(alive)).all()


def test_rate_per_period() -> None:
    assert subscriptions.rate_per_period(0.10, "year") == pytest.approx(0.10)
    assert (1 + subscriptions.rate_per_period(0.10, "month")) ** 12 == pytest.approx(1.10)


def test_loader_rejects_each_bad_row_with_its_reason(tmp_path: Path) -> None:
    from loyalty.load_subscriptions import read_subscriptions

    path = tmp_path / "subs.csv"
    path.write_text(
        "customer_id,started_at,ended_at,plan\n"
        "a,2024-01-01,,gold\n"
        ",2024-01-01,,gold\n"
        "b,2024-13-01,,gold\n"
        "c,2024-01-01,31/01/2024,gold\n"
        "d,2024-02-01,2024-01-01,gold\n"
        "e,2024-06-01,,gold\n"
        "f,2024-01-05T10:00:00,2024-03-05,\n"
    )
    valid, rejected = read_subscriptions(str(path), dt.date(2024, 5, 1))
    assert valid["customer_id"].tolist() == ["a", "f"]
    assert valid["started_at"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-05")]
    assert rejected["rejection_reason"].tolist() == [
        "missing_customer_id",
        "invalid_started_at",
        "invalid_ended_at",
        "ended_before_started",
        "started_after_as_of",
    ]
    assert rejected["row_number"].tolist() == [2, 3, 4, 5, 6]
    assert len(valid) + len(rejected) == 7


def test_loader_names_a_missing_column_in_one_sentence(tmp_path: Path) -> None:
    from loyalty.errors import InputError
    from loyalty.load_subscriptions import read_subscriptions

    path = tmp_path / "subs.csv"
    path.write_text("customer_id,started_at\na,2024-01-01\n")
    with pytest.raises(InputError, match=r"lacks the required column\(s\) ended_at\.$"):
        read_subscriptions(str(path), dt.date(2024, 5, 1))
