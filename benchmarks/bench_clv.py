"""Benchmark: fit BG/NBD, Pareto/NBD and Gamma-Gamma and score every customer of a
large simulated customer base.

    .venv/bin/python benchmarks/bench_clv.py [--customers 2300000] [--seed 1]

The summary (frequency, recency_days, tenure_days, monetary_value per customer; about
4.3 purchase days per customer, so ~10M transactions for 2.3M customers, acquired
uniformly over three years) is simulated from the BG/NBD and Gamma-Gamma models in a
child process, so the peak memory reported is that of the scoring process alone. The
script then runs ``score_customers`` end to end (the headline figure), and again step
by step (validation + compression, each fit, scoring) to show where the time goes.
Wall, user-CPU and system-CPU seconds are printed per step. Everything runs on one
thread, so on an idle machine wall = user + sys; on a shared machine wall time grows
with the load (the 1-minute load average is printed) and CPU time much less. The first
run's system time is mostly page faults of freshly allocated memory.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from loyalty.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel, score_customers
from loyalty.clv.score import FittedModels, compute_scores, prepare_summary
from loyalty.clv.simulate import simulate_summary


def _simulate_to(path: str, customers: int, seed: int) -> None:
    simulate_summary(customers, np.random.default_rng(seed)).to_pickle(path)


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Timer:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, float]] = []

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        wall, (user, system) = time.perf_counter(), _cpu()
        out = fn()
        user2, system2 = _cpu()
        self.rows.append((name, time.perf_counter() - wall, user2 - user, system2 - system))
        return out

    def print(self, title: str) -> None:
        print(f"\n{title}")
        print(f"  {'step':<48}{'wall s':>8}{'user s':>8}{'sys s':>8}")
        for name, wall, user, system in self.rows:
            print(f"  {name:<48}{wall:>8.2f}{user:>8.2f}{system:>8.2f}")
        totals = [sum(float(r[i]) for r in self.rows) for i in (1, 2, 3)]
        print(f"  {'total':<48}{totals[0]:>8.2f}{totals[1]:>8.2f}{totals[2]:>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2_300_000, help="number of customers (default 2,300,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the simulation (default 1)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "summary.pkl")
        started = time.perf_counter()
        child = mp.get_context("spawn").Process(target=_simulate_to, args=(path, args.customers, args.seed))
        child.start()
        child.join()
        if child.exitcode != 0:
            print("simulation failed", file=sys.stderr)
            return 1
        summary = pd.read_pickle(path)
        simulate_s = time.perf_counter() - started
    n_transactions = int(summary["frequency"].sum() + len(summary))
    print(
        f"simulated {len(summary):,} customers, {n_transactions:,} purchase days "
        f"({(summary['frequency'] > 0).mean():.0%} repeat buyers) in {simulate_s:.1f} s (child process)"
    )
    print(f"load average (1 min) before scoring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rss_before = _peak_mb()

    end_to_end = Timer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every fit must converge here
        scores, fits = end_to_end.run("score_customers (fit 3 models + score)", lambda: score_customers(summary))
    end_to_end.print("end to end")
    peak_after = _peak_mb()

    steps = Timer()
    prepared = steps.run("validate + compress summary", lambda: prepare_summary(summary, "weeks"))
    bg = steps.run("fit BG/NBD", lambda: BetaGeoModel("weeks").fit_rows(prepared.rows))
    pnbd = steps.run("fit Pareto/NBD", lambda: ParetoNBDModel("weeks").fit_rows(prepared.rows))
    gg = steps.run("fit Gamma-Gamma", lambda: GammaGammaModel().fit(prepared.frequency, prepared.monetary))
    models = FittedModels(bg, pnbd, gg)
    again = steps.run("score customers (P(alive), E[purchases], CLV)", lambda: compute_scores(prepared, models))
    steps.print("step by step (same code, second run)")
    pd.testing.assert_frame_equal(again, scores)

    print(f"\nunique (frequency, recency, T) rows: {prepared.rows.w.shape[0]:,}")
    for fit in fits:
        params = ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items())
        print(f"  {fit.model_name:<11} converged={fit.converged} LL={fit.log_likelihood:,.1f}  {params}")
    print(
        f"peak memory (max RSS) of the scoring process: {peak_after:,.0f} MB "
        f"(after loading the summary: {rss_before:,.0f} MB)"
    )
    print(f"mean predicted CLV over 365 days: {scores['predicted_clv_365d'].mean():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
