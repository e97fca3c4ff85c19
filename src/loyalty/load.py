"""Load raw input files into the warehouse's `raw` schema, exactly as given.

Every column is stored as text so that a malformed value (an amount of "12,50 EUR", a date
of "31/02/2024") is kept and can be rejected with its reason by the dbt staging layer,
instead of failing the load or being dropped. Each row gets a stable `raw_row_id`
(file index x 10^12 + row number in the file) so that every input row can be traced into
`fct_transactions` or `rejected_transactions`.

A line that cannot be split into the header's columns (wrong number of fields, a broken
quote, bytes that are not text in the file's encoding, a JSON Lines line that is not a JSON
object) is kept as a row of its own: every value column null, the line as given in
`raw_line`, so that dbt rejects it as `malformed_line` with its row number. Nothing is lost.

Problems with the input as a whole (no file matches, a file cannot be read, a required
column is missing or named twice, no rows at all) raise `InputError` with one sentence
naming the file. `check_inputs` does these checks on the headers alone, cheaply, so that
the CLI can refuse a bad input before the orchestration starts.

Input formats: CSV (header line; delimiter and encoding from `CsvOptions`, by default `,`
and UTF-8), Parquet, JSON Lines (`.jsonl`/`.ndjson`, UTF-8, one JSON object per line).
"""

from __future__ import annotations

import csv
import glob as globlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from loyalty.duckdb_config import connect as duckdb_connect
from loyalty.errors import InputError
from loyalty.incremental import ROW_ID_FILE_FACTOR, IncrementalLoad, definition_settings, load_transactions

TRANSACTION_REQUIRED = ("transaction_id", "customer_id", "transacted_at", "amount")
TRANSACTION_OPTIONAL = ("currency", "product_category", "channel", "quantity", "store_id")
CUSTOMER_REQUIRED = ("customer_id",)
CUSTOMER_OPTIONAL = ("signup_at", "country", "acquisition_channel", "email", "full_name")

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
SUPPORTED_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES + JSONL_SUFFIXES

# Environment variables set by `loyalty run --csv-delimiter/--csv-encoding` (and usable alone).
CSV_DELIMITER_ENV = "LOYALTY_CSV_DELIMITER"
CSV_ENCODING_ENV = "LOYALTY_CSV_ENCODING"
# encodings DuckDB reads without an extension download -> (DuckDB name, Spark name)
CSV_ENCODINGS = {
    "utf-8": ("utf-8", "UTF-8"),
    "utf8": ("utf-8", "UTF-8"),
    "utf-16": ("utf-16", "UTF-16"),
    "utf16": ("utf-16", "UTF-16"),
    "latin-1": ("latin-1", "ISO-8859-1"),
    "latin1": ("latin-1", "ISO-8859-1"),
    "iso-8859-1": ("latin-1", "ISO-8859-1"),
}
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


@dataclass(frozen=True)
class CsvOptions:
    """How CSV files are read: one delimiter character and an encoding (utf-8, utf-16, latin-1)."""

    delimiter: str = ","
    encoding: str = "utf-8"

    @classmethod
    def parse(cls, delimiter: str | None, encoding: str | None) -> CsvOptions:
        """Check user-given options; an unusable value raises InputError with one sentence."""
        delim = "," if delimiter is None else _DELIMITER_NAMES.get(delimiter.lower(), delimiter)
        if len(delim) != 1 or delim in '"\r\n' or delim.isalnum():
            raise InputError(
                f"The CSV delimiter {delimiter!r} is not usable: give one character that is not a letter, "
                "digit, quote or line break (or tab, comma, semicolon, pipe)."
            )
        enc = "utf-8" if encoding is None else encoding.strip().lower()
        if enc not in CSV_ENCODINGS:
            raise InputError(
                f"The CSV encoding {encoding!r} is not supported: use utf-8, utf-16 or latin-1 "
                "(convert other encodings with iconv first)."
            )
        return cls(delim, CSV_ENCODINGS[enc][0])

    @classmethod
    def from_env(cls) -> CsvOptions:
        return cls.parse(os.environ.get(CSV_DELIMITER_ENV) or None, os.environ.get(CSV_ENCODING_ENV) or None)

    @property
    def spark_encoding(self) -> str:
        return CSV_ENCODINGS[self.encoding][1]

    @property
    def python_encoding(self) -> str:
        return {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}[self.encoding]


