"""Run the checkpoints of one phase against a warehouse and say what they found.

For every suite whose meta `phase` is the phase (in name order):
1. its tables (meta `relation` and `requires`) must exist: a missing one is a critical
   failure that names it (every mart a suite checks is built by every run);
2. the batch is the whole relation or query, from the engine's batch source (batches.py: a
   query GX runs in DuckDB; spark_source.py: a Spark DataFrame, so that Spark computes the
   expectations), and the checkpoint of the same name runs on it: results go to the run's
   validation store. An expectation on a column the table does not have fails as "could
   not be evaluated", naming the column.
Data Docs are then built once for the phase's results (one index rebuild, not one per
checkpoint).
Expectation severities are GX's own (`critical` fails the run, `warning` is reported).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

from loyalty.quality.batches import BatchReadError, BatchSource, Catalog, as_of_date, source_for
from loyalty.quality.offline_docs import make_offline
from loyalty.quality.project import (
    close_sql_connections,
    data_docs_index,
    open_context,
    prepare_run_project,
    prune_results,
)
from loyalty.quality.report import CheckResult, QualityError, QualityReport, describe_failure

COLUMN_KWARGS = ("column", "column_A", "column_B")


def expectation_columns(kwargs: dict[str, Any]) -> tuple[str, ...]:
    columns = [kwargs[k] for k in COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
    columns += list(kwargs.get("column_list") or [])
    return tuple(columns)


def _wanted_columns(expectations: list[Any], index_columns: list[str]) -> list[str]:
    wanted: list[str] = []
    for expectation in expectations:
        kwargs = expectation.configuration.kwargs
        wanted += expectation_columns(kwargs)
        wanted += list(kwargs.get("column_set") or [])
    return wanted + index_columns


def _table_label(suite_name: str, meta: dict[str, Any]) -> str:
    return str(meta.get("label") or meta.get("relation") or suite_name)


def _index_columns(checkpoint: Any) -> list[str]:
    result_format = checkpoint.result_format
    if isinstance(result_format, dict):
        return list(result_format.get("unexpected_index_column_names") or [])
    return []


def _exception_message(info: Any) -> str | None:
    """GX's exception_info is flat, or keyed by the metric that raised (missing column etc.)."""
    if not isinstance(info, dict):
        return None
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            message = " ".join(str(candidate.get("exception_message") or "error").split())
            return message[:300]
    return None


def run_phase(
    warehouse: Path, phase: str, parameters: dict[str, Any] | None = None, source: BatchSource | None = None
) -> QualityReport:
    """Validate the warehouse with every suite of the phase; never raises on failed checks.
    `source` reads the batches (default: the DuckDB file `warehouse`, read-only)."""
    started = time.perf_counter()
    parameters = dict(parameters or {})
    report = QualityReport(phase=phase, parameters=parameters)
    if source is None:
        try:
            source = source_for(warehouse)
        except (duckdb.Error, BatchReadError) as exc:
            reason = str(exc).strip().splitlines()[0]
            raise QualityError(
                f"Could not open the warehouse {warehouse} for the {report.title} check: {reason}"
            ) from None
    try:
        run_root = prepare_run_project(warehouse, source.datasource_type, getattr(source, "url", None))
        context = open_context(run_root)
        catalog = source.catalog()
        run_id = validation_run_id(as_of_date(source, catalog))
        suites = sorted((s for s in context.suites.all() if (s.meta or {}).get("phase") == phase), key=lambda s: s.name)
        result_ids: list[Any] = []
        for suite in suites:
            result_ids += _run_suite(context, source, catalog, suite, report, run_id)
    finally:
        source.close()
    if result_ids:
        prune_results(run_root)
        context.build_data_docs(resource_identifiers=result_ids)
        make_offline(data_docs_index(warehouse).parent)
    report.data_docs = data_docs_index(warehouse)
    report.seconds = time.perf_counter() - started
    return report


def validation_run_name(as_of_date: Any) -> str:
    """GX run name of a validation: the as-of date the warehouse describes (`as-of-2024-03-31`)."""
    return f"as-of-{as_of_date}"


def validation_run_id(as_of_date: Any | None) -> Any:
    """The run's GX RunIdentifier, named by the as-of date (GX's default name is the clock time,
    which says nothing); None when the warehouse has no as-of date yet."""
    from great_expectations.core.run_identifier import RunIdentifier

    if as_of_date is None:
        return None
    return RunIdentifier(run_name=validation_run_name(as_of_date))


