"""Where a multi-threaded run of a zoo model waits: per-run wall and CPU time of the module as
compiled, and from a traced twin (`build(..., trace=True)`, the same program and kernels) each
thread's start lag, its work and barrier waits per run, and the phases where the threads wait
most. Medians and p90s over many runs; on a shared machine say how loaded it was (the load
average is printed). A negative start lag is a helper that entered the run before thread 0,
which woke it and was then descheduled.

Run: PYTHONPATH=. python bench/team_waits.py [--models resnet18,mobilenet_v2] [--threads 2]
     [--runs 100] [--top 8]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import frittata as ft
from frittata.backends.llvm import build
from frittata.backends.runtime import SERIAL_BELOW_SECONDS, SOLO_STEP_SECONDS
from frittata.terms import zoo


def spread(values) -> str:
    """'median / p90' of `values` in milliseconds."""
    return f"{np.median(values) * 1e3:7.2f} / {np.percentile(values, 90) * 1e3:7.2f}"


def per_run(mod: ft.Module, inputs: dict, runs: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of `runs` runs."""
    wall, cpu = [], []
    for _ in range(runs):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        mod.run(**inputs)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def report(name: str, threads: int, runs: int, top: int) -> None:
    program = getattr(zoo, name)()
    inputs = zoo.example_input(program)
    mod = ft.compile(program, threads=threads)
    traced = build(mod.program, threads=threads, serial_below=SERIAL_BELOW_SECONDS, solo_below=SOLO_STEP_SECONDS,
                   trace=True)
    for module in (mod, traced):
        module.run(**inputs)
    load = os.getloadavg()[0]
    wall, cpu = per_run(mod, inputs, runs)
    traces = [traced.run_traced(**inputs)[1] for _ in range(runs)]
    lag = np.array([t.start_lag for t in traces])
    work, wait = np.array([t.work for t in traces]), np.array([t.wait for t in traces])
    print(f"# {name}, {threads} threads, {runs} runs, load {load:.1f}-{os.getloadavg()[0]:.1f} "
          f"(ms, median / p90)")
    print(f"  run wall {spread(wall)}   CPU {spread(cpu)}")
    for tid in range(1, traced.team_threads):
        print(f"  thread {tid} starts after thread 0: {spread(lag[:, tid])}")
    for tid in range(traced.team_threads):
        print(f"  thread {tid}: work {spread(work[:, tid].sum(1))}   barrier waits {spread(wait[:, tid].sum(1))}")
    phases = traces[0].phases
    worst = np.argsort(-np.median(wait, axis=0).sum(axis=0))[:top]
    print(f"  phases where the threads wait most, by the sum of their median waits ({len(phases)} phases):")
    for p in worst:
        print(f"    {phases[p][:40]:40s} thread 0 work {spread(work[:, 0, p])} wait {spread(wait[:, 0, p])}"
              f" | thread 1 work {spread(work[:, 1, p])} wait {spread(wait[:, 1, p])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18,mobilenet_v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    for name in args.models.split(","):
        report(name, args.threads, args.runs, args.top)


if __name__ == "__main__":
    main()