@dataclass
class LoadResult:
    transaction_files: list[Path]
    customer_files: list[Path]
    n_transaction_rows: int
    n_customer_rows: int
    rows_per_file: dict[str, int] = field(default_factory=dict)
    incremental: IncrementalLoad | None = None  # what this run added (loyalty.incremental)


def file_format(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    return "csv"


def resolve_files(spec: str | Path, what: str) -> list[Path]:
    """A path, a directory (its CSV, Parquet and JSON Lines files) or a glob -> sorted list of files."""
    text = str(spec)
    if any(ch in text for ch in "*?[") and not Path(text).exists():
        files = sorted(Path(p) for p in globlib.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"No {what} file matches the pattern {text}.")
    else:
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not files:
                raise InputError(f"The {what} folder {text} holds no .csv, .parquet or .jsonl file.")
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"The {what} file {text} does not exist.")
    for file in files:
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise InputError(f"The {what} file {file} is neither .csv, .parquet nor .jsonl (.ndjson).")
    return [f.resolve() for f in files]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).strip().splitlines()[:1]).strip()
    return text[:300] if text else type(exc).__name__


# ---------------------------------------------------------------- headers (cheap checks)


def _csv_header(file: Path, what: str, options: CsvOptions) -> list[str]:
    """The header line only: a bad byte further down is a malformed line, not a bad file."""
    try:
        if options.encoding == "utf-16":
            with open(file, encoding=options.python_encoding, newline="") as handle:
                first = handle.readline()
        else:
            with open(file, "rb") as handle:
                first = handle.readline().decode(options.python_encoding)
        header = next(csv.reader([first.rstrip("\r\n")], delimiter=options.delimiter), None)
    except UnicodeError:
        raise InputError(
            f"The header line of the {what} file {file} is not {options.encoding} text: "
            "give its encoding with --csv-encoding."
        ) from None
    except (OSError, csv.Error) as exc:
        raise InputError(f"Could not read the {what} file {file}: {_first_line(exc)}") from None
    if not header:
        raise InputError(f"The {what} file {file} is empty: a CSV file needs a header line.")
    return header


def _parquet_header(con: duckdb.DuckDBPyConnection, file: Path, what: str) -> list[str]:
    try:
        rows = con.execute(f"select name, num_children from parquet_schema({_quote(str(file))})").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"Could not read the {what} file {file}: {_first_line(exc)}") from None
    # rows in depth-first order; the first is the schema's root, whose children are the columns
    names: list[str] = []
    pending = [int(rows[0][1] or 0)] if rows else []
    for name, children in rows[1:]:
        if len(pending) == 1:
            names.append(str(name))
        pending[-1] -= 1
        if children:
            pending.append(int(children))
        while len(pending) > 1 and pending[-1] == 0:
            pending.pop()
    return names


def _jsonl_lines_sql(file: Path) -> str:
    """One row per line of a JSON Lines file: line number (1-based) and the line's text."""
    return (
        "select line_number, rtrim(line, chr(13)) as line from ("
        " select unnest(generate_series(1, len(parts))) as line_number, unnest(parts) as line"
        f" from (select string_split(content, chr(10)) as parts from read_text({_quote(str(file))}))"
        ") where trim(rtrim(line, chr(13))) != ''"
    )


_JSON_OBJECT = "(case when json_valid(line) then json_type(line) = 'OBJECT' else false end)"


def _jsonl_header(con: duckdb.DuckDBPyConnection, file: Path, what: str) -> list[str]:
    try:
        rows = con.execute(
            f"select distinct unnest(case when {_JSON_OBJECT} then json_keys(line) end) from ({_jsonl_lines_sql(file)})"
        ).fetchall()
        # a key given twice in one object: `distinct` above would hide it, and DuckDB would pick one
        twice = con.execute(
            f"select line_number, json_keys(line) from ({_jsonl_lines_sql(file)})"
            f" where {_JSON_OBJECT} and len(json_keys(line)) != len(list_distinct(json_keys(line)))"
            " order by line_number limit 1"
        ).fetchone()
    except duckdb.Error as exc:
        raise InputError(f"Could not read the {what} file {file} as UTF-8 JSON Lines: {_first_line(exc)}") from None
    if twice:
        line_number, keys = twice
        key = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise InputError(
            f"Line {line_number} of the {what} file {file} has the key {key!r} twice "
            "(which value is meant cannot be told): drop one."
        )
    return sorted(str(r[0]) for r in rows)


