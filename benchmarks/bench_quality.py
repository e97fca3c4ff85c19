"""How long the Great Expectations checks take on a large warehouse, and how much memory.

    .venv/bin/python benchmarks/bench_quality.py --transactions 10000000

Builds (once; reused on later runs) a warehouse in build/bench_quality/ from generated data
with 1% malformed rows, in the order of the pipeline: load, dbt inputs, [raw checks], dbt
marts, CLV step, dbt clv marts, [marts checks]. Each check phase is then timed in a fresh
process (so that its peak memory is its own): wall time, of which the first
`import great_expectations`, reading the batches from DuckDB, and GX itself. Prints figures
only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROWS_PER_CUSTOMER = 4.29  # generate.py: about 4.3 transaction rows per customer


def _measure(warehouse: Path, phase: str) -> None:
    """Child process: one check phase on the warehouse; print a JSON line of figures."""
    started = time.perf_counter()
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations  # noqa: F401 - timed on its own

    imported = time.perf_counter()
    from loyalty.quality.runner import run_phase

    parameters = {"min_valid_share": 0.95} if phase == "raw" else {}
    report = run_phase(warehouse, phase, parameters)
    print(
        json.dumps(
            {
                "phase": phase,
                "wall_s": time.perf_counter() - started,
                "import_s": imported - started,
                "checks_s": report.seconds,
                "read_batches_s": report.load_seconds,
                "rows": sum(report.rows.values()),
                "batches": len(report.rows),
                "expectations": len(report.checks),
                "failed_critical": len(report.failures),
                "warnings": len(report.warnings),
                "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            }
        )
    )


def _build(warehouse: Path, n_transactions: int) -> dict[str, float]:
    from loyalty.generate import generate
    from loyalty.pipeline import RunConfig, build_step, clv_step, load_step

    timings: dict[str, float] = {}
    out = warehouse.parent / "transactions.parquet"

    def timed(name: str, fn):
        started = time.perf_counter()
        result = fn()
        timings[name] = time.perf_counter() - started
        print(f"  {name}: {timings[name]:.1f} s", flush=True)
        return result

    n_customers = int(n_transactions / ROWS_PER_CUSTOMER)
    data = timed(
        "generate",
        lambda: generate(
            n_customers,
            out,
            seed=11,
            start=dt.date(2023, 1, 1),
            end=dt.date(2025, 12, 31),
            bad_row_rate=0.01,
            progress=False,
        ),
    )
    print(f"  {data.n_transactions:,} transactions, {n_customers:,} customers", flush=True)
    config = RunConfig(
        transactions=str(data.transactions_path), customers=str(data.customers_path), warehouse=warehouse
    )
    timed("load", lambda: load_step(config))
    timed("dbt inputs", lambda: build_step(config, "inputs"))
    timed("dbt marts", lambda: build_step(config, "marts"))
    timed("clv step", lambda: clv_step(config))
    timed("dbt clv", lambda: build_step(config, "clv"))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=10_000_000, help="approximate input rows")
    parser.add_argument("--dir", type=Path, default=Path("build") / "bench_quality", help="work folder")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the warehouse even if it exists")
    parser.add_argument("--measure", nargs=2, metavar=("WAREHOUSE", "PHASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(Path(args.measure[0]), args.measure[1])
        return

    warehouse = (args.dir / f"w{args.transactions}.duckdb").resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not warehouse.exists():
        warehouse.unlink(missing_ok=True)
        print(f"Building {warehouse} ...", flush=True)
        _build(warehouse, args.transactions)
    print(f"Load average before the checks: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for phase in ("raw", "marts"):
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(warehouse), phase], capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            sys.exit(proc.returncode)
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        gx_s = figures["checks_s"] - figures["read_batches_s"]
        print(
            f"{phase:5s} checks: {figures['wall_s']:6.1f} s wall = import GX {figures['import_s']:.1f} s "
            f"+ read batches {figures['read_batches_s']:.1f} s + GX {gx_s:.1f} s; "
            f"{figures['rows']:,} rows in {figures['batches']} batches, {figures['expectations']} expectations "
            f"({figures['failed_critical']} critical failed, {figures['warnings']} warnings); "
            f"peak memory {figures['peak_rss_gb']:.2f} GB",
            flush=True,
        )


if __name__ == "__main__":
    main()