def _run_suite(
    context: Any,
    source: BatchSource,
    catalog: Catalog,
    suite: Any,
    report: QualityReport,
    run_id: Any = None,
) -> list[Any]:
    """Run the suite's checkpoint; return the identifiers of the stored validation results."""
    meta = dict(suite.meta or {})
    table = _table_label(suite.name, meta)
    relation = meta.get("relation")
    needed = ([relation] if relation else []) + list(meta.get("requires") or [])
    absent = [t for t in needed if t not in catalog]
    if absent:
        report.checks.append(
            CheckResult(
                suite.name,
                table,
                "table_exists",
                (),
                None,
                "critical",
                False,
                evidence=f"table {', '.join(absent)} does not exist",
            )
        )
        return []

    checkpoint = context.checkpoints.get(suite.name)
    if relation:
        sql = source.relation_sql(relation, _wanted_columns(suite.expectations, _index_columns(checkpoint)), catalog)
    else:
        sql = "\n".join(meta["query"])

    loaded = time.perf_counter()
    try:
        frame, n_rows = source.read(sql)
    except BatchReadError as exc:
        reason = str(exc)
        report.checks.append(
            CheckResult(
                suite.name, table, "read_batch", (), None, "critical", False, evidence=f"could not be read ({reason})"
            )
        )
        return []
    report.load_seconds += time.perf_counter() - loaded
    report.rows[suite.name] = n_rows

    try:
        result = _run_checkpoint(checkpoint, source.datasource_type, frame, n_rows, report.parameters, run_id)
    except Exception as exc:  # noqa: BLE001 - GX's own errors become one sentence, not a traceback
        reason = " ".join(str(exc).split())[:300]
        report.checks.append(
            CheckResult(
                suite.name,
                table,
                "checkpoint",
                (),
                None,
                "critical",
                False,
                evidence=f"checkpoint {suite.name} could not run ({reason})",
            )
        )
        return []
    for validation in result.run_results.values():
        for r in validation.results:
            config = r.expectation_config
            kwargs = dict(config.kwargs)
            exception = _exception_message(r.exception_info)
            severity = getattr(config, "severity", None)
            severity_text = str(getattr(severity, "value", severity or "critical"))
            evidence = (
                ""
                if r.success
                else describe_failure(config.type, kwargs, dict(r.result or {}), exception, report.parameters)
            )
            report.checks.append(
                CheckResult(
                    suite.name,
                    table,
                    config.type,
                    expectation_columns(kwargs),
                    (config.description if hasattr(config, "description") else None),
                    severity_text,
                    bool(r.success),
                    evidence,
                )
            )
    return list(result.run_results.keys())


# GX's SQL engine runs a batch's query once per metric (row count, unexpected count, values,
# index columns...): a batch of at most this many rows is first materialized in a temporary
# table of GX's connection, so that an expensive query of few rows (the revenue
# reconciliation: 4 rows from joins over every transaction) runs once. Larger batches are
# queried in place, so that the checks' memory does not grow with the data.
MATERIALIZE_MAX_ROWS = 100_000
_BATCH_TABLE = "loyalty_check_batch"


def _run_checkpoint(
    checkpoint: Any, datasource_type: str, batch: Any, n_rows: int, parameters: dict[str, Any], run_id: Any
) -> Any:
    """Run the checkpoint on the batch: a dataframe (pandas, Spark), or the query of GX's SQL
    data source, set on the suite's query asset; GX's connection is closed afterwards."""
    if datasource_type != "sql":
        return checkpoint.run(batch_parameters={"dataframe": batch}, expectation_parameters=parameters, run_id=run_id)
    assets = [definition.data.data_asset for definition in checkpoint.validation_definitions]
    try:
        for asset in assets:
            if n_rows > MATERIALIZE_MAX_ROWS:
                asset.query = batch
                continue
            # the query first: GX makes a new execution engine (a new connection, without the
            # temporary table) when the data source's configuration, its assets' included, changed
            asset.query = f"select * from {_BATCH_TABLE}"
            with asset.datasource.get_execution_engine().get_connection() as connection:
                connection.exec_driver_sql(f"create or replace temporary table {_BATCH_TABLE} as {batch}")
                connection.commit()  # SQLAlchemy began a transaction: GX's next query would roll it back
        return checkpoint.run(expectation_parameters=parameters, run_id=run_id)
    finally:
        for asset in assets:
            close_sql_connections(asset.datasource)


def validate(
    warehouse: Path, phase: str, parameters: dict[str, Any] | None = None, source: BatchSource | None = None
) -> QualityReport:
    """run_phase, then raise QualityError (one sentence) when a critical expectation failed."""
    report = run_phase(warehouse, phase, parameters, source)
    if not report.success:
        raise QualityError(report.failure_message(), report)
    return report
