"""Deterministic, streaming generator of synthetic loyalty transactions.

``generate()`` writes two files in the same format (chosen by the extension of
``out``: ``.parquet`` or ``.csv``):

* the transactions file at ``out`` (one row per purchase or refund) and
* the customers file at :func:`customers_path_for` ``(out)``.

Model (per customer, in the spirit of BG/NBD + Gamma-Gamma)
------------------------------------------------------------
* Signup day over ``[start, end]`` with mild exponential growth (about +15 %
  a year) and muted seasonality.
* About 3 % of customers never buy.  Everyone else makes a first purchase on
  the signup day (60 %) or a few days later; a first purchase that would fall
  after ``end`` turns the customer into a signup without purchases (so about
  4 % of the customers file has no transactions).
* Repeat purchases: purchase rate ``lambda ~ Gamma(r=0.75, scale=1/alpha)``
  per day (alpha = 37: one purchase per ~49 days while active, calibrated to
  ~4.3 rows per customer) and dropout probability ``p ~ Beta(0.8, 2.5)``:
  after every purchase the customer drops out with probability ``p``.
  Purchases follow a Poisson process with intensity ``lambda * s(day)``,
  where the seasonality ``s`` (Nov/Dec +60 %, Black Friday and Cyber Monday
  peaks, a summer dip, quiet holidays, busier weekends; mean 1 over the
  window) is applied by a time change, i.e. exact thinning without rejected
  draws: in the transformed clock the process has unit rate, the number of
  events left in the window is ``N ~ Poisson(Lambda)``, the number the
  customer makes before dropping out is ``K ~ Geometric(p) - 1``, and the
  first ``min(N, K)`` event times are order statistics of uniforms
  (exponential spacings), so every draw is vectorised over a chunk.
* About 1.5 % of purchases get a second basket on the same day (same
  channel, a little later, or earlier if the store is closing).
* Spend: per-customer mean unit price from a gamma distribution (Gamma-Gamma),
  a per-category price level, lognormal noise, psychological price endings
  (.99/.49/.95), ``quantity ~ Geometric(0.72)`` (at most 12) and ``amount =
  unit price * quantity`` in cents.  About 0.5 % of purchases are free
  (amount 0).
* Refunds: about 3 % of paid purchases get an extra row 1-45 days later (mean
  5; only if that is still inside the window) with a new id, the same
  customer, category, channel and store, a negative quantity (units
  returned: all of them in 80 % of refunds, otherwise fewer) and ``amount =
  -unit price * units``, so ``0 < -refund <= purchase``.
* Each customer has 1-4 preferred product categories (85 % of purchases) and a
  personal channel mix (logistic-normal around a mix that depends on the
  acquisition channel); store purchases happen at the home store (85 %) or
  another store of the customer's country.  ``store_id`` is null for the
  non-store channels (``online`` and ``app``).  Time of day depends on the
  channel (opening hours 9-21 for stores, evening peaks online and in the app).

Small categorical draws use 2**16-entry lookup tables (probabilities rounded
to multiples of 2**-16), large ones Walker's alias method.

Bad rows
--------
``bad_row_rate`` is the share of the *emitted* rows that are malformed.  Bad
rows are **added** to the valid rows, never replace them: each one is derived
from a valid row of the same chunk (its "template") and carries exactly one
defect of one kind (see :data:`BAD_ROW_KINDS`; missing values are null or
empty strings, half each).  The valid rows are therefore exactly the rows
generated with ``bad_row_rate=0`` (same customers, times, amounts, ...);
only ``transaction_id`` numbers shift, because ids are numbered in file order
and bad rows other than duplicates get fresh ids.  The bad rows use a random
stream of their own, so they do not disturb the valid data.  Kinds are
assigned round-robin over the global sequence of bad rows (counts per kind
differ by at most one) and the number of bad rows is kept at ``round(rate /
(1 - rate) * valid rows so far)`` after every chunk.  A bad row is written
right after its template row, except a duplicate (an exact copy of a valid
row, same id), which goes to a random later position of the same chunk; an
``after_as_of`` row is dated in 2099.  When bad rows are present the parquet
columns ``transacted_at`` and ``amount`` are strings (so that unparseable
values can exist); without bad rows they are a timestamp and a float64.  In
CSV, ``transacted_at`` is always ISO text with a "T" and ``amount`` always has
exactly two decimals.

Determinism and chunking
------------------------
Customers are simulated ``chunk_customers`` at a time; chunk ``i`` draws from
``np.random.default_rng([seed, i])`` (bad rows from a child stream of the same
seed sequence).  The output is a pure function of all arguments (except
``progress``): the same arguments give byte-identical files.
``chunk_customers`` is part of that identity: a different chunk size gives a
different (statistically equivalent) data set.  For a given seed and chunk
size, more customers only add data: the full chunks of a smaller run are the
first rows of a larger run (only its last, partial chunk differs), as long as
customer ids keep their width (below 10 million customers).  Transaction ids are numbered consecutively in file
order across chunks ("T" + 12 digits); customer ids are "C" + at least 7
digits, numbered from 1.

Streaming and speed
-------------------
Memory is bounded by about two chunks (about 4.3 * ``chunk_customers`` rows
each): a writer thread compresses and writes chunk ``i`` while chunk ``i + 1``
is simulated, in order.  Parquet files get one row group per chunk, zstd
compression, dictionary pages for the low-cardinality columns and no stored
Arrow schema (so every reader sees plain string columns).  pandas is never
imported.
"""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = [
    "BAD_ROW_KINDS",
    "CATEGORIES",
    "CHANNELS",
    "GenerateResult",
    "customers_path_for",
    "generate",
]

# --------------------------------------------------------------------------
# Vocabulary and model parameters
# --------------------------------------------------------------------------

CATEGORIES = ("books", "music", "electronics", "home", "garden", "toys", "fashion", "beauty")
_CATEGORY_POPULARITY = np.array([0.14, 0.08, 0.12, 0.15, 0.07, 0.10, 0.21, 0.13])
_CATEGORY_PRICE_LEVEL = np.array([0.55, 0.45, 2.6, 1.5, 1.2, 0.9, 1.05, 0.75])
_N_PREFERRED_P = np.array([0.30, 0.35, 0.22, 0.13])  # 1, 2, 3 or 4 preferred categories
_PREFERRED_SHARE = 0.85

