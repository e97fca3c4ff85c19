"""Benchmark: the whole pipeline on the same data with DuckDB and with local Spark.

Generates N transactions (or reuses bench_run.py's data of the same size with --reuse),
then runs `loyalty run --target duckdb` and `loyalty run --target spark` on them, one after
the other, each in its own process and warehouse. Prints per engine the wall time, the
time of each pipeline step (from the run's progress lines), the peak memory of the whole
process tree (the Spark JVM included, sampled every 0.5 s), and checks that both engines
print the same headline numbers. Not a test: the figures go to the README.

    .venv/bin/python benchmarks/bench_spark.py --transactions 100000
    .venv/bin/python benchmarks/bench_spark.py --transactions 10000000 --reuse
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from loyalty.generate import generate
from loyalty.project import project_dir

TRANSACTIONS_PER_CUSTOMER = 4.3
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
STEP_DONE = re.compile(r"^(\d\d:\d\d:\d\d) ([\w-]+?)(?:-[0-9a-f]{3})?: Finished in state (\w+)")
FLOW_START = re.compile(r"^(\d\d:\d\d:\d\d) .*Beginning flow run")
# headline lines that must agree between engines (the first names the warehouse and engine)
HEADLINE = ("Marts:", "As-of date:", "Input rows:", "Customers:", "Net revenue:", "Cohorts:")


def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_KB
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_engine(target: str, data: Path, customers: Path, warehouse: Path) -> dict[str, object]:
    if warehouse.is_dir():
        shutil.rmtree(warehouse)
    else:
        warehouse.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "loyalty.cli",
        "run",
        "--target",
        target,
        "--transactions",
        str(data),
        "--customers",
        str(customers),
        "--warehouse",
        str(warehouse),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        print(out, err)
        raise SystemExit(f"loyalty run --target {target} failed with exit code {proc.returncode}")
    steps: list[tuple[str, float]] = []
    previous: dt.datetime | None = None
    for line in out.splitlines():
        started = FLOW_START.match(line)
        if started and previous is None:
            previous = dt.datetime.strptime(started.group(1), "%H:%M:%S")
        match = STEP_DONE.match(line)
        if match:
            at = dt.datetime.strptime(match.group(1), "%H:%M:%S")
            if previous is not None:
                steps.append((match.group(2), (at - previous).total_seconds() % 86400))
            previous = at
    headline = [line for line in out.splitlines() if line.startswith(HEADLINE)]
    return {"wall": wall, "peak_mb": peak[0] / 1024, "steps": steps, "headline": headline, "output": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=100_000, help="approximate number of transactions")
    parser.add_argument("--workdir", type=Path, default=project_dir() / "build" / "bench")
    parser.add_argument("--reuse", action="store_true", help="reuse generated data of the same size if present")
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated targets, in order")
    args = parser.parse_args()

    n_customers = max(1, round(args.transactions / TRANSACTIONS_PER_CUSTOMER))
    data = args.workdir / f"tx_{args.transactions}.parquet"
    customers = data.with_name(data.stem + "_customers.parquet")
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not (args.reuse and data.exists() and customers.exists()):
        start = time.perf_counter()
        result = generate(n_customers, data, bad_row_rate=0.001, progress=False)
        print(
            f"generate: {result.n_transactions:,} transactions, {n_customers:,} customers "
            f"in {time.perf_counter() - start:.1f} s"
        )

    results = {}
    for target in args.engines.split(","):
        warehouse = args.workdir / (
            f"spark_{args.transactions}" if target == "spark" else f"bench_{args.transactions}.duckdb"
        )
        print(f"--- loyalty run --target {target} ({warehouse}) ...", flush=True)
        results[target] = r = run_engine(target, data, customers, warehouse)
        print("\n".join(r["headline"]))  # type: ignore[arg-type]  # run_engine returns dict[str, object]
        print(f"{target}: {r['wall']:.1f} s wall, peak memory of the process tree {r['peak_mb']:,.0f} MB")
        for name, seconds in r["steps"]:  # type: ignore[attr-defined]  # a list of (step, seconds)
            print(f"  {seconds:6.0f} s  {name}")
    if len(results) > 1:
        headlines = {t: r["headline"] for t, r in results.items()}
        same = len({tuple(h) for h in headlines.values()}) == 1  # type: ignore[arg-type]  # lists of lines
        print("headline numbers identical on all engines:", "yes" if same else "NO")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
