"""The DuckDB engine: the warehouse is one DuckDB file.

    P   build/loyalty.duckdb                     published; analysts open it read-only
    W   build/loyalty.duckdb.work/warehouse.duckdb   the runs' work file (persists)
        build/loyalty.duckdb.work/state.json         "dirty" from a run's first write to its publish
        build/loyalty.duckdb.work/warehouse.duckdb.dbt/, .gx/   dbt's and GX's state of the runs

DuckDB lets one process write a file, and no process write it while another holds it open,
even read-only. So a run never opens P: it works on W, and publishing copies W (after a
CHECKPOINT, closed) to a temporary file beside P, fsyncs it and renames it over P, which is
atomic. A reader holding P open keeps the old file (its inode) until it reconnects; a new
connection opens the new one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from loyalty.clv.tables import (
    AS_OF_SQL,
    CUSTOMER_SCORES_COLUMNS,
    MODEL_FITS_COLUMNS,
    SPEND_ROWS_SQL,
    SUMMARY_SQL,
    TRANSACTION_ROWS_SQL,
    calibration_rows_sql,
    holdout_customers_sql,
    missing_model_fits_columns,
    opportunity_rows_sql,
)
from loyalty.duckdb_config import connect as duckdb_connect
from loyalty.engines.base import (
    MARTS_SCHEMA,
    ClvFitInputs,
    Engine,
    ExportResult,
    fsync_dir,
    read_state,
    write_state,
)
from loyalty.errors import LoyaltyError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from loyalty.clv.batches import CustomerScorer, HoldoutPredictor
    from loyalty.dbt import DbtResult
    from loyalty.load import LoadResult
    from loyalty.load_extra import ExtraLoadResult
    from loyalty.quality import QualityReport

DEFAULT_WAREHOUSE = Path("build") / "loyalty.duckdb"
WORK_FILE = "warehouse.duckdb"
PUBLISH_TMP = "publish-"  # .<P name>.publish-<pid>-<hex>: a copy being published


# Parquet key-value metadata of each exported file: the mart's description and a JSON object
# {column: description}, from the comments dbt's persist_docs wrote in the warehouse.
DESCRIPTION_KEY = "description"
COLUMN_DESCRIPTIONS_KEY = "column_descriptions"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _kv_metadata(con: duckdb.DuckDBPyConnection, mart: str) -> str:
    """The KV_METADATA option of COPY for one mart: its table and column comments."""
    row = con.execute(
        "select comment from duckdb_tables() where schema_name = ? and table_name = ?", [MARTS_SCHEMA, mart]
    ).fetchone()
    table_comment = row[0] if row else None
    columns = con.execute(
        "select column_name, comment from duckdb_columns() where schema_name = ? and table_name = ? "
        "order by column_index",
        [MARTS_SCHEMA, mart],
    ).fetchall()
    described = {str(name): str(comment) for name, comment in columns if comment}
    return (
        f"kv_metadata {{{_sql_string(DESCRIPTION_KEY)}: {_sql_string(table_comment or '')}, "
        f"{_sql_string(COLUMN_DESCRIPTIONS_KEY)}: {_sql_string(json.dumps(described))}}}"
    )


def _append_model_fits(con: duckdb.DuckDBPyConnection, fits: pd.DataFrame) -> None:
    """Append rows (columns loyalty.clv.tables.MODEL_FITS_NAMES) to clv.model_fits, its history."""
    con.execute(f"create table if not exists clv.model_fits ({MODEL_FITS_COLUMNS})")
    existing = [row[0] for row in con.execute("describe clv.model_fits").fetchall()]
    for column in missing_model_fits_columns(existing):  # a warehouse made before it was added
        con.execute(f"alter table clv.model_fits add column {column}")
    con.register("fits_frame", fits)
    con.execute("insert into clv.model_fits by name select * from fits_frame")


def days_between(start: str, end: str) -> str:
    return f"datediff('day', {start}, {end})"


def _query(work: Path, sql: str) -> pd.DataFrame:
    con = duckdb_connect(work, read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


#: customers per batch of the CLV step's scoring and holdout check (~100 MB of pandas frames)
CLV_BATCH_ROWS = 500_000


def _batches(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[pd.DataFrame]:
    """The rows of sql as pandas frames of at most CLV_BATCH_ROWS rows; one empty frame with
    the query's columns when it has no rows (so that a consumer still sees its columns)."""
    reader = con.sql(sql).to_arrow_reader(CLV_BATCH_ROWS)
    empty = True
    for batch in reader:
        if batch.num_rows:
            empty = False
            yield batch.to_pandas()
    if empty:
        yield reader.schema.empty_table().to_pandas()


