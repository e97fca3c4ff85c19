"""Incremental loading of the transactions export: load only what was not loaded before.

A scheduled run points at a growing export: new files arriving in a folder, or a CSV file
that grows by appended rows. The warehouse keeps a manifest of what it loaded,
`raw._loaded_files` (one row per file: path, file index, size, mtime, a SHA-256 fingerprint
of the loaded prefix and the rows loaded from it). Each run compares the input with it:

- a file not in the manifest is new: it gets the next file index (indexes never change, so
  `raw_row_id` = file index x 10^12 + row number is stable across runs; new files always get
  higher ids than every row loaded before) and all its rows are appended;
- a file whose first `size_bytes` bytes still have the recorded fingerprint is unchanged (same
  size) or has grown (a CSV file that ended with a line break and got more lines): only its rows
  after `rows_loaded` are appended;
- any other difference (rewritten, truncated, edited, or a Parquet file that changed) raises
  `ChangedInputError`: its rows are already in the marts, so loading it again would count them
  twice. `--full-refresh` reloads everything from scratch.

Everything is loaded from scratch (raw.transactions replaced, the manifest rewritten and the
incremental dbt models dropped, so that dbt rebuilds them in full) when the warehouse has no
manifest yet, on `--full-refresh`, or when a file loaded before is no longer in the input (a
different export, not a continuation of the loaded one). The load and the manifest change in one
DuckDB transaction: a killed load leaves both as they were.

The incremental models keep rows built by earlier runs, so those rows must mean what new rows
mean: the dbt vars that decide their values (DEFINITION_VARS: the business time zone, the
plausible dates, the active window) are recorded with the manifest (`raw._model_settings`),
and so is a fingerprint of the code that computes them (INCREMENTAL_CODE: the SQL of the
incremental models, of the models they read and of the project's macros), so that a new
version of the project (a fixed definition, a new column) does not keep rows of the old one
beside its own. A run whose values differ from the recorded ones (or that finds none
recorded) drops the incremental models, in the same transaction, so that dbt rebuilds them in
full with the new values; the raw rows, which are text, stay loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from loyalty.errors import InputError
from loyalty.project import dbt_vars, project_dir

MANIFEST = "raw._loaded_files"
ROW_ID_FILE_FACTOR = 10**12
# dbt models built incrementally from raw.transactions (relation names in the warehouse). A load
# from scratch drops them so that the next dbt build rebuilds them in full even without
# --full-refresh: raw_row_ids of a new export say nothing about the rows already classified.
INCREMENTAL_RELATIONS = (
    "intermediate.int_transaction_dates",
    "intermediate.int_transactions_validated",
    "intermediate.int_customer_purchase_days",
    "intermediate.int_customer_totals",
    "marts.fct_transactions",
    "marts.fct_customer_months",
)
_HASH_CHUNK = 8 * 1024 * 1024
SETTINGS = "raw._model_settings"
# The dbt vars that the rows of the incremental models depend on: read by those models, by the
# models and views they read, or by the macros of either (tests_py/test_incremental.py derives
# the list from dbt's manifest and compares). The as-of date is not one: the incremental models
# handle it themselves (README "Incremental daily runs").
DEFINITION_VARS = ("active_window_days", "business_time_zone", "max_plausible_date", "min_plausible_date")


# The project's files whose text decides the incremental models' rows, as glob patterns under
# the project folder: the incremental models, every model they read (transitively), the sources
# those read, and the project's macros (all of them: a macro's change is rare and cheap to
# rebuild for). tests_py/test_incremental.py derives the files from dbt's manifest and checks
# that the patterns cover them. YAML descriptions and data tests do not change rows: left out.
INCREMENTAL_CODE = (
    "macros/**/*.sql",
    "models/staging/raw/*.sql",
    "models/staging/raw/__sources.yml",
    "models/intermediate/transactions/*.sql",
    "models/intermediate/customers/*.sql",
    "models/intermediate/calendar/*.sql",
    "models/marts/core/fct_transactions.sql",
    "models/marts/retention/fct_customer_months.sql",
)
CODE_SETTING = "incremental_models_code"


def code_files(root: Path) -> list[Path]:
    """The files of INCREMENTAL_CODE under the project folder `root`, sorted."""
    return sorted({path for pattern in INCREMENTAL_CODE for path in root.glob(pattern) if path.is_file()})


def code_fingerprint(root: Path | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the INCREMENTAL_CODE files' paths and contents."""
    root = project_dir() if root is None else root
    digest = hashlib.sha256()
    for path in code_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def definition_settings(variables: dict[str, Any] | None = None) -> dict[str, str]:
    """The values of DEFINITION_VARS a run builds with (its own vars over dbt_project.yml's), as
    JSON, and the fingerprint of the incremental models' code (CODE_SETTING)."""
    values = dbt_vars(variables)
    settings = {name: json.dumps(values.get(name), default=str) for name in DEFINITION_VARS}
    settings[CODE_SETTING] = json.dumps(code_fingerprint())
    return settings


