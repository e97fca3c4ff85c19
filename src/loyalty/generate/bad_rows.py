"""Bad-row injection: malformed rows added to a chunk's valid rows (see "Bad rows" in the
package docstring). Each bad row copies a valid "template" row of the chunk and carries one
defect of one kind; kinds go round-robin over the global numbering of bad rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sampling import chance
from .text import Text

BAD_ROW_KINDS = (
    "missing_customer_id",
    "missing_transacted_at",
    "unparseable_transacted_at",
    "missing_amount",
    "unparseable_amount",
    "duplicate_transaction_id",
    "after_as_of",
)
K_MISSING_CUSTOMER, K_MISSING_TS, K_BAD_TS, K_MISSING_AMOUNT, K_BAD_AMOUNT, K_DUPLICATE, K_FUTURE = range(7)
UNPARSEABLE_TIMESTAMPS = (
    "31/02/2024",
    "not a date",
    "2024-13-45",
    "2023-02-30",
    "2024-06-31T12:00:00",
    "12/31/2024 25:00",
    "0000-00-00 00:00:00",
    "N/A",
    "yesterday",
    "2024-04-31",
)
FUTURE_EPOCH_SECONDS = int((np.datetime64("2099-01-01") - np.datetime64("1970-01-01")).astype(np.int64)) * 86400


@dataclass
class PlacedRows:
    """A chunk's rows in file order: the column values, the bad-row kind of each row (None
    when the chunk has no bad row; -1 for a valid row) and the transaction id numbers."""

    rows: dict
    kind: np.ndarray | None
    id_number: np.ndarray


def kinds(bad_start: int, n_bad: int) -> tuple[np.ndarray, np.ndarray]:
    """The kind of each of ``n_bad`` bad rows numbered from ``bad_start``, and the count per kind."""
    kind = (bad_start + np.arange(n_bad)) % len(BAD_ROW_KINDS)
    return kind, np.bincount(kind, minlength=len(BAD_ROW_KINDS))


def place(rows: dict, kind: np.ndarray, id_offset: int, rng: np.random.Generator) -> PlacedRows:
    """Valid ``rows`` plus one bad row per element of ``kind``, in file order.

    A bad row goes right after its template; a duplicate anywhere after its original.
    Ids are consecutive over the rows that are not duplicates (``id_offset`` is the number
    of distinct ids written before); duplicates copy their original's. ``after_as_of`` rows
    are dated in 2099. The other defects are applied to the text columns by :func:`spoil`.
    """
    v = len(rows["ts"])
    n_bad = len(kind)
    if n_bad == 0:
        return PlacedRows(rows, None, id_offset + np.arange(1, v + 1, dtype=np.int64))
    template = rng.integers(0, max(v, 1), n_bad)
    is_dup = kind == K_DUPLICATE
    template[is_dup] = rng.choice(v, size=int(is_dup.sum()), replace=int(is_dup.sum()) > v) if v else 0
    u = rng.random(n_bad)
    key = np.where(is_dup, template + u * (v - template), template + u)
    order = np.argsort(np.concatenate([np.arange(v, dtype=np.float64), key]), kind="stable")
    src = np.concatenate([np.arange(v), template])[order]
    out_kind = np.concatenate([np.full(v, -1), kind])[order]
    out = {name: values[src] for name, values in rows.items()}
    out_dup = out_kind == K_DUPLICATE
    id_number = id_offset + np.cumsum(~out_dup)
    position_of_valid = np.empty(v, dtype=np.int64)
    position_of_valid[src[out_kind == -1]] = np.flatnonzero(out_kind == -1)
    id_number[out_dup] = id_number[position_of_valid[src[out_dup]]]
    future = out_kind == K_FUTURE
    out["ts"][future] = FUTURE_EPOCH_SECONDS + rng.integers(0, 365 * 86400, int(future.sum()))
    return PlacedRows(out, out_kind, id_number)


def spoil(
    kind: np.ndarray,
    customer_id: Text,
    transacted_at: Text,
    amount: Text,
    cents: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Write the missing and unparseable values of the bad rows into the text columns
    (missing values: null or empty string, half each)."""
    blank = chance(rng, 0.5, len(kind))
    for column, k in (
        (customer_id, K_MISSING_CUSTOMER),
        (transacted_at, K_MISSING_TS),
        (amount, K_MISSING_AMOUNT),
    ):
        rows_k = np.flatnonzero(kind == k)
        values = np.where(blank[rows_k], "", None)  # type: ignore[call-overload]  # numpy stubs: no str/None overload
        column.set(rows_k, values.tolist())
    rows_k = np.flatnonzero(kind == K_BAD_TS)
    choice = rng.integers(0, len(UNPARSEABLE_TIMESTAMPS), len(rows_k))
    transacted_at.set(rows_k, [UNPARSEABLE_TIMESTAMPS[c] for c in choice.tolist()])
    rows_k = np.flatnonzero(kind == K_BAD_AMOUNT)
    amount.set(rows_k, unparseable_amounts(rng, cents[rows_k]))


def unparseable_amounts(rng: np.random.Generator, cents: np.ndarray) -> list[str]:
    values = []
    for c, style in zip(cents.tolist(), rng.integers(0, 6, len(cents)).tolist(), strict=True):
        text = f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"
        values.append(
            (f"{text.replace('.', ',')} EUR", f"EUR {text}", f"\u20ac{text}", "abc", "n/a", f"{text}.00")[style]
        )
    return values
