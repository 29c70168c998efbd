"""A/B of two builds of the same model in one process: saved modules loaded side by side.

On a shared machine absolute times from different runs say nothing; two modules timed in one
process, runs interleaved (the order alternating per round), meet the same load. Save the "old"
module with the code under comparison on the path (e.g. `git archive main | tar -x -C /tmp/base`,
then `PYTHONPATH=/tmp/base python -c "...ft.compile(p, threads=2).save('old.ftm')"`), the "new"
one from the worktree, and run

    python bench/ab_modules.py OLD.ftm NEW.ftm [--threads 2] [--rounds 40] [--runs 5]

Both modules get the same seeded random inputs (from the saved signature) and must give identical
outputs. Prints the host, the load average, the median wall and CPU milliseconds per run of
each, and the median (with quartiles) over the rounds of new / old, wall and CPU time
(`time.process_time`: every thread of the process, spinning at barriers included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import frittata as ft  # noqa: E402
from llvm_bench import host_description  # noqa: E402


def per_run(module, inputs: dict, runs: int) -> tuple[float, float]:
    """Wall and CPU milliseconds per run, over `runs` runs."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(runs):
        module.run(**inputs)
    return (time.perf_counter() - wall) * 1e3 / runs, (time.process_time() - cpu) * 1e3 / runs


def quartiles(values: list[float]) -> str:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")  # q2: statistics.median's
    return f"{q2:.3f} (q1 {q1:.3f}, q3 {q3:.3f})"


INT_BOUND = 4
"""Integer inputs are drawn from [0, INT_BOUND): valid indices into any axis of that many or more."""


def random_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Standard normal floats; integers (and booleans) from [0, INT_BOUND)."""
    if np.issubdtype(np.dtype(dtype), np.floating):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, INT_BOUND, shape).astype(dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5, help="runs per module per round")
    args = parser.parse_args()
    old, new = (ft.load(path, threads=args.threads) for path in (args.old, args.new))
    rng = np.random.default_rng(0)
    inputs = {n: random_input(rng, t.shape, t.dtype) for n, t in old.inputs.items()}
    want, got = old.run(**inputs), new.run(**inputs)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    print(f"{host_description()}; threads={args.threads}, load average {os.getloadavg()[0]:.1f} at the start")
    times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for module in (old, new):
        per_run(module, inputs, args.runs)
    for round_ in range(args.rounds):
        order = (("old", old), ("new", new)) if round_ % 2 == 0 else (("new", new), ("old", old))
        for label, module in order:
            times[label].append(per_run(module, inputs, args.runs))
    for label, rows in times.items():
        print(f"{label}: wall {statistics.median(w for w, _ in rows):8.3f} ms, "
              f"cpu {statistics.median(c for _, c in rows):8.3f} ms per run")
    walls = [n[0] / o[0] for n, o in zip(times["new"], times["old"])]
    cpus = [n[1] / o[1] for n, o in zip(times["new"], times["old"])]
    print(f"new / old over {args.rounds} rounds: wall {quartiles(walls)}, cpu {quartiles(cpus)}; "
          f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