class ChangedInputError(InputError):
    """A transactions file that was loaded by an earlier run changed (not only grew by appended rows)."""

    exit_code = 3


@dataclass
class FileLoad:
    """What one run loads from one file."""

    path: Path
    file_index: int
    skip_rows: int  # rows of the file already loaded (a grown file); 0 for a new file
    status: str  # new | grown | unchanged


@dataclass
class IncrementalLoad:
    """The outcome of load_transactions."""

    from_scratch: bool
    reason: str
    files: list[FileLoad] = field(default_factory=list)
    rows_added: int = 0
    rows_total: int = 0
    # why the incremental models are dropped and rebuilt in full although the raw rows load
    # incrementally (the settings they were built with changed); '' when they are not
    models_rebuilt: str = ""

    def describe(self) -> str:
        counts = {s: sum(1 for f in self.files if f.status == s) for s in ("new", "grown", "unchanged")}
        how = f"from scratch ({self.reason})" if self.from_scratch else "incrementally"
        rebuilt = f" The incremental models are rebuilt in full: {self.models_rebuilt}." if self.models_rebuilt else ""
        return (
            f"Loaded {self.rows_added:,} new transaction rows {how}: {counts['new']} new, "
            f"{counts['grown']} grown, {counts['unchanged']} unchanged file(s); "
            f"{self.rows_total:,} rows in raw.transactions.{rebuilt}"
        )


def fingerprint(path: Path, n_bytes: int) -> str:
    """SHA-256 of the first n_bytes bytes of the file."""
    digest = hashlib.sha256()
    remaining = n_bytes
    with path.open("rb") as handle:
        while remaining > 0:
            chunk = handle.read(min(_HASH_CHUNK, remaining))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def _ends_with_line_break(path: Path, n_bytes: int) -> bool:
    if n_bytes == 0:
        return True
    with path.open("rb") as handle:
        handle.seek(n_bytes - 1)
        return handle.read(1) in (b"\n", b"\r")


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


@dataclass
class _Loaded:
    file_index: int
    size_bytes: int
    mtime_ns: int
    fingerprint: str
    rows_loaded: int


def _manifest(con: duckdb.DuckDBPyConnection) -> dict[str, _Loaded]:
    rows = con.execute(
        f"select path, file_index, size_bytes, mtime_ns, fingerprint, rows_loaded from {MANIFEST}"
    ).fetchall()
    return {str(r[0]): _Loaded(int(r[1]), int(r[2]), int(r[3]), str(r[4]), int(r[5])) for r in rows}


def _settings_change(con: duckdb.DuckDBPyConnection, settings: dict[str, str]) -> str:
    """Why the incremental models cannot keep their rows under `settings` ('' when they can)."""
    if not _table_exists(con, SETTINGS):
        return "the settings they were built with are not recorded"
    recorded = dict(con.execute(f"select name, value from {SETTINGS}").fetchall())
    changed = [
        _change(name, recorded.get(name), value) for name, value in settings.items() if recorded.get(name) != value
    ]
    return "; ".join(changed)


def _change(name: str, recorded: str | None, value: str) -> str:
    if name == CODE_SETTING:  # (a warehouse built before the fingerprint was recorded has none)
        return "their code is not the code they were built with (a new version of the project)"
    return f"{name} changed from {recorded if recorded is not None else 'unset'} to {value}"


def plan(
    con: duckdb.DuckDBPyConnection, files: list[Path], full_refresh: bool, settings: dict[str, str]
) -> IncrementalLoad:
    """Decide, without loading anything, what to load from each file (raises ChangedInputError)
    and whether the incremental models must be rebuilt in full (settings: definition_settings)."""
    result = _plan_files(con, files, full_refresh)
    if not result.from_scratch:
        result.models_rebuilt = _settings_change(con, settings)
    return result