def _check_columns(names: list[str], file: Path, what: str, required: tuple[str, ...]) -> dict[str, str]:
    """Map canonical (lower-case, trimmed) column name -> the file's own column name."""
    columns: dict[str, str] = {}
    for name in names:
        canonical = name.strip().lower()
        if canonical in columns:
            raise InputError(
                f"The {what} file {file} has two columns named {canonical} "
                f"({columns[canonical]!r} and {name!r}; names are matched case-insensitively): "
                "drop or rename one."
            )
        columns[canonical] = name
    missing = [c for c in required if c not in columns]
    if missing:
        names_text = ", ".join(missing)
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"The {what} file {file} is missing the required column{plural} {names_text}.")
    return columns


def file_columns(
    con: duckdb.DuckDBPyConnection, file: Path, what: str, required: tuple[str, ...], options: CsvOptions
) -> dict[str, str]:
    """The checked columns of one input file (see _check_columns), read from its header only."""
    fmt = file_format(file)
    if fmt == "parquet":
        names = _parquet_header(con, file, what)
    elif fmt == "jsonl":
        names = _jsonl_header(con, file, what)
    else:
        names = _csv_header(file, what, options)
    return _check_columns(names, file, what, required)


def check_inputs(
    transactions: str | Path, customers: str | Path | None = None, options: CsvOptions | None = None
) -> None:
    """Refuse a bad input before anything starts: files exist, headers readable, columns complete and unique."""
    options = options or CsvOptions.from_env()
    tx_files = resolve_files(transactions, "transactions")
    cust_files = resolve_files(customers, "customers") if customers else []
    con = duckdb_connect()
    try:
        for file in tx_files:
            file_columns(con, file, "transactions", TRANSACTION_REQUIRED, options)
        for file in cust_files:
            file_columns(con, file, "customers", CUSTOMER_REQUIRED, options)
    finally:
        con.close()


# ---------------------------------------------------------------- loading


def _value(expression: str) -> str:
    return f"nullif(trim(cast({expression} as varchar)), '')"


def _csv_reader(file: Path, options: CsvOptions, rejects: str, header: list[str]) -> str:
    # the layout is given, not sniffed: a sniffer guesses (and fails on a broken quote)
    types = ", ".join(f"{_quote(name)}: 'VARCHAR'" for name in header)
    return (
        f"read_csv({_quote(str(file))}, columns = {{{types}}}, header = true, auto_detect = false,"
        f" delim = {_quote(options.delimiter)}, quote = '\"', escape = '\"',"
        f" encoding = {_quote(options.encoding)},"
        f" store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{rejects}_scan')"
    )


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    stage: str,
    columns: dict[str, str],
    names: tuple[str, ...],
    options: CsvOptions,
    what: str,
) -> None:
    """Good lines numbered in file order, then malformed lines put back in their place."""
    rejects = f"{stage}_rejects"
    selected = ", ".join(
        f"{_value(chr(34) + columns[n].replace(chr(34), chr(34) * 2) + chr(34))} as {n}"
        if n in columns
        else f"cast(null as varchar) as {n}"
        for n in names
    )
    try:
        con.execute(
            f"create or replace temp table {stage}_good as select row_number() over () as ordinal, {selected}"
            f" from {_csv_reader(file, options, rejects, list(columns.values()))}"
        )
        # one row per malformed line: its record number (line - 1: the header is line 1)
        con.execute(
            f"create or replace temp table {stage}_bad as select line - 1 as record,"
            f" row_number() over (order by line) as bad_rank,"
            f" rtrim(first(csv_line order by column_idx), chr(10) || chr(13)) as raw_line"
            f" from {rejects} group by line"
        )
    except duckdb.Error as exc:
        raise InputError(f"Could not read the {what} file {file}: {_first_line(exc)}") from None
    # good row k is record k + (number of malformed lines before it); malformed line j with
    # record r has r - j good rows before it, so it precedes good row k when r - j < k
    # count(*) always returns a row
    # (the type: ignore below: fetchone() is Optional; a count(*) always returns a row)
    (n_bad,) = con.execute(f"select count(*) from {stage}_bad").fetchone()  # type: ignore[misc]
    good_rows = f"select ordinal as record, {', '.join(names)}, cast(null as varchar) as raw_line from {stage}_good"
    if n_bad == 0:  # the usual case: no renumbering needed
        con.execute(f"create or replace temp view {stage} as {good_rows}")
        return
    nulls = ", ".join(f"cast(null as varchar) as {n}" for n in names)
    con.execute(
        f"create or replace temp table {stage} as "
        f"select g.ordinal + (select count(*) from {stage}_bad b where b.record - b.bad_rank < g.ordinal)"
        f" as record, {', '.join('g.' + n for n in names)}, cast(null as varchar) as raw_line from {stage}_good g"
        f" union all select record, {nulls}, raw_line from {stage}_bad"
    )
    con.execute(f"drop table {stage}_good; drop table {stage}_bad")


