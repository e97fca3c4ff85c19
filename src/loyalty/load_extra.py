"""Load the optional survey and balance inputs into the `raw` schema, exactly as given.

The same rules as the transactions loader (loyalty.load): a path, a folder or a glob of
CSV/Parquet files; every column kept as trimmed text (empty = null) so that a malformed
value is rejected with its reason by dbt, not by the loader; every row gets
`raw_row_id` (file index x 10^12 + 1-based row number in its file), `source_file` and
`source_row_number`.

Tables (created empty when the input is not given, so that the dbt graph is the same on
every run):

- raw.survey_responses: response_id, customer_id, responded_at, nps_score, csat_score, comment
- raw.survey_attribute_scores: one row per response row and `attr_<name>` column of the
  surveys file (raw_row_id of the response, attribute = <name>, score as text)
- raw.balances: customer_id, balance_date, product, balance

A surveys file whose `attr_<name>` column names an attribute that is not in the seed
`csi_weights` stops the run (InputError), as does a missing required column: before the run
starts (check_extra_inputs, called by the CLI before Prefect and dbt start), and again at load.

The tables are built by plain SQL on a DuckDB connection; the Spark loader builds them
the same way in an in-memory DuckDB and copies them into Spark (loyalty.spark.load_extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from loyalty.duckdb_config import connect as duckdb_connect
from loyalty.errors import InputError
from loyalty.load import ROW_ID_FILE_FACTOR, resolve_files
from loyalty.project import CSI_WEIGHTS_SEED, csi_attributes

SURVEY_REQUIRED = ("response_id", "customer_id", "responded_at")
SURVEY_OPTIONAL = ("nps_score", "csat_score", "comment")
SURVEY_ATTRIBUTE_PREFIX = "attr_"
BALANCE_REQUIRED = ("customer_id", "balance_date", "balance")
BALANCE_OPTIONAL = ("product",)
ROW_COLUMNS = ("raw_row_id", "source_file", "source_row_number")


@dataclass
class ExtraLoadResult:
    n_survey_rows: int = 0
    n_survey_attribute_scores: int = 0
    n_balance_rows: int = 0


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
    return {str(row[0]).strip().lower(): str(row[0]) for row in described if str(row[0]) != "file_row_number"}


def _numbered_file(con: duckdb.DuckDBPyConnection, file: Path, index: int, columns: dict[str, str]) -> str:
    """SELECT of the file with the row columns and every column as trimmed text (empty = null)."""
    row_number = "file_row_number + 1" if file.suffix.lower() == ".parquet" else "row_number() over ()"
    parts = [f"nullif(trim(cast({_ident(own)} as varchar)), '') as {_ident(name)}" for name, own in columns.items()]
    return (
        f"select cast({index} as bigint) * {ROW_ID_FILE_FACTOR} + {row_number} as raw_row_id, "
        f"{_quote(str(file))} as source_file, cast({row_number} as bigint) as source_row_number, "
        + ", ".join(parts)
        + f" from {_reader(file)}"
    )


def _empty(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]) -> None:
    cols = ", ".join(f"cast(null as varchar) as {c}" for c in columns)
    con.execute(
        f"create or replace table raw.{table} as select cast(null as bigint) as raw_row_id, "
        f"cast(null as varchar) as source_file, cast(null as bigint) as source_row_number, {cols} where false"
    )


def _create(con: duckdb.DuckDBPyConnection, table: str, selects: list[str], what: str, files: list[Path]) -> int:
    try:
        con.execute(f"create or replace table raw.{table} as " + " union all ".join(selects))
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        names = ", ".join(str(f) for f in files)
        raise InputError(f"Could not load the {what} input {names}: {reason}") from None
    (count,) = con.execute(f"select count(*) from raw.{table}").fetchone()  # type: ignore[misc]  # fetchone() is Optional; a count(*) always returns a row
    return int(count)


def _checked_columns(
    con: duckdb.DuckDBPyConnection, file: Path, required: tuple[str, ...], what: str
) -> dict[str, str]:
    columns = _columns(con, file, what)
    missing = [c for c in required if c not in columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"The {what} file {file} is missing the required column{plural} {', '.join(missing)}.")
    return columns


def _survey_columns(con: duckdb.DuckDBPyConnection, file: Path) -> tuple[dict[str, str], list[str]]:
    """The surveys file's columns (as _columns) and its attr_<name> columns, sorted; InputError
    for a missing required column or an attribute that is not in csi_weights."""
    columns = _checked_columns(con, file, SURVEY_REQUIRED, "surveys")
    attributes = sorted(c for c in columns if c.startswith(SURVEY_ATTRIBUTE_PREFIX))
    known = set(csi_attributes())
    unknown = [a for a in attributes if a[len(SURVEY_ATTRIBUTE_PREFIX) :] not in known]
    if unknown:
        raise InputError(
            f"The surveys file {file} has the attribute column {unknown[0]}, whose attribute is not in "
            f"{CSI_WEIGHTS_SEED} (known: {', '.join(sorted(known))})."
        )
    return columns, attributes


def load_surveys(con: duckdb.DuckDBPyConnection, spec: str | Path | None) -> tuple[int, int]:
    """raw.survey_responses and raw.survey_attribute_scores from the surveys input (empty when None)."""
    if not spec:
        _empty(con, "survey_responses", SURVEY_REQUIRED + SURVEY_OPTIONAL)
        _empty(con, "survey_attribute_scores", ("attribute", "score"))
        return 0, 0
    files = resolve_files(spec, "surveys")
    response_selects, attribute_selects = [], []
    for index, file in enumerate(files, start=1):
        columns, attributes = _survey_columns(con, file)
        numbered = f"numbered_{index}"
        con.execute(f"create or replace temp table {numbered} as {_numbered_file(con, file, index, columns)}")
        parts = [
            f"{_ident(c)} as {c}" if c in columns else f"cast(null as varchar) as {c}"
            for c in SURVEY_REQUIRED + SURVEY_OPTIONAL
        ]
        response_selects.append(f"select {', '.join(ROW_COLUMNS)}, {', '.join(parts)} from {numbered}")
        for attribute in attributes:
            name = attribute[len(SURVEY_ATTRIBUTE_PREFIX) :]
            attribute_selects.append(
                f"select {', '.join(ROW_COLUMNS)}, {_quote(name)} as attribute, {_ident(attribute)} as score "
                f"from {numbered}"
            )
    n_rows = _create(con, "survey_responses", response_selects, "surveys", files)
    if n_rows == 0:
        raise InputError(f"The surveys input {', '.join(str(f) for f in files)} contains no rows.")
    if attribute_selects:
        n_scores = _create(con, "survey_attribute_scores", attribute_selects, "surveys", files)
    else:
        _empty(con, "survey_attribute_scores", ("attribute", "score"))
        n_scores = 0
    return n_rows, n_scores


def load_balances(con: duckdb.DuckDBPyConnection, spec: str | Path | None) -> int:
    """raw.balances from the balances input (empty when None)."""
    if not spec:
        _empty(con, "balances", BALANCE_REQUIRED + BALANCE_OPTIONAL)
        return 0
    files = resolve_files(spec, "balances")
    selects = []
    for index, file in enumerate(files, start=1):
        columns = _checked_columns(con, file, BALANCE_REQUIRED, "balances")
        wanted = {c: columns[c] for c in BALANCE_REQUIRED + BALANCE_OPTIONAL if c in columns}
        numbered = _numbered_file(con, file, index, wanted)
        parts = [c if c in wanted else f"cast(null as varchar) as {c}" for c in BALANCE_REQUIRED + BALANCE_OPTIONAL]
        selects.append(f"select {', '.join(ROW_COLUMNS)}, {', '.join(parts)} from ({numbered})")
    n_rows = _create(con, "balances", selects, "balances", files)
    if n_rows == 0:
        raise InputError(f"The balances input {', '.join(str(f) for f in files)} contains no rows.")
    return n_rows


def load_extra_into(
    con: duckdb.DuckDBPyConnection, surveys: str | Path | None, balances: str | Path | None
) -> ExtraLoadResult:
    con.execute("create schema if not exists raw")
    n_surveys, n_scores = load_surveys(con, surveys)
    n_balances = load_balances(con, balances)
    return ExtraLoadResult(n_surveys, n_scores, n_balances)


def check_extra_inputs(surveys: str | Path | None, balances: str | Path | None) -> None:
    """Refuse a bad surveys or balances input before the run starts (InputError): a path that
    matches no file, a header that cannot be read, a missing required column, an attribute
    column whose attribute is not in csi_weights. The load checks the same again."""
    if not (surveys or balances):
        return
    con = duckdb_connect()
    try:
        for file in resolve_files(surveys, "surveys") if surveys else []:
            _survey_columns(con, file)
        for file in resolve_files(balances, "balances") if balances else []:
            _checked_columns(con, file, BALANCE_REQUIRED, "balances")
    finally:
        con.close()


def load_extra_raw(warehouse: Path, surveys: str | Path | None, balances: str | Path | None) -> ExtraLoadResult:
    """Replace raw.survey_responses, raw.survey_attribute_scores and raw.balances in the DuckDB file."""
    check_extra_inputs(surveys, balances)
    try:
        con = duckdb_connect(warehouse)
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InputError(f"Could not open the warehouse {warehouse}: {reason}") from None
    try:
        return load_extra_into(con, surveys, balances)
    finally:
        con.close()
