"""`generate()`: simulate the customers chunk by chunk and stream both files, the writing of
chunk i overlapping the simulation of chunk i + 1 (see "Streaming and speed" in the package
docstring). Output goes to ``*.partial`` files renamed at the end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .bad_rows import BAD_ROW_KINDS, K_DUPLICATE
from .calendar import Calendar
from .parameters import CUSTOMER_ID_MIN_DIGITS, DEFAULT_END, DEFAULT_START
from .simulation import simulate_chunk
from .writers import (
    SUPPORTED_FORMATS,
    customers_schema,
    customers_table,
    open_writer,
    progress_bar,
    transactions_schema,
    transactions_table,
    write_both,
)


@dataclass
class GenerateResult:
    transactions_path: Path
    customers_path: Path
    n_customers: int
    n_transactions: int  # rows written, including bad rows
    n_bad_rows: int
    bad_rows_by_kind: dict[str, int]


def customers_path_for(out: Path) -> Path:
    """Path of the customers file that goes with transactions file ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}_customers{out.suffix}")


@dataclass
class _Plan:
    """What every chunk needs to know: the arguments and the files' schemas."""

    n_customers: int
    seed: int
    chunk_customers: int
    calendar: Calendar
    bad_row_rate: float
    tx_schema: pa.Schema
    cu_schema: pa.Schema
    id_digits: int

    @property
    def has_bad(self) -> bool:
        return self.bad_row_rate > 0

    @property
    def bad_ratio(self) -> float:
        return self.bad_row_rate / (1.0 - self.bad_row_rate)


@dataclass
class _Counts:
    n_rows: int = 0  # rows written, bad rows included
    n_valid: int = 0
    n_bad: int = 0
    bad_by_kind: np.ndarray = field(default_factory=lambda: np.zeros(len(BAD_ROW_KINDS), dtype=np.int64))


def generate(
    n_customers: int,
    out: Path,
    *,
    seed: int = 42,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    bad_row_rate: float = 0.0,
    progress: bool = True,
    chunk_customers: int = 50_000,
) -> GenerateResult:
    """Write ``n_customers`` synthetic customers and their transactions.

    ``out`` ends in ``.parquet`` or ``.csv``; the customers file goes to
    ``customers_path_for(out)``.  Both are written to ``*.partial`` files and
    renamed at the end, so a failed run leaves no half-written output.
    ``bad_row_rate`` (0 to 0.9) is the share of written rows that are
    malformed; ``progress`` shows a rich progress bar on stderr.  Raises
    ValueError for an unsupported extension or an invalid argument.  See the
    package docstring for the model, the bad-row placement and the determinism
    guarantees.
    """
    out = Path(out)
    fmt = out.suffix.lower()
    if fmt not in SUPPORTED_FORMATS:
        raise ValueError(f"Unsupported output extension {out.suffix or '(none)'!r} for {out}: use .parquet or .csv.")
    _validate(n_customers, seed, start, end, bad_row_rate, chunk_customers)

    customers_path = customers_path_for(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plan = _Plan(
        n_customers=n_customers,
        seed=seed,
        chunk_customers=chunk_customers,
        calendar=Calendar(start, end),
        bad_row_rate=bad_row_rate,
        tx_schema=transactions_schema(fmt, bad_row_rate > 0),
        cu_schema=customers_schema(),
        id_digits=max(CUSTOMER_ID_MIN_DIGITS, len(str(n_customers))),
    )
    tmp_tx = out.with_name(out.name + ".partial")
    tmp_cu = customers_path.with_name(customers_path.name + ".partial")
    counts = _Counts()
    try:
        with (
            open_writer(tmp_tx, plan.tx_schema, fmt) as tx_writer,
            open_writer(tmp_cu, plan.cu_schema, fmt) as cu_writer,
            progress_bar(progress, n_customers) as advance,
        ):
            _write_chunks(plan, counts, tx_writer, cu_writer, advance)
        os.replace(tmp_tx, out)
        os.replace(tmp_cu, customers_path)
    finally:
        for tmp in (tmp_tx, tmp_cu):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    return GenerateResult(
        transactions_path=out,
        customers_path=customers_path,
        n_customers=n_customers,
        n_transactions=counts.n_rows,
        n_bad_rows=counts.n_bad,
        bad_rows_by_kind={k: int(c) for k, c in zip(BAD_ROW_KINDS, counts.bad_by_kind, strict=True)},
    )


def _write_chunks(plan: _Plan, counts: _Counts, tx_writer: Any, cu_writer: Any, advance: Callable[..., Any]) -> None:
    """Simulate and write every chunk in order. Writing (compression, I/O; releases the GIL)
    overlaps with simulating the next chunk; at most one chunk is in flight, so memory stays
    bounded."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loyalty-generate-writer") as pool:
        pending: Future[None] | None = None
        pending_progress = (0, 0)  # (customers, rows) of the chunk being written
        for chunk_index, first in enumerate(range(0, plan.n_customers, plan.chunk_customers)):
            m = min(plan.chunk_customers, plan.n_customers - first)
            table, cu_table = _chunk_tables(plan, counts, chunk_index, first, m)
            if pending is not None:
                pending.result()
                advance(*pending_progress)
            pending = pool.submit(write_both, tx_writer, table, cu_writer, cu_table)
            pending_progress = (m, counts.n_rows)
        if pending is not None:
            pending.result()
            advance(*pending_progress)


def _chunk_tables(plan: _Plan, counts: _Counts, chunk_index: int, first: int, m: int) -> tuple[pa.Table, pa.Table]:
    """Customers ``first + 1 .. first + m`` and their rows (bad rows added to keep the bad
    share at the rate) as Arrow tables; ``counts`` moves on past this chunk."""
    ss = np.random.SeedSequence([plan.seed, chunk_index])
    customers, rows = simulate_chunk(np.random.default_rng(ss), m, plan.calendar)
    customers["number"] += first + 1
    rows["customer_number"] += first + 1
    counts.n_valid += len(rows["ts"])
    target_bad = int(np.floor(plan.bad_ratio * counts.n_valid + 0.5)) if plan.has_bad else 0
    nb = target_bad - counts.n_bad
    bad_rng = np.random.default_rng(np.random.SeedSequence([plan.seed, chunk_index], spawn_key=(1,)))
    table, kind_counts = transactions_table(
        rows, plan.tx_schema, id_offset=counts.n_rows - int(counts.bad_by_kind[K_DUPLICATE]),
        bad_start=counts.n_bad, n_bad=nb, rng=bad_rng, id_digits=plan.id_digits,
    )  # fmt: skip
    cu_table = customers_table(customers, plan.cu_schema, plan.id_digits)
    counts.n_rows += table.num_rows
    counts.n_bad += nb
    counts.bad_by_kind += kind_counts
    return table, cu_table


def _validate(n_customers, seed, start, end, bad_row_rate, chunk_customers) -> None:
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)) or n_customers < 0:
        raise ValueError(f"n_customers must be a non-negative integer, got {n_customers!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if not isinstance(start, date) or not isinstance(end, date) or start > end:
        raise ValueError(f"start ({start}) must be a date on or before end ({end}).")
    if not 0.0 <= bad_row_rate <= 0.9:  # bad rows per chunk grow like rate / (1 - rate)
        raise ValueError(f"bad_row_rate must be between 0 and 0.9, got {bad_row_rate!r}.")
    if isinstance(chunk_customers, bool) or not isinstance(chunk_customers, (int, np.integer)) or chunk_customers < 1:
        raise ValueError(f"chunk_customers must be a positive integer, got {chunk_customers!r}.")