def _plan_files(con: duckdb.DuckDBPyConnection, files: list[Path], full_refresh: bool) -> IncrementalLoad:
    if full_refresh:
        return _from_scratch(files, "--full-refresh")
    if not (_table_exists(con, MANIFEST) and _table_exists(con, "raw.transactions")):
        return _from_scratch(files, "first load of this warehouse")
    loaded = _manifest(con)
    current = {str(f) for f in files}
    gone = sorted(p for p in loaded if p not in current)
    if gone:
        more = f" and {len(gone) - 1} more" if len(gone) > 1 else ""
        return _from_scratch(files, f"{gone[0]}{more}, loaded before, is no longer in the input")
    next_index = max((e.file_index for e in loaded.values()), default=0) + 1
    result = IncrementalLoad(from_scratch=False, reason="")
    for file in files:
        entry = loaded.get(str(file))
        if entry is None:
            result.files.append(FileLoad(file, next_index, 0, "new"))
            next_index += 1
            continue
        stat = file.stat()
        if stat.st_size == entry.size_bytes and stat.st_mtime_ns == entry.mtime_ns:
            result.files.append(FileLoad(file, entry.file_index, entry.rows_loaded, "unchanged"))
            continue
        same_prefix = stat.st_size >= entry.size_bytes and fingerprint(file, entry.size_bytes) == entry.fingerprint
        if same_prefix and stat.st_size == entry.size_bytes:
            result.files.append(FileLoad(file, entry.file_index, entry.rows_loaded, "unchanged"))
        elif same_prefix and file.suffix.lower() == ".csv" and _ends_with_line_break(file, entry.size_bytes):
            result.files.append(FileLoad(file, entry.file_index, entry.rows_loaded, "grown"))
        else:
            raise ChangedInputError(
                f"The transactions file {file} changed since it was loaded ({entry.rows_loaded:,} rows, "
                f"{entry.size_bytes:,} bytes): only appending rows to a CSV file or adding files is "
                "supported, so rerun with --full-refresh to reload the whole input."
            )
    return result


def _from_scratch(files: list[Path], reason: str) -> IncrementalLoad:
    return IncrementalLoad(
        from_scratch=True,
        reason=reason,
        files=[FileLoad(f, i, 0, "new") for i, f in enumerate(files, start=1)],
    )


def load_transactions(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    select_for_file: Callable[[Path, int], str],
    full_refresh: bool = False,
    settings: dict[str, str] | None = None,
) -> IncrementalLoad:
    """Bring raw.transactions up to date with the input files and record them in the manifest,
    and the run's settings (definition_settings; default: dbt_project.yml's) beside it.

    select_for_file(file, file_index) is the loader's query for one file, with the columns
    raw_row_id, source_file, source_row_number and the transaction columns.
    """
    settings = definition_settings() if settings is None else settings
    result = plan(con, files, full_refresh, settings)
    # size, mtime and fingerprint are taken before the rows are read: a file that grows while it
    # is loaded is then seen as grown by the next run, which skips the rows counted here
    stats = {str(f.path): f.path.stat() for f in result.files if f.status != "unchanged"}
    to_load = [f for f in result.files if f.status != "unchanged"]
    selects = [
        f"select * from ({select_for_file(f.path, f.file_index)}) where source_row_number > {f.skip_rows}"
        for f in to_load
    ]
    fingerprints = {p: fingerprint(Path(p), s.st_size) for p, s in stats.items()}
    con.execute("begin transaction")
    try:
        if result.from_scratch or result.models_rebuilt:  # dbt rebuilds them in full
            for relation in INCREMENTAL_RELATIONS:
                con.execute(f"drop table if exists {relation}")
        if result.from_scratch:
            con.execute("create or replace table raw.transactions as " + " union all ".join(selects))
            con.execute(
                f"create or replace table {MANIFEST} (path varchar primary key, file_index bigint not null, "
                "size_bytes bigint not null, mtime_ns bigint not null, fingerprint varchar not null, "
                "rows_loaded bigint not null, loaded_at timestamp not null)"
            )
        else:
            before = _count(con)
            if selects:
                con.execute("insert into raw.transactions by name " + " union all ".join(selects))
        con.execute(f"create or replace table {SETTINGS} (name varchar primary key, value varchar not null)")
        con.executemany(f"insert into {SETTINGS} values (?, ?)", sorted(settings.items()))
        for f in to_load:
            (rows,) = con.execute(  # type: ignore[misc]  # fetchone() is Optional; an aggregate always returns a row
                "select coalesce(max(source_row_number), 0) from raw.transactions where raw_row_id between ? and ?",
                [f.file_index * ROW_ID_FILE_FACTOR, (f.file_index + 1) * ROW_ID_FILE_FACTOR - 1],
            ).fetchone()
            stat = stats[str(f.path)]
            con.execute(
                f"insert or replace into {MANIFEST} values (?, ?, ?, ?, ?, ?, current_timestamp)",
                [str(f.path), f.file_index, stat.st_size, stat.st_mtime_ns, fingerprints[str(f.path)], int(rows)],
            )
        result.rows_total = _count(con)
        result.rows_added = result.rows_total if result.from_scratch else result.rows_total - before
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def _count(con: duckdb.DuckDBPyConnection) -> int:
    (count,) = con.execute("select count(*) from raw.transactions").fetchone()  # type: ignore[misc]  # fetchone() is Optional; a count(*) always returns a row
    return int(count)
