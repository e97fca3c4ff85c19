"""Benchmark: a full run on N transactions, then a daily increment of 10,000 rows.

Generates N transactions (Parquet) into an export folder and times `loyalty run` on the folder
from scratch. Then adds one day of --increment rows as a new file (copies of generated rows
with new transaction ids, dated the day after the last transaction, for existing customers)
and times `loyalty run` again on the same warehouse, which loads and reclassifies only the
new rows (README "Incremental daily runs"). Prints both wall times, their ratio and each
step's time of both runs (from the Prefect task log lines), and the full run against the
one-statement RFM limit of bench_run.py. With --days N, N daily increments run one after the
other, each dated the day after the one before (the first day of a month, then days inside it).
Not a test: figures go to the README.

    .venv/bin/python benchmarks/bench_incremental.py --transactions 1000000
    .venv/bin/python benchmarks/bench_incremental.py --transactions 10000000 --reuse --days 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from bench_run import rfm_reference

from loyalty.generate import generate
from loyalty.project import project_dir

TRANSACTIONS_PER_CUSTOMER = 4.3
STEP_LINE = re.compile(r"^(\d\d:\d\d:\d\d) (\S+?)(?:-[0-9a-f]{3})?: (Finished in state|Beginning flow run|Loaded)")


def _run(export: Path, customers: Path, warehouse: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loyalty.cli",
            "run",
            "--transactions",
            str(export),
            "--customers",
            str(customers),
            "--warehouse",
            str(warehouse),
        ],
        capture_output=True,
        text=True,
        # Prefect's temporary server can take minutes to start on a loaded machine
        env={"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600", **os.environ},
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        raise SystemExit(f"loyalty run failed with exit code {proc.returncode}")
    return wall, proc.stdout + proc.stderr


def _step_times(log: str) -> list[tuple[str, float]]:
    """Seconds from the end of the previous step to the end of each step (Prefect log lines)."""
    times, previous = [], None
    for line in log.splitlines():
        match = STEP_LINE.match(line)
        if not match:
            continue
        moment = dt.datetime.strptime(match.group(1), "%H:%M:%S")
        if match.group(3) == "Finished in state" and previous is not None:
            times.append((match.group(2), (moment - previous).total_seconds() % 86400))
        if match.group(3) != "Loaded":
            previous = moment
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000, help="approximate number of transactions")
    parser.add_argument("--increment", type=int, default=10_000, help="rows of the daily increment")
    parser.add_argument("--days", type=int, default=1, help="daily increments, one after the other")
    parser.add_argument("--workdir", type=Path, default=project_dir() / "build" / "bench_incremental")
    parser.add_argument("--reuse", action="store_true", help="reuse generated data of the same size if present")
    args = parser.parse_args()

    n_customers = max(1, round(args.transactions / TRANSACTIONS_PER_CUSTOMER))
    root = args.workdir / f"tx_{args.transactions}"
    export, history = root / "export", root / "export" / "history.parquet"
    customers = root / "customers.parquet"
    warehouse = root / "warehouse.duckdb"
    export.mkdir(parents=True, exist_ok=True)
    if not (args.reuse and history.exists()):
        start = time.perf_counter()
        result = generate(n_customers, root / "gen.parquet", bad_row_rate=0.001, progress=False)
        os.replace(result.transactions_path, history)
        os.replace(result.customers_path, customers)
        print(
            f"generate: {result.n_transactions:,} transactions, {n_customers:,} customers "
            f"in {time.perf_counter() - start:.1f} s"
        )
    for path in export.glob("day_*.parquet"):
        path.unlink()
    for path in root.glob("warehouse.duckdb*"):  # the warehouse, its work file, dbt state, checks
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    full_wall, full_log = _run(export, customers, warehouse)
    print(f"full run: {full_wall:.1f} s wall")

    with duckdb.connect(str(warehouse), read_only=True) as con:
        (last_day,) = con.execute("select max(transaction_date) from marts.fct_transactions").fetchone()  # type: ignore[misc]  # fetchone() is Optional; max() always returns a row
    limit = rfm_reference(history, str(last_day))
    print(f"one-statement RFM limit (bench_run.RFM_SQL): {limit:.1f} s; full run / limit: {full_wall / limit:.0f}x")
    logs = [("full run", full_log)]
    for day in range(1, args.days + 1):
        next_day = last_day + dt.timedelta(days=day)
        day_file = export / f"day_{next_day}.parquet"
        duckdb.sql(
            f"""copy (
                    select * replace (
                        'N{day}-' || transaction_id as transaction_id,
                        cast(cast(date '{next_day}' as timestamp)
                            + (try_cast(transacted_at as timestamp)
                               - cast(cast(try_cast(transacted_at as timestamp) as date) as timestamp))
                            as varchar) as transacted_at)
                    from read_parquet('{history}')
                    where try_cast(transacted_at as timestamp) is not null
                    using sample {args.increment} rows (reservoir, {6 + day})
                ) to '{day_file}' (format parquet)"""
        )
        increment_wall, increment_log = _run(export, customers, warehouse)
        print(f"daily increment of {args.increment:,} rows dated {next_day}: {increment_wall:.1f} s wall")
        print(f"ratio increment / full: {increment_wall / full_wall:.3f}")
        logs.append((f"increment {next_day}", increment_log))
    for name, log in logs:
        steps = ", ".join(f"{step} {seconds:.0f} s" for step, seconds in _step_times(log))
        print(f"{name} steps: {steps}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