CHANNELS = ("online", "store", "app")
_STORE_CHANNEL = 1

ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "email")
_ACQUISITION_P = np.array([0.36, 0.24, 0.18, 0.12, 0.10])
# Typical (online, store, app) mix by acquisition channel; customers scatter
# around it (logistic-normal: weights times exp(sigma * N(0, 1)), normalised).
_CHANNEL_MIX = np.array(
    [
        [0.35, 0.50, 0.15],  # organic
        [0.60, 0.25, 0.15],  # paid_search
        [0.40, 0.20, 0.40],  # social
        [0.30, 0.50, 0.20],  # referral
        [0.50, 0.30, 0.20],  # email
    ]
)
_CHANNEL_MIX_SIGMA = 1.0

COUNTRIES = ("DE", "FR", "NL", "BE", "IT", "ES", "AT", "IE", "PT", "FI", "GR", "LU", "SK")
_COUNTRY_P = np.array([0.30, 0.17, 0.12, 0.08, 0.07, 0.07, 0.06, 0.04, 0.03, 0.02, 0.02, 0.01, 0.01])
_STORES_PER_COUNTRY = np.array([14, 8, 6, 4, 4, 4, 3, 2, 2, 1, 1, 1, 1])
_STORE_OFFSET = np.concatenate([[0], np.cumsum(_STORES_PER_COUNTRY)[:-1]])
_N_STORES = int(_STORES_PER_COUNTRY.sum())
_HOME_STORE_SHARE = 0.85

FIRST_NAMES = (
    "Anna", "Lukas", "Emma", "Noah", "Mia", "Leon", "Sofia", "Louis", "Julia", "Luca",
    "Chloe", "Hugo", "Lea", "Jan", "Sara", "Matteo", "Eva", "Daan", "Laura", "Pablo",
    "Ines", "Finn", "Marta", "Elias", "Clara", "Sean", "Aino", "Nikos", "Lena", "Tomas",
)  # fmt: skip
LAST_NAMES = (
    "Mueller", "Schmidt", "Martin", "Bernard", "de Jong", "Jansen", "Peeters", "Rossi",
    "Garcia", "Lopez", "Gruber", "Murphy", "Silva", "Virtanen", "Papadopoulos", "Weber",
    "Dubois", "Visser", "Russo", "Fernandez", "Huber", "Kelly", "Santos", "Schneider",
    "Moreau", "Bakker", "Ferrari", "Novak", "Wagner", "Costa",
)  # fmt: skip

# BG/NBD parameters (lambda per day).
_R = 0.75
_ALPHA = 37.0  # mean lambda = r / alpha: one purchase per ~49 days while active (calibrated: ~4.3 rows per customer)
_DROPOUT_A = 0.8
_DROPOUT_B = 2.5
_NO_PURCHASE_SHARE = 0.03
_FIRST_PURCHASE_SAME_DAY = 0.60
_FIRST_PURCHASE_DELAY_MEAN_DAYS = 10.0
_SIGNUP_GROWTH_PER_YEAR = 0.15
_SAME_DAY_EXTRA_SHARE = 0.015

# Spend (Gamma-Gamma + lognormal noise), in EUR per unit.
_SPEND_SHAPE = 3.0
_SPEND_SCALE = 10.0
_SPEND_SIGMA = 0.45
_QUANTITY_P = 0.72
_MAX_QUANTITY = 12
_FREE_SHARE = 0.005

_REFUND_SHARE = 0.03
_REFUND_FULL_SHARE = 0.80
_REFUND_DELAY_P = 0.2  # delay in days ~ Geometric(0.2): 1..~20 days, mean 5
_REFUND_MAX_DELAY_DAYS = 45

# Seasonality: month (Jan..Dec) and weekday (Mon..Sun) factors.
_MONTH_FACTOR = np.array([0.90, 0.90, 1.00, 1.00, 1.00, 0.90, 0.80, 0.80, 1.00, 1.05, 1.60, 1.60])
_WEEKDAY_FACTOR = np.array([0.90, 0.92, 0.95, 1.00, 1.08, 1.15, 1.00])

# Hour-of-day weights per channel (online, store, app).
_HOUR_WEIGHTS = np.array(
    [
        # 0    1    2    3    4    5    6    7    8    9   10   11   12   13   14   15   16   17   18   19   20   21   22   23  # noqa: E501 - one hour per column
        [1.2, 0.7, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 3.0, 3.5, 3.8, 4.2, 4.0, 3.8, 3.7, 3.8, 4.2, 4.8, 5.6, 6.2, 6.0, 4.8, 2.6],  # noqa: E501 - one channel per row
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.5, 5.8, 6.5, 6.0, 5.0, 5.0, 5.6, 6.4, 6.0, 4.5, 2.2, 0.0, 0.0, 0.0],  # noqa: E501 - one channel per row
        [1.5, 0.8, 0.4, 0.3, 0.3, 0.5, 1.4, 3.2, 3.8, 2.8, 2.6, 2.9, 4.4, 4.0, 3.0, 2.9, 3.2, 4.0, 4.6, 5.2, 6.0, 6.6, 6.0, 3.4],  # noqa: E501 - one channel per row
    ]
)  # fmt: skip

_OPENING_SECONDS = (_HOUR_WEIGHTS > 0).argmax(axis=1) * 3600
_CLOSING_SECONDS = (24 - (_HOUR_WEIGHTS[:, ::-1] > 0).argmax(axis=1)) * 3600 - 1

