"""The loyalty warehouse run as Prefect flows: the daily pipeline and its backfill.

Each line of a flow is one step; the code of the steps lives in the `loyalty` package
(`loyalty.pipeline` does the work, `loyalty.orchestration` adds retries, the warehouse lock
and the published summary). `loyalty run` and `loyalty demo` start `loyalty_pipeline`;
flows/serve.py and prefect.yaml put it on a daily schedule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow

from loyalty.orchestration import tasks as step
from loyalty.orchestration.backfill import backfill_dates
from loyalty.orchestration.naming import backfill_run_name, pipeline_run_name
from loyalty.pipeline import Summary

DEFAULT_LOCK_TIMEOUT_SECONDS = 1800.0


@flow(name="loyalty-pipeline", flow_run_name=pipeline_run_name, validate_parameters=True)
def loyalty_pipeline(
    transactions: str,
    customers: str | None = None,
    as_of: dt.date | None = None,
    warehouse: str | None = None,
    full_refresh: bool = False,
    target: str = "duckdb",
    variables: dict[str, Any] | None = None,
    calibration_end: dt.date | None = None,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    surveys: str | None = None,
    balances: str | None = None,
) -> Summary:
    """Load raw input, build, test and validate the warehouse in its work location, publish it
    all at once, and publish its headline numbers.

    Args:
        transactions: transactions file, folder or glob (CSV or Parquet).
        customers: optional customers file, folder or glob.
        as_of: the date the marts describe; empty = latest valid transaction date not after today.
        warehouse: the published DuckDB file analysts read (spark: folder); empty = $LOYALTY_WAREHOUSE,
            else build/loyalty.duckdb (build/loyalty-spark). Runs write beside it, in <warehouse>.work/.
        full_refresh: rebuild incremental models from scratch (dbt --full-refresh).
        target: dbt target (duckdb, or spark).
        variables: dbt vars for this run on top of dbt_project.yml (e.g. {"clv_margin": 0.3}).
        calibration_end: CLV holdout check calibrates up to this date (default: as-of - clv_holdout_days).
        lock_timeout_seconds: how long to wait for another run on the same warehouse to finish.
        surveys: optional survey responses file, folder or glob (NPS, CSAT, CSI attributes).
        balances: optional balances file, folder or glob (customer_id, balance_date, product, balance).
    """
    config = step.run_config(
        transactions=transactions,
        customers=customers,
        as_of=as_of,
        warehouse=warehouse,
        full_refresh=full_refresh,
        target=target,
        variables=dict(variables or {}),
        calibration_end=calibration_end,
        surveys=surveys,
        balances=balances,
    )
    with step.hold_warehouse(config, lock_timeout_seconds):
        step.prepare_work(config)  # every step until publish writes the work location only
        step.load_raw_input(config)
        step.build_inputs(config)
        step.validate_raw_input(config)
        step.build_marts(config)
        step.fit_clv(config)
        step.build_clv_marts(config)
        step.validate_marts(config)
        step.publish(config)  # all at once: analysts see the last good run until here
        summary = step.summarize_marts(config)
        report = step.write_report(config)
        step.publish_run_summary(config, summary, links={"Report (HTML, opens offline)": str(report)})
    return summary


@flow(name="loyalty-backfill", flow_run_name=backfill_run_name, validate_parameters=True)
def loyalty_backfill(
    transactions: str,
    customers: str | None = None,
    as_of_dates: list[dt.date] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    every: str = "month",
    warehouse: str | None = None,
    full_refresh: bool = False,
    target: str = "duckdb",
    variables: dict[str, Any] | None = None,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> list[Summary]:
    """Run the pipeline for each as-of date in order (a list, or every month/week/day end from
    start to end), holding the warehouse for the whole series; full_refresh applies to the first."""
    dates = backfill_dates(as_of_dates, start, end, every)
    config = step.run_config(transactions=transactions, customers=customers, warehouse=warehouse, target=target)
    with step.hold_warehouse(config, lock_timeout_seconds):
        return [
            loyalty_pipeline(
                transactions,
                customers,
                as_of=as_of,
                warehouse=str(config.warehouse),
                full_refresh=full_refresh and i == 0,
                target=target,
                variables=variables,
                lock_timeout_seconds=lock_timeout_seconds,
            )
            for i, as_of in enumerate(dates)
        ]
