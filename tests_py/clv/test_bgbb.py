"""BG/BB (Fader, Hardie & Shang 2010): the published donations fit, the likelihood by hand,
and the predictions against their closed forms / a simulation."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from loyalty.clv import bgbb

DONATIONS = Path(__file__).resolve().parents[1] / "fixtures" / "published" / "bgbb_donations.csv"
PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def test_bgbb_fit_on_the_donations_data_reproduces_the_papers_parameters_and_log_likelihood() -> None:
    data = pd.read_csv(DONATIONS)
    fit = bgbb.fit_bgbb(data["frequency"], data["recency"], data["periods"], data["weights"])
    assert fit.converged, fit.message
    for name, value in PUBLISHED.items():
        assert fit.params[name] == pytest.approx(value, abs=5e-4), name
    assert fit.log_likelihood == pytest.approx(-33225.6, abs=0.05)
    assert fit.n_customers == 11104


def test_bgbb_likelihood_by_hand_for_one_opportunity() -> None:
    # n = 1, x = 0: alive and no purchase, or gone before opportunity 1
    # L = B(a, b+1)/B(a, b) * B(g, d+1)/B(g, d) + B(g+1, d)/B(g, d) = b/(a+b) * d/(g+d) + g/(g+d)
    params = {"alpha": 1.0, "beta": 2.0, "gamma": 1.0, "delta": 3.0}
    by_hand = 2 / 3 * 3 / 4 + 1 / 4
    assert bgbb.log_likelihood_rows(params, np.array([0.0]), np.array([0.0]), np.array([1.0]))[0] == pytest.approx(
        math.log(by_hand), rel=1e-12
    )
    # n = 1, x = 1: alive and bought, B(a+1, b)/B(a, b) * B(g, d+1)/B(g, d) = 1/3 * 3/4
    assert bgbb.log_likelihood_rows(params, np.array([1.0]), np.array([1.0]), np.array([1.0]))[0] == pytest.approx(
        math.log(0.25), rel=1e-12
    )


def test_bgbb_expected_transactions_equals_the_papers_closed_form() -> None:
    params = {"alpha": 1.2, "beta": 0.75, "gamma": 1.6, "delta": 2.8}  # gamma > 1 for eq. 13 as printed
    a, b, g, d = params.values()
    x, tx, n, future = np.array([0.0, 2, 6]), np.array([0.0, 3, 6]), np.array([6.0, 6, 6]), 5
    ll = np.exp(bgbb.log_likelihood_rows(params, x, tx, n))
    eq13 = (
        np.exp(special.betaln(a + x + 1, b + n - x) - special.betaln(a, b))
        * d
        / (g - 1)
        * np.exp(special.gammaln(g + d) - special.gammaln(1 + d))
        * (
            np.exp(special.gammaln(1 + d + n) - special.gammaln(g + d + n))
            - np.exp(special.gammaln(1 + d + n + future) - special.gammaln(g + d + n + future))
        )
    ) / ll
    assert bgbb.expected_transactions(params, future, x, tx, n) == pytest.approx(eq13, rel=1e-10)


def test_bgbb_p_alive_against_a_simulation() -> None:
    params = PUBLISHED
    rng = np.random.default_rng(11)
    m = 400_000
    p = rng.beta(params["alpha"], params["beta"], m)
    theta = rng.beta(params["gamma"], params["delta"], m)
    # alive at opportunity t means survived t dropout draws; simulate 6 opportunities + the next one
    survive = rng.random((m, 7)) >= theta[:, None]
    alive = np.cumprod(survive, axis=1).astype(bool)  # alive[:, t-1] = alive at opportunity t
    buys = alive[:, :6] & (rng.random((m, 6)) < p[:, None])
    x = buys.sum(axis=1)
    last = np.where(x > 0, 6 - np.argmax(buys[:, ::-1], axis=1), 0)
    pattern = (x == 1) & (last == 1)
    simulated = alive[pattern, 6].mean()
    assert bgbb.p_alive(params, 1, 1, 6)[0] == pytest.approx(simulated, abs=0.01)


def test_bgbb_rejects_inconsistent_summaries() -> None:
    with pytest.raises(ValueError, match="recency"):
        bgbb.fit_bgbb([2], [1], [6])


# --------------------------------------------------------------------------- opportunity summary
def test_last_complete_period_end_is_the_as_of_date_only_when_it_closes_its_period() -> None:
    assert bgbb.last_complete_period_end(dt.date(2024, 8, 15), "quarter") == dt.date(2024, 6, 30)
    assert bgbb.last_complete_period_end(dt.date(2024, 9, 30), "quarter") == dt.date(2024, 9, 30)
    assert bgbb.last_complete_period_end(dt.date(2024, 8, 15), "month") == dt.date(2024, 7, 31)
    assert bgbb.last_complete_period_end(dt.date(2024, 2, 29), "month") == dt.date(2024, 2, 29)
    assert bgbb.last_complete_period_end(dt.date(2024, 8, 15), "year") == dt.date(2023, 12, 31)
    assert bgbb.last_complete_period_end(dt.date(2024, 12, 31), "year") == dt.date(2024, 12, 31)


def test_opportunity_summary_counts_whole_calendar_periods_after_the_first_purchase() -> None:
    # quarters, as of 2024-08-15: the last complete quarter is 2024 Q2 (Q3 is not seen)
    days = pd.DataFrame(
        [
            ("a", "2023-02-10"),  # Q1 2023: the start
            ("a", "2023-03-01"),  # same quarter as the first purchase: not a repeat
            ("a", "2023-07-04"),  # opportunity 2 (Q3 2023)
            ("a", "2023-08-01"),  # same opportunity again
            ("a", "2024-01-05"),  # opportunity 4 (Q1 2024)
            ("a", "2024-07-20"),  # Q3 2024, incomplete: not seen
            ("b", "2024-05-01"),  # starts in the last complete quarter: no opportunity yet
            ("c", "2023-12-31"),  # Q4 2023
            ("c", "2024-06-30"),  # opportunity 2 (Q2 2024), its last day
            ("d", "2024-08-01"),  # starts in the incomplete quarter
            ("e", "2022-11-11"),  # Q4 2022, never again: 6 opportunities without a purchase
        ],
        columns=["customer_id", "transaction_date"],
    )
    days["transaction_date"] = pd.to_datetime(days["transaction_date"]).dt.date
    summary = bgbb.opportunity_summary(days, dt.date(2024, 8, 15), "quarter")
    assert summary.to_dict("records") == [
        {"customer_id": "a", "frequency": 2, "recency": 4, "n_periods": 5},
        {"customer_id": "b", "frequency": 0, "recency": 0, "n_periods": 0},
        {"customer_id": "c", "frequency": 1, "recency": 2, "n_periods": 2},
        {"customer_id": "d", "frequency": 0, "recency": 0, "n_periods": 0},
        {"customer_id": "e", "frequency": 0, "recency": 0, "n_periods": 6},
    ]
    # years, as of the same date: 2023 is the last complete year
    yearly = {
        row["customer_id"]: (row["frequency"], row["recency"], row["n_periods"])
        for row in bgbb.opportunity_summary(days, dt.date(2024, 8, 15), "year").to_dict("records")
    }
    assert yearly["a"] == (0, 0, 0)  # first purchase in 2023: no whole year after it yet
    assert yearly["e"] == (0, 0, 1)


def test_opportunity_summary_rejects_an_unknown_period() -> None:
    days = pd.DataFrame({"customer_id": ["a"], "transaction_date": [dt.date(2024, 1, 1)]})
    with pytest.raises(ValueError, match="period must be one of month, quarter, year"):
        bgbb.opportunity_summary(days, dt.date(2024, 8, 15), "week")


def test_a_model_fits_table_from_before_bg_bb_lacks_only_param_delta() -> None:
    from loyalty.clv.tables import MODEL_FITS_NAMES, missing_model_fits_columns

    before_bg_bb = [name for name in MODEL_FITS_NAMES if name != "param_delta"]
    assert missing_model_fits_columns(before_bg_bb) == ["param_delta double"]
    assert missing_model_fits_columns([n.upper() for n in MODEL_FITS_NAMES]) == []
