"""Where a multi-threaded run of a zoo model waits: per-run wall and CPU time of the module as
compiled, and from a traced twin (`build(..., trace=True)`, the same program and kernels) each
thread's start lag, its work and barrier waits per run, and the phases where the threads wait
most. The plain and the traced runs alternate, so both meet the same load. Around each traced
run the time outside native code is split in its Python parts (from the call to thread 0's
native entry: input checks, output arrays, the post; from thread 0's return to the caller), and
the process's minor page faults and context switches per run are counted (`getrusage`: voluntary
ones are futex sleeps, involuntary ones preemptions by other processes). Medians and p90s over
many runs; on a shared machine say how loaded it was (the load average is printed). A negative
start lag is a helper that entered the run before thread 0, which woke it and was then
descheduled.

Run: PYTHONPATH=. python bench/team_waits.py [--models resnet18,mobilenet_v2] [--threads 2]
     [--runs 100] [--top 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

import frittata as ft
from frittata.backends.llvm import build
from frittata.backends.runtime import SERIAL_BELOW_SECONDS, SOLO_STEP_SECONDS
from frittata.backends.team import TeamTrace
from frittata.terms import zoo

COUNTERS = ("ru_minflt", "ru_nvcsw", "ru_nivcsw")
"""The `getrusage` counts printed per run: minor page faults, voluntary and involuntary context
switches."""


def spread(values, scale: float = 1e3, digits: int = 2) -> str:
    """'median / p90' of `values` (seconds, shown in milliseconds unless `scale` says otherwise)."""
    return f"{np.median(values) * scale:7.{digits}f} / {np.percentile(values, 90) * scale:7.{digits}f}"


def plain_run(mod: ft.Module, inputs: dict) -> tuple[float, float]:
    """Wall and process CPU seconds of one run."""
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    mod.run(**inputs)
    return time.perf_counter() - start_wall, time.process_time() - start_cpu


def traced_run(traced: ft.Module, inputs: dict) -> tuple[TeamTrace, float, float, np.ndarray]:
    """One traced run: its trace, the seconds from the call to thread 0's native entry and from
    thread 0's return to the caller (the trace's clock is CLOCK_MONOTONIC, `time.monotonic_ns`),
    and the `COUNTERS` it added."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    called = time.monotonic_ns()
    _, trace = traced.run_traced(**inputs)
    returned = time.monotonic_ns()
    after = resource.getrusage(resource.RUSAGE_SELF)
    counts = np.array([getattr(after, c) - getattr(before, c) for c in COUNTERS])
    return trace, (trace.stamps[0, 0] - called) * 1e-9, (returned - trace.stamps[0, -1]) * 1e-9, counts


def report(name: str, threads: int, runs: int, top: int) -> None:
    program = getattr(zoo, name)()
    inputs = zoo.example_input(program)
    mod = ft.compile(program, threads=threads)
    traced = build(mod.program, threads=threads, serial_below=SERIAL_BELOW_SECONDS, solo_below=SOLO_STEP_SECONDS,
                   trace=True)
    for module in (mod, traced):
        module.run(**inputs)
    load = os.getloadavg()[0]
    plain, rows = [], []
    for _ in range(runs):
        plain.append(plain_run(mod, inputs))
        rows.append(traced_run(traced, inputs))
    wall, cpu = np.array(plain).T
    traces = [row[0] for row in rows]
    lag = np.array([t.start_lag for t in traces])
    work, wait = np.array([t.work for t in traces]), np.array([t.wait for t in traces])
    print(f"# {name}, {threads} threads, {runs} runs, load {load:.1f}-{os.getloadavg()[0]:.1f} "
          f"(ms, median / p90)")
    print(f"  run wall {spread(wall)}   CPU {spread(cpu)}")
    inside = np.array([(t.stamps[0, -1] - t.stamps[0, 0]) * 1e-9 for t in traces])
    print(f"  traced run: Python before thread 0's entry {spread([r[1] for r in rows])}, thread 0 in native code "
          f"{spread(inside)}, Python after it {spread([r[2] for r in rows])}")
    counts = np.array([row[3] for row in rows])
    print("  per traced run: " + ", ".join(f"{c[3:]} {spread(counts[:, i], 1, 0)}" for i, c in enumerate(COUNTERS)))
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
