"""Benchmark: generate N transactions, then time `loyalty run` on them.

Prints wall time and peak memory (max RSS of the run and of its dbt subprocesses) and,
from dbt's run_results.json, the slowest models. Not a test: figures go to the README.

    .venv/bin/python benchmarks/bench_run.py --transactions 1000000
    .venv/bin/python benchmarks/bench_run.py --transactions 10000000
"""

from __future__ import annotations

import argparse
import json
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
    print(f"loyalty run: {wall:.1f} s wall, peak RSS of the largest process {peak_mb:,.0f} MB")

    results = json.loads((get_engine("duckdb").state_dir(warehouse) / "target" / "run_results.json").read_text())[
        "results"
    ]
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:5]
    print("slowest nodes of the last dbt phase:")
    for r in slowest:
        print(f"  {r['execution_time']:6.2f} s  {r['unique_id']}")


if __name__ == "__main__":
    main()