def _stage_parquet(
    con: duckdb.DuckDBPyConnection, file: Path, stage: str, columns: dict[str, str], names: tuple[str, ...]
) -> None:
    selected = ", ".join(
        f"{_value(chr(34) + columns[n].replace(chr(34), chr(34) * 2) + chr(34))} as {n}"
        if n in columns
        else f"cast(null as varchar) as {n}"
        for n in names
    )
    con.execute(
        f"create or replace temp table {stage} as select file_row_number + 1 as record, {selected},"
        f" cast(null as varchar) as raw_line from read_parquet({_quote(str(file))}, file_row_number = true)"
    )


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, file: Path, stage: str, columns: dict[str, str], names: tuple[str, ...]
) -> None:
    def extract(n: str) -> str:
        if n not in columns:
            return f"cast(null as varchar) as {n}"
        path = _quote('$."' + columns[n].replace('"', '\\"') + '"')
        return f"case when is_object then {_value(f'json_extract_string(line, {path})')} end as {n}"

    con.execute(
        f"create or replace temp table {stage} as select line_number as record, "
        + ", ".join(extract(n) for n in names)
        + ", case when not is_object then line end as raw_line"
        + f" from (select *, coalesce({_JSON_OBJECT}, false) as is_object from ({_jsonl_lines_sql(file)}))"
    )


def _file_select(
    con: duckdb.DuckDBPyConnection,
    table: str,
    file: Path,
    index: int,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    what: str,
    options: CsvOptions,
) -> str:
    """Stage one file (every line kept, malformed ones as raw_line) and return the query of its
    raw rows: raw_row_id, source_file, source_row_number, the columns as text, raw_line, loaded_at."""
    names = required + optional
    columns = file_columns(con, file, what, required, options)
    stage = f"_stage_{table}_{index}"
    fmt = file_format(file)
    try:
        if fmt == "parquet":
            _stage_parquet(con, file, stage, columns, names)
        elif fmt == "jsonl":
            _stage_jsonl(con, file, stage, columns, names)
        else:
            _stage_csv(con, file, stage, columns, names, options, what)
    except duckdb.Error as exc:
        raise InputError(f"Could not read the {what} file {file}: {_first_line(exc)}") from None
    return (
        f"select cast({index} as bigint) * {ROW_ID_FILE_FACTOR} + cast(record as bigint) as raw_row_id,"
        f" {_quote(str(file))} as source_file, cast(record as bigint) as source_row_number,"
        f" {', '.join(names)}, raw_line,"
        # when the row was loaded (UTC, one value per load): `dbt source freshness` reads it
        " cast(timezone('UTC', current_timestamp) as timestamp) as loaded_at"
        f" from {stage}"
    )


def _load_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[Path],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    what: str,
    options: CsvOptions,
) -> int:
    """Replace raw.<table> with every row of the files (the customers file: always in full)."""
    selects = [
        _file_select(con, table, file, index, required, optional, what, options)
        for index, file in enumerate(files, start=1)
    ]
    sql = f"create or replace table raw.{table} as " + " union all ".join(selects)
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        listed = ", ".join(str(f) for f in files)
        raise InputError(f"Could not load the {what} input {listed}: {_first_line(exc)}") from None
    # (the type: ignore below: fetchone() is Optional; a count(*) always returns a row)
    (count,) = con.execute(f"select count(*) from raw.{table}").fetchone()  # type: ignore[misc]
    return int(count)


