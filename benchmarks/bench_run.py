"""Benchmark: generate N transactions, then time `loyalty run` on them.

Prints wall time and peak memory (max RSS of the run's process, which runs dbt in-process),
the time of each step (from the run's progress lines), and the reference it is compared
with (issue: speed at 10M-100M rows): the day-grain RFM summary (frequency, recency, T and
monetary value per customer) written as one DuckDB statement over the same Parquet file, and
the ratio of the two. Not a test: figures go to the README.

    .venv/bin/python benchmarks/bench_run.py --transactions 1000000
    .venv/bin/python benchmarks/bench_run.py --transactions 10000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from loyalty.engines import get_engine
from loyalty.generate import generate
from loyalty.project import project_dir

TRANSACTIONS_PER_CUSTOMER = 4.3

# The limit a full run is compared with: the day-grain BTYD/RFM summary per customer, in one
# statement (no validation, no marts, no checks), as a lower bound of what any run must do.
RFM_SQL = """
with typed as (  -- the generator's files with bad rows hold text columns: parsed here too
    select customer_id, try_cast(transacted_at as timestamp) as transacted_at,
        try_cast(amount as decimal(18, 4)) as amount
    from read_parquet('{path}')
), days as (
    select customer_id, cast(transacted_at as date) as day, sum(amount) as amount
    from typed
    where customer_id is not null and amount is not null and transacted_at is not null
    group by all
), per_customer as (
    select customer_id, count(*) - 1 as frequency, max(day) - min(day) as recency,
        date '{as_of}' - min(day) as t,
        case when count(*) > 1 then (sum(amount) - arg_min(amount, day)) / (count(*) - 1) end as monetary
    from days group by customer_id
)
select count(*), sum(frequency), sum(recency), sum(t) from per_customer
"""
STEP_LINE = re.compile(r"^(\d\d:\d\d:\d\d) ([a-z0-9-]+?)(?:-[0-9a-f]{3})?: Finished in state")


def rfm_reference(data: Path, as_of: str) -> float:
    """Seconds for RFM_SQL in a fresh DuckDB connection (best of two)."""
    import duckdb

    times = []
    for _ in range(2):
        con = duckdb.connect()
        start = time.perf_counter()
        con.execute(RFM_SQL.format(path=str(data).replace("'", "''"), as_of=as_of)).fetchall()
        times.append(time.perf_counter() - start)
        con.close()
    return min(times)


def step_times(output: str, started: float) -> list[tuple[str, float]]:
    """(step, seconds) from the progress lines `HH:MM:SS step-abc: Finished in state ...`."""
    steps = []
    previous = dt.datetime.fromtimestamp(started).replace(microsecond=0)
    for line in output.splitlines():
        match = STEP_LINE.match(line.strip())
        if match:
            at = dt.datetime.combine(previous.date(), dt.time.fromisoformat(match.group(1)))
            steps.append((match.group(2), (at - previous).total_seconds()))
            previous = at
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000, help="approximate number of transactions")
    parser.add_argument("--workdir", type=Path, default=project_dir() / "build" / "bench")
    parser.add_argument("--reuse", action="store_true", help="reuse generated data of the same size if present")
    args = parser.parse_args()

    n_customers = max(1, round(args.transactions / TRANSACTIONS_PER_CUSTOMER))
    data = args.workdir / f"tx_{args.transactions}.parquet"
    warehouse = args.workdir / f"bench_{args.transactions}.duckdb"
    args.workdir.mkdir(parents=True, exist_ok=True)

    if not (args.reuse and data.exists()):
        start = time.perf_counter()
        result = generate(n_customers, data, bad_row_rate=0.001, progress=False)
        print(
            f"generate: {result.n_transactions:,} transactions, {n_customers:,} customers "
            f"in {time.perf_counter() - start:.1f} s"
        )
    warehouse.unlink(missing_ok=True)
    shutil.rmtree(warehouse.with_name(warehouse.name + ".work"), ignore_errors=True)  # a full run from nothing

    started = time.time()
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loyalty.cli",
            "run",
            "--transactions",
            str(data),
            "--customers",
            str(data.with_name(data.stem + "_customers.parquet")),
            "--warehouse",
            str(warehouse),
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        raise SystemExit(f"loyalty run failed with exit code {proc.returncode}")
    print(proc.stdout.strip())
    print("steps (s, from the progress lines; the first includes start-up and Prefect):")
    for step, seconds in step_times(proc.stdout + proc.stderr, started):
        print(f"  {seconds:6.0f}  {step}")
    print(f"loyalty run: {wall:.1f} s wall, peak RSS of the largest process {peak_mb:,.0f} MB")
    as_of = re.search(r"As-of date: (\d{4}-\d\d-\d\d)", proc.stdout)
    reference = rfm_reference(data, as_of.group(1) if as_of else dt.date.today().isoformat())
    print(f"reference (RFM summary, one DuckDB statement): {reference:.1f} s; ratio {wall / reference:.0f}")

    results = json.loads((get_engine("duckdb").state_dir(warehouse) / "target" / "run_results.json").read_text())[
        "results"
    ]
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:5]
    print("slowest nodes of the last dbt phase:")
    for r in slowest:
        print(f"  {r['execution_time']:6.2f} s  {r['unique_id']}")


if __name__ == "__main__":
    main()
