"""Serve the loyalty flows from this process: the daily pipeline on a cron schedule, and the
backfill on demand. Needs a Prefect server (`prefect server start`, PREFECT_API_URL set):
schedules are not created on the temporary server Prefect starts when none is configured.

    python flows/serve.py --transactions 'exports/*.parquet' --customers exports/customers.csv \
        --warehouse build/loyalty.duckdb --cron '0 6 * * *' --timezone Europe/Berlin

Stop with Ctrl-C (the schedule is paused until the script is started again). The same
deployments for a work pool and worker are in prefect.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from loyalty.engines import TARGETS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import loyalty_backfill, loyalty_pipeline  # noqa: E402 - flows/ is put on sys.path first

DAILY_CRON = "0 6 * * *"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--transactions", required=True, help="Transactions file, folder or glob read by every scheduled run."
    )
    parser.add_argument("--customers", default=None, help="Customers file, folder or glob (optional).")
    parser.add_argument(
        "--warehouse",
        default=None,
        help="Published warehouse, what analysts open (default: $LOYALTY_WAREHOUSE, else build/loyalty.duckdb).",
    )
    parser.add_argument("--target", default="duckdb", choices=list(TARGETS), help="dbt target (engine).")
    parser.add_argument(
        "--cron",
        default=DAILY_CRON,
        help=f"When the pipeline runs (cron syntax; default {DAILY_CRON!r}: daily at 06:00).",
    )
    parser.add_argument("--timezone", default="UTC", help="Time zone of the cron schedule (default UTC).")
    args = parser.parse_args(argv)

    # Paths are made absolute so that runs do not depend on the runner's working directory.
    inputs = {
        "transactions": _absolute(args.transactions),
        "customers": _absolute(args.customers) if args.customers else None,
        "warehouse": _absolute(args.warehouse) if args.warehouse else None,
        "target": args.target,
    }
    # to_deployment is @async_dispatch, typed as maybe a coroutine; called here outside any event
    # loop it returns the RunnerDeployment itself
    daily = cast(
        RunnerDeployment,
        loyalty_pipeline.to_deployment(
            name="daily",
            schedules=[Cron(args.cron, timezone=args.timezone)],
            parameters=inputs,  # as_of stays empty: each run describes the latest complete data
            description="The loyalty warehouse, rebuilt and validated on a schedule.",
            tags=["loyalty"],
        ),
    )
    backfill = cast(
        RunnerDeployment,
        loyalty_backfill.to_deployment(
            name="backfill",
            parameters=inputs,  # give as_of_dates, or start and end (and every) when starting a run
            description="Rebuild the warehouse for a series of past as-of dates, oldest first.",
            tags=["loyalty"],
        ),
    )
    serve(daily, backfill)


def _absolute(path: str) -> str:
    """Absolute path, keeping a glob pattern as a pattern."""
    return str(Path(path).expanduser().absolute())


if __name__ == "__main__":
    main()