BAD_ROW_KINDS = (
    "missing_customer_id",
    "missing_transacted_at",
    "unparseable_transacted_at",
    "missing_amount",
    "unparseable_amount",
    "duplicate_transaction_id",
    "after_as_of",
)
_K_MISSING_CUSTOMER, _K_MISSING_TS, _K_BAD_TS, _K_MISSING_AMOUNT, _K_BAD_AMOUNT, _K_DUPLICATE, _K_FUTURE = range(7)
_UNPARSEABLE_TIMESTAMPS = (
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
_FUTURE_EPOCH_SECONDS = int((np.datetime64("2099-01-01") - np.datetime64("1970-01-01")).astype(np.int64)) * 86400

_FULL_NAMES = tuple(f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES)
_STORE_IDS = tuple(f"S{i + 1:03d}" for i in range(_N_STORES))

_TRANSACTION_ID_DIGITS = 12
_CUSTOMER_ID_MIN_DIGITS = 7
_SUPPORTED_FORMATS = (".parquet", ".csv")
_MAX_STRING_BYTES = 2**31 - 1


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


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


def generate(
    n_customers: int,
    out: Path,
    *,
    seed: int = 42,
    start: date = date(2023, 1, 1),
    end: date = date(2025, 12, 31),
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
    module docstring for the model, the bad-row placement and the determinism
    guarantees.
    """
    out = Path(out)
    fmt = out.suffix.lower()
    if fmt not in _SUPPORTED_FORMATS:
        raise ValueError(f"Unsupported output extension {out.suffix or '(none)'!r} for {out}: use .parquet or .csv.")
    _validate(n_customers, seed, start, end, bad_row_rate, chunk_customers)

    customers_path = customers_path_for(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    calendar = _Calendar(start, end)
    has_bad = bad_row_rate > 0
    id_digits = max(_CUSTOMER_ID_MIN_DIGITS, len(str(n_customers)))
    tx_schema = _transactions_schema(fmt, has_bad)
    cu_schema = _customers_schema()
    bad_ratio = bad_row_rate / (1.0 - bad_row_rate)

    tmp_tx = out.with_name(out.name + ".partial")
    tmp_cu = customers_path.with_name(customers_path.name + ".partial")
    n_rows = n_valid = n_bad = 0
    bad_by_kind = np.zeros(len(BAD_ROW_KINDS), dtype=np.int64)
    try:
        with (
            _open_writer(tmp_tx, tx_schema, fmt) as tx_writer,
            _open_writer(tmp_cu, cu_schema, fmt) as cu_writer,
            _progress_bar(progress, n_customers) as advance,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="loyalty-generate-writer") as pool,
        ):
            # Writing (compression, I/O; releases the GIL) overlaps with simulating the
            # next chunk.  At most one chunk is in flight, so memory stays bounded, and
            # chunks are written strictly in order.
            pending = None
            pending_progress = (0, 0)  # (customers, rows) of the chunk being written
            for chunk_index, first in enumerate(range(0, n_customers, chunk_customers)):
                m = min(chunk_customers, n_customers - first)
                ss = np.random.SeedSequence([seed, chunk_index])
                customers, rows = _simulate_chunk(np.random.default_rng(ss), m, calendar)
                customers["number"] += first + 1
                rows["customer_number"] += first + 1
                v = len(rows["ts"])
                n_valid += v
                target_bad = int(np.floor(bad_ratio * n_valid + 0.5)) if has_bad else 0
                nb = target_bad - n_bad
                bad_rng = np.random.default_rng(np.random.SeedSequence([seed, chunk_index], spawn_key=(1,)))
                table, kind_counts = _transactions_table(
                    rows, tx_schema, id_offset=n_rows - int(bad_by_kind[_K_DUPLICATE]),
                    bad_start=n_bad, n_bad=nb, rng=bad_rng, id_digits=id_digits,
                )  # fmt: skip
                customers_table = _customers_table(customers, cu_schema, id_digits)
                if pending is not None:
                    pending.result()
                    advance(*pending_progress)
                pending = pool.submit(_write_both, tx_writer, table, cu_writer, customers_table)
                n_rows += table.num_rows
                n_bad += nb
                bad_by_kind += kind_counts
                pending_progress = (m, n_rows)
            if pending is not None:
                pending.result()
                advance(*pending_progress)
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
        n_transactions=n_rows,
        n_bad_rows=n_bad,
        bad_rows_by_kind={k: int(c) for k, c in zip(BAD_ROW_KINDS, bad_by_kind, strict=True)},
    )


# --------------------------------------------------------------------------
# Validation, schemas, writers, progress
# --------------------------------------------------------------------------


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


# Columns with a small vocabulary are dictionary arrays in memory; files hold plain
# strings (CSV text; parquet UTF8 columns, and no Arrow schema is stored, so every
# reader, pyarrow included, sees string columns).
_VOCABULARY_TYPE = pa.dictionary(pa.int32(), pa.string())


def _transactions_schema(fmt: str, has_bad: bool) -> pa.Schema:
    if has_bad:
        ts_type, amount_type = pa.string(), pa.string()
    elif fmt == ".parquet":
        ts_type, amount_type = pa.timestamp("us"), pa.float64()
    else:  # CSV: ISO text with a "T"; decimals print with exactly two places
        ts_type, amount_type = pa.string(), pa.decimal128(18, 2)
    return pa.schema(
        [
            pa.field("transaction_id", pa.string(), nullable=False),
            pa.field("customer_id", pa.string(), nullable=has_bad),
            pa.field("transacted_at", ts_type, nullable=has_bad),
            pa.field("amount", amount_type, nullable=has_bad),
            pa.field("currency", _VOCABULARY_TYPE, nullable=False),
            pa.field("product_category", _VOCABULARY_TYPE, nullable=False),
            pa.field("channel", _VOCABULARY_TYPE, nullable=False),
            pa.field("quantity", pa.int32(), nullable=False),
            pa.field("store_id", _VOCABULARY_TYPE),
        ]
    )


def _customers_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("customer_id", pa.string(), nullable=False),
            pa.field("signup_at", pa.date32(), nullable=False),
            pa.field("country", _VOCABULARY_TYPE, nullable=False),
            pa.field("acquisition_channel", _VOCABULARY_TYPE, nullable=False),
            pa.field("email", pa.string(), nullable=False),
            pa.field("full_name", _VOCABULARY_TYPE, nullable=False),
        ]
    )


def _write_both(tx_writer, tx_table: pa.Table, cu_writer, cu_table: pa.Table) -> None:
    tx_writer.write_table(tx_table)
    cu_writer.write_table(cu_table)


@contextlib.contextmanager
def _open_writer(path: Path, schema: pa.Schema, fmt: str):
    if fmt == ".parquet":
        # Parquet dictionary pages for the vocabulary columns only: for ids,
        # timestamps and amounts they cost time and (with zstd) even size.
        dictionary_columns = [f.name for f in schema if pa.types.is_dictionary(f.type)]
        writer = pq.ParquetWriter(
            path,
            schema,
            compression="zstd",
            compression_level=1,
            use_dictionary=dictionary_columns,
            store_schema=False,
        )
    else:
        writer = pacsv.CSVWriter(path, schema)
    try:
        yield writer
    finally:
        writer.close()


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int):
    if not enabled:
        yield lambda customers, rows: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]generating customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:,} transactions"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("generate", total=total, rows=0)
        yield lambda customers, rows: bar.update(task, advance=customers, rows=rows)


# --------------------------------------------------------------------------
# Calendar: seasonality and signup distribution over the window
# --------------------------------------------------------------------------


class _Calendar:
    def __init__(self, start: date, end: date) -> None:
        self.n_days = n = (end - start).days + 1
        self.epoch_day = int((np.datetime64(start, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))
        days = np.arange(n, dtype=np.int64)
        d64 = np.datetime64(start, "D") + days
        month = d64.astype("datetime64[M]").astype(np.int64) % 12
        weekday = (self.epoch_day + days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        s = _MONTH_FACTOR[month] * _WEEKDAY_FACTOR[weekday]
        for year in range(start.year, end.year + 1):
            nov1 = np.datetime64(f"{year:04d}-11-01", "D")
            first_thursday = nov1 + (3 - (nov1.astype(np.int64) + 3) % 7) % 7
            black_friday = first_thursday + 22
            for day, factor in (
                (black_friday, 2.6),
                (black_friday + 3, 1.8),  # Cyber Monday
                (np.datetime64(f"{year:04d}-12-24", "D"), 0.6),
                (np.datetime64(f"{year:04d}-12-25", "D"), 0.35),
                (np.datetime64(f"{year:04d}-12-26", "D"), 0.6),
                (np.datetime64(f"{year:04d}-01-01", "D"), 0.4),
            ):
                i = int((day - np.datetime64(start, "D")).astype(np.int64))
                if 0 <= i < n:
                    s[i] *= factor
        s /= s.mean()
        self.intensity = s
        self.cum = np.concatenate([[0.0], np.cumsum(s), [np.inf]])  # cum[d] = integral of s over [0, d)
        units = np.arange(int(np.ceil(self.cum[n])) + 1, dtype=np.float64)
        self._day_at_unit = np.searchsorted(self.cum, units, side="right") - 1
        self._max_steps = int(np.ceil(1.0 / s.min())) + 2
        signup_w = np.exp(_SIGNUP_GROWTH_PER_YEAR * days / 365.25) * np.sqrt(s)
        self.signup = _Alias(signup_w)

    def cum_at(self, t: np.ndarray) -> np.ndarray:
        """Integrated intensity from day 0 to (fractional) day ``t``."""
        d = np.minimum(t.astype(np.int64), self.n_days - 1)
        return self.cum[d] + (t - d) * self.intensity[d]

    def day_of_cum(self, c: np.ndarray) -> np.ndarray:
        """Day ``d`` with ``cum[d] <= c < cum[d + 1]`` (clipped to the window).

        Same as ``searchsorted(cum, c, "right") - 1``, but a table lookup plus a
        few vectorised steps is several times faster for random queries.
        """
        c = np.clip(c, 0.0, self.cum[self.n_days])
        d = self._day_at_unit[c.astype(np.int64)]
        for _ in range(self._max_steps):
            step = self.cum[d + 1] <= c
            if not step.any():
                break
            d += step
        return np.minimum(d, self.n_days - 1)


# --------------------------------------------------------------------------
# Simulation of one chunk of customers
# --------------------------------------------------------------------------


def _simulate_chunk(rng: np.random.Generator, m: int, cal: _Calendar) -> tuple[dict, dict]:
    """Customers 0..m-1 (chunk-local numbers) and their valid transaction rows."""
    n_days = cal.n_days
    # ---- customers
    signup_day = cal.signup.draw(rng, m)
    country = _COUNTRY.draw(rng, m)
    acquisition = _ACQUISITION.draw(rng, m)
    first_name = rng.integers(0, len(FIRST_NAMES), m)
    last_name = rng.integers(0, len(LAST_NAMES), m)
    customers = {
        "number": np.arange(m, dtype=np.int64),
        "signup_epoch_day": cal.epoch_day + signup_day,
        "country": country,
        "acquisition": acquisition,
        "first_name": first_name,
        "last_name": last_name,
    }

    # ---- latent behaviour
    lam = rng.gamma(_R, 1.0 / _ALPHA, m)
    p_drop = np.maximum(rng.beta(_DROPOUT_A, _DROPOUT_B, m), 1e-9)
    never = _chance(rng, _NO_PURCHASE_SHARE, m)
    delay = np.where(
        _chance(rng, _FIRST_PURCHASE_SAME_DAY, m), 0, np.ceil(rng.exponential(_FIRST_PURCHASE_DELAY_MEAN_DAYS, m))
    ).astype(np.int64)
    first_day = signup_day + delay
    buyer = ~never & (first_day < n_days)
    unit_spend = rng.gamma(_SPEND_SHAPE, _SPEND_SCALE, m)
    # channel mix: logistic-normal scatter around the acquisition channel's typical mix
    mix = _CHANNEL_MIX[acquisition] * np.exp(_CHANNEL_MIX_SIGMA * rng.standard_normal((m, len(CHANNELS))))
    mix_cdf = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
    preferred = _TOP4_ORDERS[_TOP4.draw(rng, m)]  # (m, 4) categories in order of preference
    n_preferred = _N_PREFERRED.draw(rng, m) + 1
    home_store = _STORE_OFFSET[country] + _below(rng, _STORES_PER_COUNTRY[country])

    # ---- repeat purchases (BG/NBD with seasonal time change, see module doc)
    t0 = first_day + rng.random(m)
    c0 = cal.cum_at(np.minimum(t0, n_days))
    window = lam * np.maximum(cal.cum[n_days] - c0, 0.0)  # expected events left in the window
    n_window = rng.poisson(window)
    n_before_dropout = rng.geometric(p_drop) - 1
    n_repeat = np.where(buyer, np.minimum(n_window, n_before_dropout), 0)
    spacing = rng.exponential(size=int(n_repeat.sum()))
    owner_rep = np.repeat(np.arange(m), n_repeat)
    csum = np.concatenate([[0.0], np.cumsum(spacing)])
    group_end = np.cumsum(n_repeat)
    group_start = group_end - n_repeat
    partial = csum[1:] - csum[group_start][owner_rep]
    total = csum[group_end] - csum[group_start] + rng.gamma(n_window - n_repeat + 1.0)
    transformed = window[owner_rep] * partial / total[owner_rep]  # uniform order statistics
    repeat_day = cal.day_of_cum(c0[owner_rep] + transformed / lam[owner_rep])

    buyers = np.flatnonzero(buyer)
    owner = np.concatenate([buyers, owner_rep])
    day = np.concatenate([first_day[buyers], repeat_day])
    u = rng.random(len(owner), dtype=np.float32)
    channel = (u > mix_cdf[:, 0][owner]).astype(np.int64) + (u > mix_cdf[:, 1][owner])
    tod = _seconds_of_day(rng, channel)

    # ---- a second basket on the same day, a little later, same channel
    extra = np.flatnonzero(_chance(rng, _SAME_DAY_EXTRA_SHARE, len(owner)))
    gap = 120 + rng.exponential(5400.0, len(extra)).astype(np.int64)
    opens, closes = _OPENING_SECONDS[channel[extra]], _CLOSING_SECONDS[channel[extra]]
    later = tod[extra] + gap
    extra_tod = np.where(later <= closes, later, np.maximum(tod[extra] - gap, opens))  # else earlier that day
    owner = np.concatenate([owner, owner[extra]])
    day = np.concatenate([day, day[extra]])
    channel = np.concatenate([channel, channel[extra]])
    tod = np.concatenate([tod, extra_tod])
    n_purchases = len(owner)

    # ---- what, where, how much
    u = rng.random(n_purchases, dtype=np.float32)
    pick = (u * np.sqrt(u) * n_preferred[owner]).astype(np.int64)  # favours the first preferences
    category = preferred.ravel()[owner * 4 + pick]
    explore = np.flatnonzero(~_chance(rng, _PREFERRED_SHARE, n_purchases))
    category[explore] = _CATEGORY.draw(rng, len(explore))
    store = np.full(n_purchases, -1, dtype=np.int64)  # null for online and app
    in_store = np.flatnonzero(channel == _STORE_CHANNEL)
    store_country = country[owner[in_store]]
    store[in_store] = np.where(
        _chance(rng, _HOME_STORE_SHARE, len(in_store)),
        home_store[owner[in_store]],
        _STORE_OFFSET[store_country] + _below(rng, _STORES_PER_COUNTRY[store_country]),
    )
    quantity = _QUANTITY.draw(rng, n_purchases) + 1
    noise = np.exp(rng.standard_normal(n_purchases) * _SPEND_SIGMA - 0.5 * _SPEND_SIGMA**2)  # lognormal, mean 1
    unit = unit_spend[owner] * _CATEGORY_PRICE_LEVEL[category] * noise
    ending = _ENDING_CENTS[_ENDING.draw(rng, n_purchases)]
    unit_cents = np.where(ending >= 0, unit.astype(np.int64) * 100 + ending, np.rint(unit * 100).astype(np.int64))
    unit_cents = np.maximum(unit_cents, 99)
    unit_cents[_chance(rng, _FREE_SHARE, n_purchases)] = 0
    cents = unit_cents * quantity

    # ---- refunds
    refunded = np.flatnonzero(_chance(rng, _REFUND_SHARE, n_purchases) & (cents > 0))
    refund_day = day[refunded] + _REFUND_DELAY.draw(rng, len(refunded)) + 1
    keep = refund_day < n_days
    refunded, refund_day = refunded[keep], refund_day[keep]
    q = quantity[refunded]
    partial_units = 1 + _below(rng, np.maximum(q - 1, 1))  # 1..q-1 (1 if q == 1)
    units = np.where(_chance(rng, _REFUND_FULL_SHARE, len(refunded)), q, np.minimum(partial_units, q))
    refund_tod = _seconds_of_day(rng, channel[refunded])

    owner = np.concatenate([owner, owner[refunded]])
    ts = (cal.epoch_day + np.concatenate([day, refund_day])) * 86400 + np.concatenate([tod, refund_tod])
    rows = {
        "customer_number": owner,
        "ts": ts,
        "cents": np.concatenate([cents, -unit_cents[refunded] * units]),
        "category": np.concatenate([category, category[refunded]]),
        "channel": np.concatenate([channel, channel[refunded]]),
        "quantity": np.concatenate([quantity, -units]),
        "store": np.concatenate([store, store[refunded]]),
    }
    # Customer, then time; the parts above are already runs in customer order,
    # which the stable (tim)sort exploits.
    order = np.argsort(owner * (np.int64(cal.n_days + 64) * 86400) + (ts - cal.epoch_day * 86400), kind="stable")
    return customers, {k: v[order] for k, v in rows.items()}


def _seconds_of_day(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """Time of day in seconds, by channel (store opening hours, evening peaks online)."""
    return _HOUR.draw(rng, len(channel), row=channel) * 3600 + rng.integers(0, 3600, len(channel))


def _chance(rng: np.random.Generator, p: float, size: int) -> np.ndarray:
    """``size`` Bernoulli(p) draws (p rounded to a multiple of 2**-16)."""
    return rng.integers(0, 1 << 16, size, dtype=np.uint16) < round(p * (1 << 16))


def _below(rng: np.random.Generator, n: np.ndarray) -> np.ndarray:
    """Uniform integers in ``[0, n)`` for each element of ``n`` (n < 2**16)."""
    return (rng.integers(0, 1 << 16, len(n), dtype=np.uint16).astype(np.int64) * n) >> 16


def _top4_orders() -> tuple[np.ndarray, np.ndarray]:
    """All ordered 4-tuples of distinct categories with their Plackett-Luce
    probabilities under the category popularity (sampling without replacement)."""
    from itertools import permutations

    w = _CATEGORY_POPULARITY / _CATEGORY_POPULARITY.sum()
    orders = np.array(list(permutations(range(len(CATEGORIES)), 4)), dtype=np.int64)
    p = np.ones(len(orders))
    left = np.ones(len(orders))
    for j in range(4):
        p *= w[orders[:, j]] / left
        left -= w[orders[:, j]]
    return orders, p / p.sum()


_TOP4_ORDERS, _TOP4_P = _top4_orders()


class _Alias:
    """Categorical draws by Walker's alias method: O(1) per draw, one uniform each.

    ``weights`` is one distribution (1-d) or a stack of distributions over the
    same number of outcomes (2-d, one row each); ``sample(u, row)`` maps
    uniforms ``u`` in [0, 1) to outcomes of distribution ``row``.  Exact, and
    several times faster than ``searchsorted`` on a CDF for random queries.
    """

    def __init__(self, weights) -> None:
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        n_rows, k = w.shape
        prob = np.ones((n_rows, k))
        alias = np.tile(np.arange(k), (n_rows, 1))
        for r in range(n_rows):
            scaled = w[r] / w[r].sum() * k
            small = [i for i in range(k) if scaled[i] < 1.0]
            large = [i for i in range(k) if scaled[i] >= 1.0]
            while small and large:
                lo, hi = small.pop(), large.pop()
                prob[r, lo], alias[r, lo] = scaled[lo], hi
                scaled[hi] -= 1.0 - scaled[lo]
                (small if scaled[hi] < 1.0 else large).append(hi)
        self.k = k
        self.prob = prob.ravel()
        self.alias = alias.ravel()

    def sample(self, u: np.ndarray, row: np.ndarray | int = 0) -> np.ndarray:
        x = u * self.k
        slot = np.minimum(x.astype(np.int64), self.k - 1)
        fraction = x - slot
        slot += row * self.k
        return np.where(fraction < self.prob[slot], slot - row * self.k, self.alias[slot])

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.sample(rng.random(size))


class _Table:
    """Categorical draws through a lookup table of 2**16 entries: one 16-bit
    random integer and one gather per draw.

    Probabilities are rounded to multiples of 2**-16 (largest remainder, so an
    outcome of weight 0 is never drawn).  For small vocabularies; ``weights``
    may be a stack of distributions (2-d, one row each, picked per draw).
    """

    BITS = 16

    def __init__(self, weights) -> None:
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        size = 1 << self.BITS
        rows = []
        for row in w:
            exact = row / row.sum() * size
            counts = np.floor(exact).astype(np.int64)
            short = size - int(counts.sum())
            counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
            rows.append(np.repeat(np.arange(len(row), dtype=np.int32), counts))
        self.table = np.concatenate(rows)

    def draw(self, rng: np.random.Generator, size: int, row: np.ndarray | int = 0) -> np.ndarray:
        r = rng.integers(0, 1 << self.BITS, size, dtype=np.uint16)
        if isinstance(row, int) and row == 0:
            return self.table[r]
        return self.table[(np.asarray(row, dtype=np.int64) << self.BITS) + r]


_COUNTRY = _Table(_COUNTRY_P)
_ACQUISITION = _Table(_ACQUISITION_P)
_CATEGORY = _Table(_CATEGORY_POPULARITY)
_N_PREFERRED = _Table(_N_PREFERRED_P)
_TOP4 = _Alias(_TOP4_P)  # 1680 outcomes: exact alias method
_HOUR = _Table(_HOUR_WEIGHTS)  # one row per channel
# quantity 1.._MAX_QUANTITY ~ Geometric(_QUANTITY_P), truncated
_QUANTITY = _Table(_QUANTITY_P * (1 - _QUANTITY_P) ** np.arange(_MAX_QUANTITY))
# price endings: .99, .49, .95 or as calculated
_ENDING_CENTS = np.array([99, 49, 95, -1])
_ENDING = _Table([0.55, 0.10, 0.07, 0.28])
# refund delay - 1 in days ~ Geometric(_REFUND_DELAY_P), truncated at _REFUND_MAX_DELAY_DAYS
_REFUND_DELAY = _Table(_REFUND_DELAY_P * (1 - _REFUND_DELAY_P) ** np.arange(_REFUND_MAX_DELAY_DAYS))


# --------------------------------------------------------------------------
# Bad rows and Arrow tables
# --------------------------------------------------------------------------


def _transactions_table(
    rows: dict,
    schema: pa.Schema,
    *,
    id_offset: int,
    bad_start: int,
    n_bad: int,
    rng: np.random.Generator,
    id_digits: int,
) -> tuple[pa.Table, np.ndarray]:
    """Valid rows plus ``n_bad`` bad rows as a table in file order.

    ``bad_start`` is the global number of the first bad row (kinds go
    round-robin over that numbering); ``id_offset`` the number of distinct
    transaction ids written so far.
    """
    n_kinds = len(BAD_ROW_KINDS)
    v = len(rows["ts"])
    kind = (bad_start + np.arange(n_bad)) % n_kinds
    kind_counts = np.bincount(kind, minlength=n_kinds)
    if n_bad == 0:
        out = rows
        out_kind = None
        id_number = id_offset + np.arange(1, v + 1, dtype=np.int64)
    else:
        template = rng.integers(0, max(v, 1), n_bad)
        is_dup = kind == _K_DUPLICATE
        template[is_dup] = rng.choice(v, size=int(is_dup.sum()), replace=int(is_dup.sum()) > v) if v else 0
        # Placement: a bad row right after its template; a duplicate anywhere after its original.
        u = rng.random(n_bad)
        key = np.where(is_dup, template + u * (v - template), template + u)
        order = np.argsort(np.concatenate([np.arange(v, dtype=np.float64), key]), kind="stable")
        src = np.concatenate([np.arange(v), template])[order]
        out_kind = np.concatenate([np.full(v, -1), kind])[order]
        out = {name: values[src] for name, values in rows.items()}
        # Ids: consecutive over the rows that are not duplicates; duplicates copy their original's.
        out_dup = out_kind == _K_DUPLICATE
        id_number = id_offset + np.cumsum(~out_dup)
        position_of_valid = np.empty(v, dtype=np.int64)
        position_of_valid[src[out_kind == -1]] = np.flatnonzero(out_kind == -1)
        id_number[out_dup] = id_number[position_of_valid[src[out_dup]]]
        future = out_kind == _K_FUTURE
        out["ts"][future] = _FUTURE_EPOCH_SECONDS + rng.integers(0, 365 * 86400, int(future.sum()))
    n = len(id_number)
    ts, cents, store = out["ts"], out["cents"], out["store"]
    customer_id = _Text(_digit_matrix(b"C", out["customer_number"], id_digits))
    if schema.field("transacted_at").type == pa.string():
        transacted_at = _Text(_iso_timestamp_matrix(ts))
    else:
        transacted_at = _arrow(ts * 1_000_000, pa.timestamp("us"))
    amount_type = schema.field("amount").type
    if amount_type == pa.float64():
        amount = _arrow(cents / 100.0)
    elif amount_type == pa.string():
        amount = _amount_text(cents)
    else:  # CSV without bad rows: a decimal prints unquoted with two places
        amount = _decimal_from_cents(cents)

    if out_kind is not None:
        blank = _chance(rng, 0.5, n)  # missing values: half null, half empty string
        for column, k in (
            (customer_id, _K_MISSING_CUSTOMER),
            (transacted_at, _K_MISSING_TS),
            (amount, _K_MISSING_AMOUNT),
        ):
            rows_k = np.flatnonzero(out_kind == k)
            values = np.where(blank[rows_k], "", None)  # type: ignore[call-overload]  # numpy stubs: no str/None overload
            column.set(rows_k, values.tolist())
        rows_k = np.flatnonzero(out_kind == _K_BAD_TS)
        choice = rng.integers(0, len(_UNPARSEABLE_TIMESTAMPS), len(rows_k))
        transacted_at.set(rows_k, [_UNPARSEABLE_TIMESTAMPS[c] for c in choice.tolist()])
        rows_k = np.flatnonzero(out_kind == _K_BAD_AMOUNT)
        amount.set(rows_k, _unparseable_amounts(rng, cents[rows_k]))

    columns = [
        _fixed_width_strings(b"T", id_number, _TRANSACTION_ID_DIGITS),
        customer_id.to_arrow(),
        transacted_at.to_arrow() if isinstance(transacted_at, _Text) else transacted_at,
        amount.to_arrow() if isinstance(amount, _Text) else amount,
        _vocabulary_column(("EUR",), np.zeros(n, dtype=np.int32)),
        _vocabulary_column(CATEGORIES, out["category"]),
        _vocabulary_column(CHANNELS, out["channel"]),
        _arrow(out["quantity"].astype(np.int32)),
        _vocabulary_column(_STORE_IDS, store, valid=store >= 0),  # null for online and app
    ]
    return pa.Table.from_arrays(columns, schema=schema), kind_counts


def _unparseable_amounts(rng: np.random.Generator, cents: np.ndarray) -> list[str]:
    values = []
    for c, style in zip(cents.tolist(), rng.integers(0, 6, len(cents)).tolist(), strict=True):
        text = f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"
        values.append(
            (f"{text.replace('.', ',')} EUR", f"EUR {text}", f"\u20ac{text}", "abc", "n/a", f"{text}.00")[style]
        )
    return values


def _customers_table(customers: dict, schema: pa.Schema, id_digits: int) -> pa.Table:
    number = customers["number"]
    full_name = _vocabulary_column(_FULL_NAMES, customers["first_name"] * len(LAST_NAMES) + customers["last_name"])
    columns = [
        _fixed_width_strings(b"C", number, id_digits),
        _arrow(customers["signup_epoch_day"].astype(np.int32), pa.date32()),
        _vocabulary_column(COUNTRIES, customers["country"]),
        _vocabulary_column(ACQUISITION_CHANNELS, customers["acquisition"]),
        _fixed_width_strings(b"c", number, id_digits, suffix=b"@example.com"),
        full_name,
    ]
    return pa.Table.from_arrays(columns, schema=schema)


# Arrow arrays are built from numpy buffers directly: pyarrow.array() would import
# pandas (seconds of start-up) just to check whether its argument is a pandas object.


def _arrow(values: np.ndarray, type_: pa.DataType | None = None, valid: np.ndarray | None = None) -> pa.Array:
    """Zero-copy Arrow array of a 1-d numpy array (numeric or bool), optionally with nulls."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        data, type_ = pa.py_buffer(np.packbits(values, bitorder="little")), pa.bool_()
    else:
        data, type_ = pa.py_buffer(values), type_ or pa.from_numpy_dtype(values.dtype)
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(type_, len(values), [validity, data])


def _string_array(values) -> pa.Array:
    """String array from a sequence of ``str`` or ``None`` (null)."""
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = np.array([v is not None for v in values], dtype=np.bool_)
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [pa.py_buffer(np.packbits(valid, bitorder="little")), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
    )


@functools.cache
def _dictionary(vocabulary: tuple[str, ...]) -> pa.Array:
    return _string_array(vocabulary)


def _vocabulary_column(vocabulary: tuple[str, ...], indices: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Dictionary-encoded string column: written as plain strings (with a
    parquet dictionary page), but no per-row string copies are built."""
    codes = np.asarray(indices, dtype=np.int32)
    if valid is not None:
        codes = np.where(valid, codes, 0)
    return pa.DictionaryArray.from_arrays(_arrow(codes, valid=valid), _dictionary(vocabulary))


def _strings_from_matrix(
    buf: np.ndarray, start: np.ndarray | None = None, valid: np.ndarray | None = None
) -> pa.Array | pa.ChunkedArray:
    """String array whose row ``i`` is ``buf[i, start[i]:]`` (the whole row when
    ``start`` is None), null where ``valid`` is False; no Python objects."""
    n, width = buf.shape
    per_piece = max(1, _MAX_STRING_BYTES // max(width, 1))
    pieces = []
    for lo in range(0, max(n, 1), per_piece):
        part = buf[lo : lo + per_piece]
        validity = None if valid is None else pa.py_buffer(np.packbits(valid[lo : lo + per_piece], bitorder="little"))
        if start is None:
            data = np.ascontiguousarray(part)
            offsets = np.arange(len(part) + 1, dtype=np.int32) * np.int32(width)
        else:
            first = start[lo : lo + per_piece]
            offsets = np.zeros(len(part) + 1, dtype=np.int32)
            np.cumsum(width - first, out=offsets[1:])
            short = np.flatnonzero(first)
            if len(short) > len(part) // 16:  # many short rows: select bytes with a mask
                data = part[np.arange(width) >= first[:, None]]  # row-major: the strings, concatenated
            else:  # a few short rows: copy the runs of full rows between them as blocks
                blocks, previous = [], 0
                for row in short.tolist():
                    blocks += [part[previous:row].ravel(), part[row, first[row] :]]
                    previous = row + 1
                blocks.append(part[previous:].ravel())
                data = np.concatenate(blocks)
        pieces.append(
            pa.Array.from_buffers(pa.string(), len(part), [validity, pa.py_buffer(offsets), pa.py_buffer(data)])
        )
    return pieces[0] if len(pieces) == 1 else pa.chunked_array(pieces)


class _Text:
    """A string column being built in a byte matrix, right-aligned: row ``i``
    is ``buf[i, start[i]:]``.  ``set`` overwrites a few rows (bad rows) with
    arbitrary strings or None (null)."""

    def __init__(self, buf: np.ndarray, start: np.ndarray | None = None) -> None:
        self.buf = buf
        self.start = start
        self.valid: np.ndarray | None = None

    def set(self, rows: np.ndarray, values: list[str | None]) -> None:
        if len(rows) == 0:
            return
        encoded = [b"" if v is None else v.encode() for v in values]
        n, width = self.buf.shape
        if self.start is None:
            self.start = np.zeros(n, dtype=np.int64)
        grow = max(len(b) for b in encoded) - width
        if grow > 0:  # widen on the left
            self.buf = np.concatenate([np.zeros((n, grow), dtype=np.uint8), self.buf], axis=1)
            self.start += grow
            width += grow
        for row, b in zip(rows.tolist(), encoded, strict=True):
            self.buf[row, width - len(b) :] = np.frombuffer(b, dtype=np.uint8)
            self.start[row] = width - len(b)
        nulls = [row for row, v in zip(rows.tolist(), values, strict=True) if v is None]
        if nulls:
            if self.valid is None:
                self.valid = np.ones(n, dtype=np.bool_)
            self.valid[nulls] = False

    def to_arrow(self) -> pa.Array | pa.ChunkedArray:
        return _strings_from_matrix(self.buf, self.start, self.valid)


def _digit_matrix(prefix: bytes, numbers: np.ndarray, digits: int, suffix: bytes = b"") -> np.ndarray:
    """Rows ``prefix`` + zero-padded decimal ``numbers`` + ``suffix`` (numbers must fit in ``digits``)."""
    width = len(prefix) + digits + len(suffix)
    buf = np.empty((len(numbers), width), dtype=np.uint8)
    buf[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    buf[:, len(prefix) + digits :] = np.frombuffer(suffix, dtype=np.uint8)
    _put_digits(buf, len(prefix), digits, np.asarray(numbers, dtype=np.int64))
    return buf


def _fixed_width_strings(prefix: bytes, numbers: np.ndarray, digits: int, suffix: bytes = b"") -> pa.Array:
    """``prefix`` + zero-padded decimal ``numbers`` + ``suffix`` as a string array."""
    return _strings_from_matrix(_digit_matrix(prefix, numbers, digits, suffix))


# "00".."99" as 2-byte units: one gather writes two ASCII digits.
_DIGIT_PAIRS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)], dtype=np.uint8).view(np.uint16).ravel()


def _put_digits(buf: np.ndarray, pos: int, digits: int, value: np.ndarray) -> None:
    """Write ``value`` zero-padded to ``digits`` ASCII digits into ``buf[:, pos:pos + digits]``."""
    n_pairs = (digits + 1) // 2
    pairs = np.empty((len(value), n_pairs), dtype=np.uint16)
    x = value.copy()
    for k in range(n_pairs - 1, -1, -1):
        pairs[:, k] = _DIGIT_PAIRS[x % 100]
        x //= 100
    buf[:, pos : pos + digits] = pairs.view(np.uint8)[:, 2 * n_pairs - digits :]


@functools.cache
def _time_of_day_bytes() -> np.ndarray:
    """ "HH:MM:SS" (as S8 items) for every second of a day."""
    tod = np.arange(86400)
    buf = np.empty((86400, 8), dtype=np.uint8)
    buf[:, 2] = buf[:, 5] = ord(":")
    for pos, value in ((0, tod // 3600), (3, tod // 60 % 60), (6, tod % 60)):
        _put_digits(buf, pos, 2, value)
    return buf.view("S8").ravel()


_ISO_TIMESTAMP = np.dtype({"names": ["date", "sep", "time"], "formats": ["S10", "S1", "S8"], "offsets": [0, 10, 11]})


def _iso_timestamp_matrix(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as rows "YYYY-MM-DDTHH:MM:SS" of an (n, 19) byte matrix."""
    days = seconds // 86400
    tod = seconds - days * 86400
    rows = np.empty(len(seconds), dtype=_ISO_TIMESTAMP)
    if len(seconds) == 0:
        return rows.view(np.uint8).reshape(0, 19)
    first, last = int(days.min()), int(days.max())
    calendar: np.ndarray
    day_index: np.ndarray  # both declared once: mypy 1.19 crashes on the tuple assignment below otherwise
    if last - first < 200_000:  # the dates of a contiguous range of days, then a gather
        day_index = days - first
        calendar = np.arange(first, last + 1)
    else:  # far-apart dates (e.g. 2099 among 2024): only the distinct days
        calendar, day_index = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(calendar.astype("datetime64[D]")).astype("S10")
    # gathers of fixed-size items into the fields of one 19-byte record per row
    rows["date"] = dates[day_index]
    rows["sep"] = b"T"
    rows["time"] = _time_of_day_bytes()[tod]
    return rows.view(np.uint8).reshape(-1, 19)


def _amount_text(cents: np.ndarray) -> _Text:
    """Integer cents as "-1234.50"-style text (exactly two decimals)."""
    n = len(cents)
    negative = cents < 0
    units, hundredths = np.divmod(np.abs(cents), 100)
    n_digits = np.ones(n, dtype=np.int64)
    top = int(units.max()) if n else 0
    power = 10
    while power <= top:
        n_digits += units >= power
        power *= 10
    max_digits = int(n_digits.max()) if n else 1
    width = 1 + max_digits + 3  # sign, digits, ".", two decimals
    buf = np.empty((n, width), dtype=np.uint8)
    _put_digits(buf, 1, max_digits, units)
    buf[:, width - 3] = ord(".")
    _put_digits(buf, width - 2, 2, hundredths)
    start = width - 3 - n_digits - negative
    buf[np.flatnonzero(negative), start[negative]] = ord("-")
    return _Text(buf, start)


def _decimal_from_cents(cents: np.ndarray) -> pa.Array:
    """Exact decimal128(18, 2) array from integer cents."""
    words = np.empty((len(cents), 2), dtype=np.int64)  # little-endian 128-bit two's complement
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])