def _empty_customers(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f"cast(null as varchar) as {c}" for c in CUSTOMER_REQUIRED + CUSTOMER_OPTIONAL)
    con.execute(
        "create or replace table raw.customers as select cast(null as bigint) as raw_row_id, "
        f"cast(null as varchar) as source_file, cast(null as bigint) as source_row_number, {cols}, "
        "cast(null as varchar) as raw_line, cast(timezone('UTC', current_timestamp) as timestamp) as loaded_at "
        "where false"
    )


def _refuse_malformed_customers(con: duckdb.DuckDBPyConnection) -> None:
    """Customers have no reject table: a malformed customers line stops the run, named exactly."""
    row = con.execute(
        "select source_file, source_row_number from raw.customers where raw_line is not null"
        " order by raw_row_id limit 1"
    ).fetchone()
    if row:
        raise InputError(
            f"Row {row[1]} of the customers file {row[0]} cannot be split into the header's columns "
            "(wrong number of fields, a broken quote or bytes that are not text): fix that line."
        )


def check_warehouse_folder(warehouse: Path) -> None:
    """The folder that holds the warehouse exists (or is created) and can be written; else one
    sentence (exit code 2). Every engine writes there: its work or publish folder sits beside P."""
    folder = warehouse.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"Could not create the folder {folder} for the warehouse {warehouse}: {exc.strerror or _first_line(exc)}; "
            "choose another --warehouse."
        ) from None
    # try it: os.access says yes to root on any folder, and nothing of a read-only mount or a
    # virtual file system (/proc, /sys) shows before a write fails
    try:
        handle, probe = tempfile.mkstemp(prefix=".loyalty-write-check-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(
            f"The folder {folder} of the warehouse {warehouse} cannot be written "
            f"({exc.strerror or _first_line(exc)}): choose another --warehouse."
        ) from None


def open_warehouse(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Open (create) the DuckDB warehouse for writing; any failure is one sentence."""
    check_warehouse_folder(warehouse)
    try:
        return duckdb_connect(warehouse)
    except duckdb.Error as exc:
        raise InputError(f"Could not open the warehouse {warehouse}: {_first_line(exc)}") from None


def load_raw(
    warehouse: Path,
    transactions: str | Path,
    customers: str | Path | None = None,
    options: CsvOptions | None = None,
    full_refresh: bool = False,
    variables: dict[str, Any] | None = None,
) -> LoadResult:
    """Bring raw.transactions up to date with the input, loading only rows not loaded before
    (loyalty.incremental; everything again with full_refresh), and replace raw.customers.
    variables: the run's dbt vars (the incremental models are rebuilt in full when the ones
    they depend on differ from those of the build that made them)."""
    options = options or CsvOptions.from_env()
    tx_files = resolve_files(transactions, "transactions")
    cust_files = resolve_files(customers, "customers") if customers else []
    con = open_warehouse(warehouse)
    try:
        # timestamps with time zone become UTC text with their offset (+00), on every machine
        con.execute("set TimeZone = 'UTC'")
        con.execute("create schema if not exists raw")

        def select_for_file(file: Path, file_index: int) -> str:
            return _file_select(
                con,
                "transactions",
                file,
                file_index,
                TRANSACTION_REQUIRED,
                TRANSACTION_OPTIONAL,
                "transactions",
                options,
            )

        try:
            incremental = load_transactions(
                con, tx_files, select_for_file, full_refresh, definition_settings(variables)
            )
        except duckdb.Error as exc:
            names = ", ".join(str(f) for f in tx_files)
            raise InputError(f"Could not load the transactions input {names}: {_first_line(exc)}") from None
        n_tx = incremental.rows_total
        if n_tx == 0:
            names = ", ".join(str(f) for f in tx_files)
            raise InputError(f"The transactions input {names} contains no rows.")
        if cust_files:
            n_cust = _load_table(
                con, "customers", cust_files, CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL, "customers", options
            )
            _refuse_malformed_customers(con)
        else:
            _empty_customers(con)
            n_cust = 0
        per_file = dict(
            con.execute("select source_file, count(*) from raw.transactions group by 1 order by 1").fetchall()
        )
    finally:
        con.close()
    return LoadResult(tx_files, cust_files, n_tx, n_cust, {str(k): int(v) for k, v in per_file.items()}, incremental)
