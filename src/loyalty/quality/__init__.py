"""Data quality with Great Expectations: raw input before the marts build, marts after it.

    validate_raw(warehouse, max_rejected_share=0.05) -> QualityReport   (suites with phase "raw")
    validate_marts(warehouse) -> QualityReport                          (suites with phase "marts")

Both raise QualityError (exit code 1, one sentence naming table, expectation and a few
failing values) when a critical expectation fails; warnings are in the report. The suites
are the committed GX project in gx/; see runner.py for how a run applies them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loyalty.quality.project import data_docs_index
from loyalty.quality.report import CheckResult, QualityError, QualityReport

if TYPE_CHECKING:
    from loyalty.quality.batches import BatchSource

DEFAULT_MAX_REJECTED_SHARE = 0.05


def validate_raw(
    warehouse: Path, max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE, source: BatchSource | None = None
) -> QualityReport:
    """Check raw.transactions and its classification (int_transactions_validated). `source`
    reads the batches (default: the DuckDB file `warehouse`; Spark: quality.spark_source)."""
    from loyalty.quality.runner import validate

    if not 0.0 <= max_rejected_share <= 1.0:
        raise QualityError(f"The rejected-share limit {max_rejected_share} is not between 0 and 1.")
    return validate(warehouse, "raw", {"min_valid_share": 1.0 - max_rejected_share}, source)


def validate_marts(warehouse: Path, source: BatchSource | None = None) -> QualityReport:
    """Check every mart; a mart or column a suite names that does not exist is a critical failure."""
    from loyalty.quality.runner import validate

    return validate(warehouse, "marts", source=source)


__all__ = [
    "CheckResult",
    "DEFAULT_MAX_REJECTED_SHARE",
    "QualityError",
    "QualityReport",
    "data_docs_index",
    "validate_marts",
    "validate_raw",
]