def work_folder(warehouse: Path) -> Path:
    return warehouse.parent / f"{warehouse.name}.work"


def _copy_durably(source: Path, target: Path) -> None:
    """Copy source to target through a temporary file in target's folder, fsynced, then renamed."""
    tmp = target.parent / f".{target.name}.{PUBLISH_TMP}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)


class DuckDBEngine(Engine):
    target = "duckdb"
    label = "DuckDB"
    default_warehouse = DEFAULT_WAREHOUSE

    def check_warehouse_kind(self, path: Path) -> None:
        if path.is_dir():
            raise LoyaltyError(
                f"The warehouse {path} is a folder: the duckdb target needs a DuckDB file "
                "(a folder is a Spark warehouse: add --target spark)."
            )

    def work_path(self, warehouse: Path) -> Path:
        return work_folder(warehouse) / WORK_FILE

    # ---- write, audit, publish

    def prepare(self, warehouse: Path) -> list[str]:
        done: list[str] = []
        folder, work = work_folder(warehouse), self.work_path(warehouse)
        folder.mkdir(parents=True, exist_ok=True)
        # copies of killed runs: being published beside P, or being restored beside W
        for pattern, where in (
            (f".{warehouse.name}.{PUBLISH_TMP}*", warehouse.parent),
            (f".{WORK_FILE}.{PUBLISH_TMP}*", folder),
        ):
            for stale in where.glob(pattern):
                stale.unlink(missing_ok=True)
                done.append(f"Removed {stale.name}, left by a run that was stopped while copying.")
        state = read_state(folder)
        if state != "clean" or not work.exists() or not warehouse.exists():
            for leftover in (work, work.with_name(f"{WORK_FILE}.wal")):
                leftover.unlink(missing_ok=True)
            if warehouse.exists():
                _copy_durably(warehouse, work)
                why = "the last run on it did not publish" if state == "dirty" else "it was not in step with it"
                done.append(f"Restored the work file from the published warehouse {warehouse} ({why}).")
            elif state is not None:
                done.append("Started from an empty work file (there is no published warehouse yet).")
        write_state(folder, "dirty")
        return done

    def publish(self, warehouse: Path) -> None:
        work = self.work_path(warehouse)
        con = duckdb_connect(work)
        try:
            con.execute("checkpoint")
        finally:
            con.close()
        _copy_durably(work, warehouse)
        write_state(work_folder(warehouse), "clean")

    # ---- the steps' engine work

    def load(
        self,
        work: Path,
        transactions: str,
        customers: str | None,
        full_refresh: bool = False,
        variables: dict[str, Any] | None = None,
    ) -> LoadResult:
        from loyalty.load import load_raw

        # incremental: loyalty.incremental
        return load_raw(work, transactions, customers, full_refresh=full_refresh, variables=variables)

    def load_extra(self, work: Path, surveys: str | None, balances: str | None) -> ExtraLoadResult:
        from loyalty.load_extra import load_extra_raw

        return load_extra_raw(work, surveys, balances)

    def run_dbt(
        self,
        work: Path,
        args: list[str],
        variables: dict[str, Any] | None = None,
        *,
        skip_tests_enforced_by_constraints: bool = False,
    ) -> DbtResult:
        # DuckDB enforces NOT NULL: a contract's constraint fails the model's build instead
        from loyalty.dbt import run_dbt_in_process

        return run_dbt_in_process(
            args,
            work,
            variables=variables,
            target=self.target,
            skip_tests_enforced_by_constraints=skip_tests_enforced_by_constraints,
        )

    # the CLV step: one machine, so the per-customer work runs here, in batches (_batches)
    def read_clv_as_of(self, work: Path) -> dt.date | None:
        con = duckdb_connect(work, read_only=True)
        try:
            row = con.execute(AS_OF_SQL).fetchone()
        finally:
            con.close()
        return row[0] if row else None

    def read_clv_fit_inputs(self, work: Path) -> ClvFitInputs:
        return ClvFitInputs(_query(work, TRANSACTION_ROWS_SQL), _query(work, SPEND_ROWS_SQL))

    def read_calibration_rows(self, work: Path, calibration_end: dt.date, holdout_end: dt.date) -> pd.DataFrame:
        return _query(work, calibration_rows_sql(calibration_end, holdout_end, days_between))

    def read_opportunity_rows(self, work: Path, last_complete_period_end: dt.date, period: str) -> pd.DataFrame:
        return _query(work, opportunity_rows_sql(last_complete_period_end, period))

    def holdout_sums(
        self, work: Path, calibration_end: dt.date, holdout_end: dt.date, predictor: HoldoutPredictor
    ) -> pd.DataFrame:
        """The predictor's per-bucket sums of every batch of calibration customers, one after
        the other (holdout_tables adds them up)."""
        import pandas as pd

        con = duckdb_connect(work, read_only=True)
        try:
            sql = holdout_customers_sql(calibration_end, holdout_end, days_between)
            parts = [predictor(frame) for frame in _batches(con, sql)]
        finally:
            con.close()
        return pd.concat(parts, ignore_index=True)

    def write_clv_scores(self, work: Path, scorer: CustomerScorer) -> int:
        """Score the customers batch by batch into clv.customer_scores (a batch's scores depend
        on its own rows and the fits only: loyalty.clv.batches), so that the step's memory does
        not grow with the number of customers; the number of rows."""
        con = duckdb_connect(work)
        try:
            con.execute("create schema if not exists clv")
            con.execute(f"create or replace table clv.customer_scores ({CUSTOMER_SCORES_COLUMNS})")
            reader = con.cursor()  # reads while `con` writes: one DuckDB database, two connections
            try:
                for frame in _batches(reader, SUMMARY_SQL):
                    con.register("scores_batch", scorer(frame))
                    con.execute("insert into clv.customer_scores by name select * from scores_batch")
                    con.unregister("scores_batch")
            finally:
                reader.close()
            row = con.execute("select count(*) from clv.customer_scores").fetchone()
        finally:
            con.close()
        return int(row[0]) if row else 0

    def write_clv_fits(self, work: Path, fits: pd.DataFrame, holdout: pd.DataFrame) -> None:
        con = duckdb_connect(work)
        try:
            con.execute("create schema if not exists clv")
            con.register("holdout_frame", holdout)
            con.execute(
                "create or replace table clv.holdout_validation as select * replace ("
                " cast(calibration_end_date as date) as calibration_end_date,"
                " cast(holdout_end_date as date) as holdout_end_date) from holdout_frame"
            )
            _append_model_fits(con, fits)
        finally:
            con.close()

    def write_subscription_outputs(
        self, work: Path, survival: pd.DataFrame, scores: pd.DataFrame, rejected: pd.DataFrame, fits: pd.DataFrame
    ) -> None:
        con = duckdb_connect(work)
        try:
            con.execute("create schema if not exists clv")
            for name, frame in (
                ("subscription_survival", survival),
                ("subscriber_scores", scores),
                ("rejected_subscriptions", rejected),
            ):
                con.register(f"{name}_frame", frame)
                con.execute(f"create or replace table clv.{name} as select * from {name}_frame")
            _append_model_fits(con, fits)
        finally:
            con.close()

    def check_raw(self, work: Path, max_rejected_share: float) -> QualityReport:
        from loyalty.quality import validate_raw

        return validate_raw(work, max_rejected_share=max_rejected_share)

    def check_marts(self, work: Path) -> QualityReport:
        from loyalty.quality import validate_marts

        return validate_marts(work)

    def data_docs(self, warehouse: Path) -> Path | None:
        from loyalty.quality.project import data_docs_index

        index = data_docs_index(self.work_path(warehouse))
        return index if index.is_file() else None

    # ---- reading

    def connect_read_only(self, location: Path) -> duckdb.DuckDBPyConnection:
        return duckdb_connect(location, read_only=True)

    def export(self, warehouse: Path, out: Path) -> ExportResult:
        marts = self._export_folder(warehouse, out)
        rows: dict[str, int] = {}
        con = self.connect_read_only(warehouse)
        try:
            for mart in marts:
                tmp = out / f".{mart}.{uuid.uuid4().hex}.parquet"
                path = str(tmp).replace("'", "''")
                metadata = _kv_metadata(con, mart)
                con.execute(f"copy (select * from {MARTS_SCHEMA}.{mart}) to '{path}' (format parquet, {metadata})")
                tmp.replace(out / f"{mart}.parquet")
                row = con.execute(f"select count(*) from {MARTS_SCHEMA}.{mart}").fetchone()
                rows[mart] = int(row[0]) if row else 0
        finally:
            con.close()
        return ExportResult(out, {m: out / f"{m}.parquet" for m in marts}, rows)
