"""Load raw input files into the warehouse's `raw` schema, exactly as given.

Every column is stored as text so that a malformed value (an amount of "12,50 EUR", a date
of "31/02/2024") is kept and can be rejected with its reason by the dbt staging layer,
instead of failing the load or being dropped. Each row gets a stable `raw_row_id`
(file index x 10^12 + row number in the file) so that every input row can be traced into
`fct_transactions` or `rejected_transactions`.

Problems with the input as a whole (no file matches, a file cannot be read, a required
column is missing, no rows at all) raise `InputError` with one sentence naming the file.
"""

from __future__ import annotations

import glob as globlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from loyalty.errors import InputError

TRANSACTION_REQUIRED = ("transaction_id", "customer_id", "transacted_at", "amount")
TRANSACTION_OPTIONAL = ("currency", "product_category", "channel", "quantity", "store_id")
CUSTOMER_REQUIRED = ("customer_id",)
CUSTOMER_OPTIONAL = ("signup_at", "country", "acquisition_channel", "email", "full_name")

ROW_ID_FILE_FACTOR = 10**12
SUPPORTED_SUFFIXES = (".csv", ".parquet")


@dataclass
class LoadResult:
    transaction_files: list[Path]
    customer_files: list[Path]
    n_transaction_rows: int
    n_customer_rows: int
    rows_per_file: dict[str, int] = field(default_factory=dict)


def resolve_files(spec: str | Path, what: str) -> list[Path]:
    """A path, a directory (its CSV and Parquet files) or a glob -> sorted list of files."""
    text = str(spec)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in globlib.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"No {what} file matches the pattern {text}.")
    else:
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not files:
                raise InputError(f"The {what} folder {text} holds no .csv or .parquet file.")
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"The {what} file {text} does not exist.")
    for file in files:
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise InputError(f"The {what} file {file} is neither .csv nor .parquet.")
    return [f.resolve() for f in files]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader(file: Path) -> str:
    if file.suffix.lower() == ".parquet":
        return f"read_parquet({_quote(str(file))}, file_row_number = true)"
    return f"read_csv({_quote(str(file))}, all_varchar = true, header = true)"


def _columns(con: duckdb.DuckDBPyConnection, file: Path, what: str) -> dict[str, str]:
    """Map canonical (lower-case, trimmed) column name -> the file's own column name."""
    try:
        described = con.execute(f"describe select * from {_reader(file)}").fetchall()
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InputError(f"Could not read the {what} file {file}: {reason}") from None
    return {str(row[0]).strip().lower(): str(row[0]) for row in described}


def _select_for_file(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    file_index: int,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    what: str,
) -> str:
    columns = _columns(con, file, what)
    missing = [c for c in required if c not in columns]
    if missing:
        names = ", ".join(missing)
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"The {what} file {file} is missing the required column{plural} {names}.")
    parts = []
    for name in required + optional:
        if name in columns:
            quoted = '"' + columns[name].replace('"', '""') + '"'
            parts.append(f"nullif(trim(cast({quoted} as varchar)), '') as {name}")
        else:
            parts.append(f"cast(null as varchar) as {name}")
    if file.suffix.lower() == ".parquet":
        row_number = "file_row_number + 1"
    else:
        row_number = "row_number() over ()"
    return (
        "select "
        + f"cast({file_index} as bigint) * {ROW_ID_FILE_FACTOR} + {row_number} as raw_row_id, "
        + f"{_quote(str(file))} as source_file, "
        + f"cast({row_number} as bigint) as source_row_number, "
        + ", ".join(parts)
        # when the row was loaded (UTC, one value per load): `dbt source freshness` reads it
        + ", cast(timezone('UTC', current_timestamp) as timestamp) as loaded_at"
        + f" from {_reader(file)}"
    )


def _load_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[Path],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    what: str,
) -> int:
    selects = [
        _select_for_file(con, file, index, required, optional, what)
        for index, file in enumerate(files, start=1)
    ]
    sql = f"create or replace table raw.{table} as " + " union all ".join(selects)
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        names = ", ".join(str(f) for f in files)
        raise InputError(f"Could not load the {what} input {names}: {reason}") from None
    (count,) = con.execute(f"select count(*) from raw.{table}").fetchone()  # type: ignore[misc]
    return int(count)


def _empty_customers(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f"cast(null as varchar) as {c}" for c in CUSTOMER_REQUIRED + CUSTOMER_OPTIONAL)
    con.execute(
        "create or replace table raw.customers as select cast(null as bigint) as raw_row_id, "
        f"cast(null as varchar) as source_file, cast(null as bigint) as source_row_number, {cols}, "
        "cast(timezone('UTC', current_timestamp) as timestamp) as loaded_at "
        "where false"
    )


def load_raw(
    warehouse: Path,
    transactions: str | Path,
    customers: str | Path | None = None,
) -> LoadResult:
    """Replace raw.transactions (and raw.customers) in the DuckDB file with the given input."""
    tx_files = resolve_files(transactions, "transactions")
    cust_files = resolve_files(customers, "customers") if customers else []
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(warehouse))
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InputError(f"Could not open the warehouse {warehouse}: {reason}") from None
    try:
        con.execute("create schema if not exists raw")
        n_tx = _load_table(con, "transactions", tx_files, TRANSACTION_REQUIRED, TRANSACTION_OPTIONAL, "transactions")
        if n_tx == 0:
            names = ", ".join(str(f) for f in tx_files)
            raise InputError(f"The transactions input {names} contains no rows.")
        if cust_files:
            n_cust = _load_table(con, "customers", cust_files, CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL, "customers")
        else:
            _empty_customers(con)
            n_cust = 0
        per_file = dict(
            con.execute("select source_file, count(*) from raw.transactions group by 1 order by 1").fetchall()
        )
    finally:
        con.close()
    return LoadResult(tx_files, cust_files, n_tx, n_cust, {str(k): int(v) for k, v in per_file.items()})
