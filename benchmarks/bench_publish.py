"""Benchmark: what publishing costs (DuckDB engine): the copy of the work file over the
published one (checkpoint, copy, fsync, rename), and the restore a run does after a failed
run (copy of the published file back to the work file).

On a warehouse that `loyalty run` built (e.g. by benchmarks/bench_run.py):

    .venv/bin/python benchmarks/bench_publish.py --warehouse build/bench/bench_10000000.duckdb

Not a test: figures go to the README ("Publishing: what analysts read").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from loyalty.engines.base import write_state
from loyalty.engines.duckdb import DuckDBEngine, work_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, required=True, help="a published warehouse built by loyalty run")
    parser.add_argument("--repeat", type=int, default=3, help="times to repeat each measurement")
    args = parser.parse_args()
    engine = DuckDBEngine()
    warehouse = engine.warehouse_path(args.warehouse)
    if not warehouse.is_file():
        raise SystemExit(f"{warehouse} does not exist: build it with loyalty run (or bench_run.py) first.")
    size_gb = warehouse.stat().st_size / 1e9
    print(f"published warehouse {warehouse}: {size_gb:.2f} GB")
    for i in range(args.repeat):
        write_state(work_folder(warehouse), "dirty")  # as after a failed run: prepare restores W from P
        start = time.perf_counter()
        engine.prepare(warehouse)
        restore = time.perf_counter() - start
        start = time.perf_counter()
        engine.publish(warehouse)
        publish = time.perf_counter() - start
        print(
            f"run {i + 1}: restore (P -> W) {restore:.1f} s, publish (W -> P) {publish:.1f} s "
            f"({size_gb / publish:.2f} GB/s)"
        )


if __name__ == "__main__":
    main()
