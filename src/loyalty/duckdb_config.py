"""DuckDB settings every connection of a run shares: its memory budget.

DuckDB's own default memory limit is 80% of the machine's memory, per database. A run's
process also holds pandas frames (CLV fits, data checks), so at 10M transactions a run peaked
at 11.2 GB on a 24 GiB machine. The run's DuckDB connections, dbt's included (profiles.yml,
`settings`), share one budget instead: LOYALTY_DUCKDB_MEMORY_LIMIT, a percentage of the
machine's memory or a size (`40%`, `8GB`, `512MiB`). Past it DuckDB spills to its temporary
folder beside the warehouse file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from loyalty.errors import LoyaltyError

MEMORY_LIMIT_ENV = "LOYALTY_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "40%"  # kept equal to profiles.yml's default
_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*(%|[kmgt]i?b|bytes)\s*$", re.IGNORECASE)


class ConfigError(LoyaltyError):
    """A setting (environment variable or option) has a value the project cannot use."""


def memory_limit() -> str:
    """The memory budget of the run's DuckDB connections (LOYALTY_DUCKDB_MEMORY_LIMIT or 40%)."""
    value = os.environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    if not _LIMIT.match(value) or float(re.sub(r"[^\d.]", "", value)) <= 0:
        raise ConfigError(
            f"{MEMORY_LIMIT_ENV}={value!r} is not a memory size: give a percentage of the machine's "
            "memory or a size, e.g. 40%, 8GB or 512MiB."
        )
    return value


def connect(database: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """duckdb.connect with the run's memory budget set (a SET, so that a connection to a file
    another connection of this process holds open never differs from it in configuration)."""
    limit = memory_limit()
    con = duckdb.connect(str(database), read_only=read_only)
    try:
        con.execute(f"set memory_limit = '{limit}'")
    except duckdb.Error:
        con.close()
        raise
    return con
