"""Writers: the files' Arrow schemas, a chunk's transactions and customers as Arrow tables,
the Parquet/CSV writers and the progress bar.

Columns with a small vocabulary are dictionary arrays in memory; files hold plain strings
(CSV text; parquet UTF8 columns, and no Arrow schema is stored, so every reader, pyarrow
included, sees string columns).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import bad_rows
from .parameters import (
    ACQUISITION_CHANNELS,
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    FULL_NAMES,
    LAST_NAMES,
    STORE_IDS,
    TRANSACTION_ID_DIGITS,
)
from .text import (
    Text,
    amount_text,
    arrow,
    decimal_from_cents,
    digit_matrix,
    fixed_width_strings,
    iso_timestamp_matrix,
    vocabulary_column,
)

SUPPORTED_FORMATS = (".parquet", ".csv")

VOCABULARY_TYPE = pa.dictionary(pa.int32(), pa.string())


def transactions_schema(fmt: str, has_bad: bool) -> pa.Schema:
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
            pa.field("currency", VOCABULARY_TYPE, nullable=False),
            pa.field("product_category", VOCABULARY_TYPE, nullable=False),
            pa.field("channel", VOCABULARY_TYPE, nullable=False),
            pa.field("quantity", pa.int32(), nullable=False),
            pa.field("store_id", VOCABULARY_TYPE),
        ]
    )


def customers_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("customer_id", pa.string(), nullable=False),
            pa.field("signup_at", pa.date32(), nullable=False),
            pa.field("country", VOCABULARY_TYPE, nullable=False),
            pa.field("acquisition_channel", VOCABULARY_TYPE, nullable=False),
            pa.field("email", pa.string(), nullable=False),
            pa.field("full_name", VOCABULARY_TYPE, nullable=False),
        ]
    )


def write_both(tx_writer, tx_table: pa.Table, cu_writer, cu_table: pa.Table) -> None:
    tx_writer.write_table(tx_table)
    cu_writer.write_table(cu_table)


@contextlib.contextmanager
def open_writer(path: Path, schema: pa.Schema, fmt: str):
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
def progress_bar(enabled: bool, total: int):
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


def customers_table(customers: dict, schema: pa.Schema, id_digits: int) -> pa.Table:
    number = customers["number"]
    full_name = vocabulary_column(FULL_NAMES, customers["first_name"] * len(LAST_NAMES) + customers["last_name"])
    columns = [
        fixed_width_strings(b"C", number, id_digits),
        arrow(customers["signup_epoch_day"].astype(np.int32), pa.date32()),
        vocabulary_column(COUNTRIES, customers["country"]),
        vocabulary_column(ACQUISITION_CHANNELS, customers["acquisition"]),
        fixed_width_strings(b"c", number, id_digits, suffix=b"@example.com"),
        full_name,
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def transactions_table(
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
    kind, kind_counts = bad_rows.kinds(bad_start, n_bad)
    placed = bad_rows.place(rows, kind, id_offset, rng)
    out = placed.rows
    n = len(placed.id_number)
    ts, cents, store = out["ts"], out["cents"], out["store"]
    customer_id = Text(digit_matrix(b"C", out["customer_number"], id_digits))
    if schema.field("transacted_at").type == pa.string():
        transacted_at = Text(iso_timestamp_matrix(ts))
    else:
        transacted_at = arrow(ts * 1_000_000, pa.timestamp("us"))
    amount_type = schema.field("amount").type
    if amount_type == pa.float64():
        amount = arrow(cents / 100.0)
    elif amount_type == pa.string():
        amount = amount_text(cents)
    else:  # CSV without bad rows: a decimal prints unquoted with two places
        amount = decimal_from_cents(cents)
    if placed.kind is not None:  # with bad rows every one of these three is a string column (Text)
        assert isinstance(transacted_at, Text) and isinstance(amount, Text)
        bad_rows.spoil(placed.kind, customer_id, transacted_at, amount, cents, rng)

    columns = [
        fixed_width_strings(b"T", placed.id_number, TRANSACTION_ID_DIGITS),
        customer_id.to_arrow(),
        transacted_at.to_arrow() if isinstance(transacted_at, Text) else transacted_at,
        amount.to_arrow() if isinstance(amount, Text) else amount,
        vocabulary_column(("EUR",), np.zeros(n, dtype=np.int32)),
        vocabulary_column(CATEGORIES, out["category"]),
        vocabulary_column(CHANNELS, out["channel"]),
        arrow(out["quantity"].astype(np.int32)),
        vocabulary_column(STORE_IDS, store, valid=store >= 0),  # null for online and app
    ]
    return pa.Table.from_arrays(columns, schema=schema), kind_counts
