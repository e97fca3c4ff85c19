"""What a Great Expectations phase found, in words: one result per expectation, a report per
phase, and the one-sentence error raised when a critical expectation fails.

Kept free of any great_expectations import: the runner turns GX results into plain
`CheckResult`s, so reports can be built, printed and tested without the ~5 s GX import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loyalty.errors import LoyaltyError

PHASE_TITLES = {"raw": "raw input", "marts": "marts"}
MAX_EXAMPLES = 3
MAX_FAILURES_IN_MESSAGE = 3


class QualityError(LoyaltyError):
    """A critical expectation failed: the run stops (exit code 1)."""

    exit_code = 1

    def __init__(self, message: str, report: QualityReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class CheckResult:
    """One expectation of one suite, evaluated on one batch."""

    suite: str
    table: str
    expectation: str  # GX expectation type, e.g. expect_column_values_to_be_between
    columns: tuple[str, ...]
    description: str | None
    severity: str  # critical | warning | info
    success: bool
    evidence: str = ""  # what failed: counts and a few failing values

    @property
    def name(self) -> str:
        cols = ", ".join(self.columns)
        return f"{self.expectation}({cols})" if cols else self.expectation

    def sentence(self) -> str:
        what = f"{self.description.rstrip('.')} [{self.name}]" if self.description else self.name
        evidence = f": {self.evidence}" if self.evidence else ""
        return f"{self.table}: {what}{evidence}"


@dataclass
class QualityReport:
    """The result of one phase ("raw" or "marts"): every check, its severity and outcome."""

    phase: str
    checks: list[CheckResult] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # rows validated per batch (suite)
    data_docs: Path | None = None
    seconds: float = 0.0
    load_seconds: float = 0.0  # of which reading batches (DuckDB) or counting their rows (Spark)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[CheckResult]:
        """Failed critical expectations: these fail the run."""
        return [c for c in self.checks if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        """Failed expectations of lower severity: reported, the run continues."""
        return [c for c in self.checks if not c.success and c.severity != "critical"]

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def title(self) -> str:
        return PHASE_TITLES.get(self.phase, self.phase)

    def headline(self) -> str:
        passed = sum(1 for c in self.checks if c.success)
        parts = [f"{passed}/{len(self.checks)} expectations passed"]
        if self.failures:
            parts.append(f"{len(self.failures)} critical failed")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}")
        rows = sum(self.rows.values())
        return (
            f"Data quality, {self.title}: {', '.join(parts)} "
            f"({len(self.rows)} batches, {rows:,} rows, {self.seconds:.1f} s)"
        )

    def lines(self) -> list[str]:
        out = [self.headline()]
        out += [f"  critical: {c.sentence()}" for c in self.failures]
        out += [f"  warning: {c.sentence()}" for c in self.warnings]
        return out

    def failure_message(self) -> str:
        """One sentence naming the table, the expectation and a few failing values."""
        failures = self.failures
        shown = "; ".join(c.sentence() for c in failures[:MAX_FAILURES_IN_MESSAGE])
        more = len(failures) - MAX_FAILURES_IN_MESSAGE
        more_text = f"; and {more} more" if more > 0 else ""
        docs = f" (Data Docs: {self.data_docs})" if self.data_docs else ""
        plural = "s" if len(failures) > 1 else ""
        return (
            f"The {self.title} check failed ({len(failures)} critical expectation{plural}): {shown}{more_text}{docs}."
        )


def _missing(value: Any) -> bool:
    """None, NaN, pandas NA or NaT."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except TypeError:  # pandas.NA cannot be cast to bool
        return True


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()  # dates travel as datetime64 (batches.py)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _fmt(value.item())
    return str(value)


def _share(value: float) -> str:
    return f"{value:.2%}" if value < 0.01 else f"{value:.1%}"


def describe_failure(
    expectation: str,
    kwargs: dict[str, Any],
    result: dict[str, Any],
    exception: str | None,
    parameters: dict[str, Any],
) -> str:
    """The evidence of a failed expectation from its GX result: counts and a few values."""
    if exception:
        return f"could not be evaluated ({exception})"
    if "unexpected_count" in result and "element_count" in result:
        return _describe_map_failure(expectation, kwargs, result, parameters)
    if expectation == "expect_table_columns_to_match_set":
        missing = (result.get("details") or {}).get("mismatched", {}).get("missing") or []
        if missing:
            return "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
    observed = result.get("observed_value")
    if isinstance(observed, float) and "proportion" in expectation:
        return f"observed {observed:.2%}"
    if observed is not None:
        return f"observed {_fmt(observed)}"
    return "failed"


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters.get(value["$PARAMETER"])
    return value


def _describe_map_failure(
    expectation: str, kwargs: dict[str, Any], result: dict[str, Any], parameters: dict[str, Any]
) -> str:
    unexpected = int(result.get("unexpected_count") or 0)
    total = int(result.get("element_count") or 0)
    # GX counts the share among non-null values except for the null checks themselves
    nonnull_base = total - int(result.get("missing_count") or 0)
    base = total if expectation.endswith(("_to_be_null", "_to_not_be_null")) else nonnull_base
    share = unexpected / base if base else 0.0
    text = f"{unexpected:,} of {base:,} rows ({_share(share)})"
    mostly = _resolve(kwargs.get("mostly"), parameters)
    if isinstance(mostly, (int, float)) and mostly < 1:
        text += f", more than the {_share(1 - float(mostly))} allowed"
    examples = _examples(expectation, kwargs, result)
    if examples:
        text += f", e.g. {examples}"
    return text


def _examples(expectation: str, kwargs: dict[str, Any], result: dict[str, Any]) -> str:
    tested = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
    tested += list(kwargs.get("column_list") or [])
    index_rows = result.get("partial_unexpected_index_list") or []
    if expectation in ("expect_column_values_to_be_null", "expect_column_values_to_be_in_set"):
        # categorical values: the distinct failing values say most
        values = [c["value"] for c in result.get("partial_unexpected_counts") or [] if not _missing(c["value"])]
        return ", ".join(_fmt(v) for v in values[:MAX_EXAMPLES])
    if index_rows and isinstance(index_rows[0], dict):
        shown = []
        for row in index_rows[:MAX_EXAMPLES]:
            # the tested values first, then the row's identifying columns; nulls left out
            keys = [k for k in tested if k in row] + [k for k in row if k not in tested]
            parts = [f"{k}={_fmt(row[k])}" for k in keys if not _missing(row.get(k))]
            shown.append("(" + ", ".join(parts) + ")" if parts else "(null)")
        return ", ".join(shown)
    values = [v for v in result.get("partial_unexpected_list") or [] if not _missing(v)]
    return ", ".join(_fmt(v) for v in values[:MAX_EXAMPLES])
