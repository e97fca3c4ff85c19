"""Data preparation: compression of summaries, purchase-day summaries, holdout counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loyalty.clv import ClvWarning, holdout_validation, summarize_transactions
from loyalty.clv.compress import compress_rows


def test_compression_is_np_unique_on_rows() -> None:
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, 20_000).astype(float)
    t_obs = rng.integers(0, 60, 20_000) / 7
    tx = np.where(x > 0, np.floor(rng.random(20_000) * t_obs * 7) / 7, 0.0)
    comp = compress_rows(x, tx, t_obs)
    rows = np.column_stack([x, tx, t_obs])
    unique, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(np.column_stack(comp.columns), unique)
    np.testing.assert_array_equal(comp.inverse, inverse.ravel())
    np.testing.assert_array_equal(comp.weights, counts)
    for values, codes, column in zip(comp.values, comp.codes, comp.columns, strict=True):
        np.testing.assert_array_equal(values[codes], column)


def test_compression_of_continuous_columns_and_weights() -> None:
    """Many distinct values per column force the re-ranking path of the row key."""
    rng = np.random.default_rng(1)
    a, b, c = (rng.random(3000) for _ in range(3))
    a[1::2], b[1::2], c[1::2] = a[::2], b[::2], c[::2]  # every row appears twice
    weights = rng.integers(1, 5, 3000).astype(float)
    comp = compress_rows(a, b, c, weights=weights)
    unique, inverse = np.unique(np.column_stack([a, b, c]), axis=0, return_inverse=True)
    assert comp.n_rows == 1500
    np.testing.assert_array_equal(np.column_stack(comp.columns), unique)
    np.testing.assert_array_equal(comp.weights, np.bincount(inverse.ravel(), weights=weights))


def transactions(rows: list[tuple[int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "transaction_date", "amount"])


def test_summary_counts_purchase_days_and_averages_repeat_day_spend() -> None:
    frame = transactions(
        [
            (1, "2024-01-01", 10.0),
            (1, "2024-01-01", 5.0),  # first day: 15
            (1, "2024-01-05", 20.0),
            (1, "2024-01-05", 4.0),  # same day: one purchase day of 24
            (1, "2024-01-09", 0.0),  # a zero-amount purchase is a purchase day
            (1, "2024-02-01", 99.0),  # after the as-of date
            (2, "2024-01-03", 7.0),
        ]
    )
    s = summarize_transactions(frame, "2024-01-10").set_index("customer_id")
    assert s.loc[1, ["frequency", "recency_days", "tenure_days"]].tolist() == [2, 8, 9]
    assert s.loc[1, "monetary_value"] == pytest.approx((24.0 + 0.0) / 2)
    assert s.loc[2, ["frequency", "recency_days", "tenure_days", "monetary_value"]].tolist() == [0, 0, 7, 0.0]


def test_holdout_counts_distinct_days_including_zero_amounts_and_reports_failed_fits() -> None:
    frame = transactions(
        [
            (1, "2024-01-01", 10.0),
            (1, "2024-01-20", 5.0),
            (1, "2024-02-10", 3.0),
            (1, "2024-02-10 18:30", 4.0),
            (1, "2024-02-12", 0.0),  # 2 holdout days
            (2, "2024-01-15", 8.0),
            (2, "2024-03-01", 1.0),  # 1 holdout day
            (3, "2024-02-05", 9.0),  # first purchase in the holdout: not in the cohort
            (2, "2024-04-01", 1.0),  # after holdout_end
        ]
    )
    with pytest.warns(ClvWarning):  # 2 customers: nothing can be fitted
        out = holdout_validation(frame, "2024-01-31", "2024-03-15", time_unit="days")
    customers = out["customers"].set_index("customer_id")
    assert customers.index.tolist() == [1, 2]
    assert customers["actual_holdout"].tolist() == [2.0, 1.0]
    assert customers["frequency"].tolist() == [1, 0]
    assert customers.loc[1, "recency"] == 19 and customers.loc[1, "T"] == 30  # days
    assert customers["predicted_holdout_bg_nbd"].isna().all()
    totals = out["totals"].set_index("model")
    assert (totals["actual_total"] == 3.0).all() and not totals["converged"].any()
    assert out["by_frequency"]["frequency_bucket"].tolist() == ["0", "1"]
    tracking = out["tracking"]
    assert len(tracking) == 75  # 2024-01-01 .. 2024-03-15, one row per day
    assert tracking["actual_cumulative"].iloc[-1] == 1 + 3  # repeat days: 01-20, 02-10, 02-12, 03-01
    with pytest.raises(ValueError, match="after calibration_end"):
        holdout_validation(frame, "2024-03-15", "2024-01-31")
