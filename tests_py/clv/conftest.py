"""Fixtures for the CLV model tests: the CDNOW sample (shared data, located from the
repository root) and its 39-week calibration summary as FHL (2005) used it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loyalty.clv.summary import summarize_transactions

REPO_ROOT = Path(__file__).resolve().parents[2]
CDNOW_CSV = REPO_ROOT / ".." / "shared" / "data" / "cdnow" / "cdnow_sample_transactions.csv"
CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    raw = pd.read_csv(CDNOW_CSV, dtype={"master_id": str})
    return raw.rename(columns={"date": "transaction_date", "dollar_value": "amount"})


@pytest.fixture(scope="session")
def cdnow_calibration(cdnow_transactions: pd.DataFrame) -> pd.DataFrame:
    """Day-grain summary at 1997-09-30: T = 1997-09-30 - first purchase day."""
    return summarize_transactions(cdnow_transactions, CALIBRATION_END)


@pytest.fixture(scope="session")
def cdnow_weeks(cdnow_calibration: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T) in weeks, as in FHL 2005."""
    s = cdnow_calibration
    return (
        s["frequency"].to_numpy(dtype=float),
        s["recency_days"].to_numpy(dtype=float) / 7.0,
        s["tenure_days"].to_numpy(dtype=float) / 7.0,
    )
