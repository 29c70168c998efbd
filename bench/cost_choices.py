"""Where the analytical CPU model's price picks a slower kernel: every layer with alternatives,
the model's choice against the measured best, and each candidate's predicted / measured time.

For each model (torchvision exports as bench/torch_models_bench.py builds them, random weights,
or the zoo's: "zoo:NAME") the tuner's tasks of the program the analytical extraction picks
(`tasks.program_tasks`: one per distinct fused contraction) are measured on their first
schedules (`Task.first`: the untuned default, the e-graph's alternatives: tiling rows, Winograd
F(2x2)/F(4x4), channels-in-lanes, pixel and channel GEMM; and the default with the other
parallel axis), each built alone as the tuner builds a candidate (`measure.candidate_program`),
checked against the first one's output, then timed in `--rounds` rounds that alternate the
candidates (each round a batch of `--runs` runs of each), at 1 and 2 threads. A run's time is
its batch's CPU time per run (`time.process_time`, every thread's, spinning at barriers
included) over the threads, less a one-element module's (the call), the least over the rounds
kept: on the shared machine, under
`nice`, wall times of one candidate's consecutive runs varied 5x (a 3x3 64 -> 64 layer at 56x56
read 3.1 to 15.4 ms), which is the scheduler, not the kernel.

`--save FILE` pickles the measurements; `--load FILE ...` reads them back and prints, priced by
the model of the code on the path (`CpuModel.for_host(cores=threads)`):
  choices  per task and threads where the model's cheapest candidate is not the measured
           fastest, the two and the time lost (the choice's time over the best's), and per
           model the time lost summed over its layers (each task times its count);
  accuracy measured / predicted per kernel kind (`cost_accuracy.kind_of`): time-weighted,
           median, 10th and 90th percentiles, over every candidate measured;
  ranks    per model and threads, the pairs of candidates of one task whose measured times
           differ by more than `RANK_MARGIN` that the model orders as measured (each pair
           weighted by its task's count).

Run: PYTHONPATH=. python bench/cost_choices.py --only mobilenet_v2 --save mnv2.pkl
     PYTHONPATH=. python bench/cost_choices.py --load mnv2.pkl resnet18.pkl
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from cost_accuracy import kind_of, program_of  # noqa: E402
from frittata.extract.algorithms import scheduled_info  # noqa: E402
from frittata.extract.cpu_model import CpuModel  # noqa: E402
from frittata.extract.records import Schedule, Workload  # noqa: E402
from frittata.tuning.device import host_device  # noqa: E402
from frittata.tuning.measure import candidate_program, overhead_module  # noqa: E402
from frittata.tuning.tasks import program_tasks  # noqa: E402
from llvm_bench import host_description  # noqa: E402


@dataclass(frozen=True)
class Measured:
    """One candidate of one task at `threads`: its shortest wall seconds (call overhead removed)."""

    model: str
    workload: Workload
    count: int
    schedule: Schedule
    threads: int
    seconds: float


def time_task(workload: Workload, schedules: tuple[Schedule, ...], threads: int, rounds: int,
              runs: int) -> dict[Schedule, float]:
    """Shortest seconds of each schedule, the candidates alternated round by round."""
    from frittata.backends.llvm.build import build as build_llvm

    modules, inputs, want = {}, None, None
    for s in schedules:
        try:
            program, inputs = candidate_program(workload, s, 0)
            module = build_llvm(program, threads)
            got = module.run(**inputs)["y"]
        except Exception as problem:  # noqa: BLE001 - a candidate that fails is left out, said
            print(f"#   {dict(s)}: {type(problem).__name__}: {problem}", flush=True)
            continue
        if want is None:
            want = got
        elif not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            print(f"#   {dict(s)}: wrong result, left out", flush=True)
            continue
        modules[s] = module
    best = dict.fromkeys(modules, float("inf"))
    for r in range(rounds):
        order = list(modules) if r % 2 == 0 else list(reversed(modules))
        for s in order:
            best[s] = min(best[s], cpu_seconds(modules[s], inputs, runs))
    overhead = min(cpu_seconds(overhead_module(threads), {"z": np.ones(1, np.float32)}, runs) for _ in range(rounds))
    return {s: max((t - overhead) / threads, 1e-6) for s, t in best.items()}


SETTLE_SECONDS = 0.01
"""Sleep after a batch of runs before reading the CPU time: Linux accounts a thread running on
another core up to its last tick, so the helper thread's share of a sub-millisecond kernel read
0 on most runs (two-thread times came out below half the one-thread time); asleep, it is
accounted."""


def cpu_seconds(module, inputs: dict, runs: int) -> float:
    """CPU seconds (`time.process_time`: every thread of the process) per run of a batch of
    `runs` runs, read once the team's threads have gone idle."""
    start = time.process_time()
    for _ in range(runs):
        module.run(**inputs)
    time.sleep(SETTLE_SECONDS)
    return (time.process_time() - start) / runs


def measure(name: str, folder: Path, rounds: int, runs: int) -> list[Measured]:
    program = program_of(name, folder)
    tasks = [t for t in program_tasks(program, host_device(2)) if t.in_program]
    rows = []
    for i, task in enumerate(tasks):
        for threads in (1, 2):
            times = time_task(task.workload, task.first, threads, rounds, runs)
            rows += [Measured(name, task.workload, task.count, s, threads, t) for s, t in times.items()]
        print(f"# {name} task {i + 1}/{len(tasks)}: {len(task.first)} candidates, load {os.getloadavg()[0]:.1f}",
              flush=True)
    return rows


def choices(rows: list[Measured]) -> None:
    """The tasks where the model's cheapest candidate is not the fastest (module docstring)."""
    models = {t: CpuModel.for_host(cores=t) for t in (1, 2)}
    tasks: dict[tuple, list[Measured]] = defaultdict(list)
    for r in rows:
        tasks[(r.model, r.workload.key, r.threads)].append(r)
    lost: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    print(f"{'model':<16} {'t':>2} {'x':>2} {'layer':<34} {'model picks':<26} {'fastest':<26} {'lost':>6}")
    for (name, _, threads), candidates in sorted(tasks.items(), key=lambda kv: kv[0]):
        model = models[threads]
        priced = [(model.node_cost(scheduled_info(c.workload, c.schedule)), c) for c in candidates]
        picked = min(priced, key=lambda p: p[0])[1]
        fastest = min(candidates, key=lambda c: c.seconds)
        count = picked.count
        lost[(name, threads)][0] += count * picked.seconds
        lost[(name, threads)][1] += count * fastest.seconds
        if picked.seconds > 1.03 * fastest.seconds:
            print(f"{name:<16} {threads:>2} {count:>2} {_layer(picked.workload):<34} {_label(picked):<26} "
                  f"{_label(fastest):<26} {picked.seconds / fastest.seconds:6.2f}")
    for (name, threads), (chosen, best) in sorted(lost.items()):
        print(f"{name:<16} t={threads}: the model's choices take {chosen * 1e3:.3f} ms, the fastest "
              f"{best * 1e3:.3f} ms: {chosen / best:.3f}x")


RANK_MARGIN = 1.10
"""Measured time ratio above which a pair of candidates counts in `ranks` (closer pairs are
within the noise of a loaded machine)."""


def ranks(rows: list[Measured]) -> None:
    """Pairs of candidates the model orders as measured (module docstring)."""
    models = {t: CpuModel.for_host(cores=t) for t in (1, 2)}
    tasks: dict[tuple, list[Measured]] = defaultdict(list)
    for r in rows:
        tasks[(r.model, r.workload.key, r.threads)].append(r)
    agreed: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for (name, _, threads), candidates in sorted(tasks.items(), key=lambda kv: kv[0]):
        priced = [(models[threads].node_cost(scheduled_info(c.workload, c.schedule)), c.seconds, c.count)
                  for c in candidates]
        for i, (pa, ma, count) in enumerate(priced):
            for pb, mb, _ in priced[i + 1:]:
                if max(ma, mb) > RANK_MARGIN * min(ma, mb):
                    agreed[(name, threads)][0] += count * ((pa < pb) == (ma < mb))
                    agreed[(name, threads)][1] += count
    for (name, threads), (same, pairs) in sorted(agreed.items()):
        print(f"{name:<16} t={threads}: the model orders {same} of {pairs} pairs as measured "
              f"({same / max(pairs, 1):.2f})")


def accuracy(rows: list[Measured]) -> None:
    """measured / predicted per kernel kind and threads, over every candidate."""
    models = {t: CpuModel.for_host(cores=t) for t in (1, 2)}
    groups: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        info = scheduled_info(r.workload, r.schedule)
        groups[(kind_of(info, models[1].vector_lanes), r.threads)].append((r.seconds,
                                                                          models[r.threads].node_cost(info)))
    print(f"{'kind':<26} {'t':>2} {'n':>4} {'sum ratio':>9} {'median':>7} {'p10':>6} {'p90':>6}")
    for (kind, threads), pairs in sorted(groups.items()):
        ratios = sorted(m / p for m, p in pairs)
        deciles = statistics.quantiles(ratios, n=10) if len(ratios) >= 3 else [ratios[0]] * 8 + [ratios[-1]]
        print(f"{kind:<26} {threads:>2} {len(pairs):>4} {sum(m for m, _ in pairs) / sum(p for _, p in pairs):9.2f} "
              f"{statistics.median(ratios):7.2f} {deciles[0]:6.2f} {deciles[-1]:6.2f}")


def _layer(w: Workload) -> str:
    (x, _), (wt, _) = w.operands[:2]
    attrs = dict(w.attrs)
    groups = attrs.get("groups", 1)
    if len(wt) == 4:
        s = attrs.get("strides", (1, 1))[0]
        return f"{wt[2]}x{wt[3]}{'/' + str(s) if s > 1 else ''} {x[1]}->{wt[0]}@{x[2]}" + (" dw" if groups > 1 else "")
    return f"dense {x} x {wt}"


def _label(m: Measured) -> str:
    """The candidate's kernel (`kind_of`, abbreviated), its blocks and its milliseconds."""
    s = dict(m.schedule)
    kind = kind_of(scheduled_info(m.workload, m.schedule), s.get("vec", 8))
    short = {"pixel_gemm": "pixgemm", "channel_gemm": "chgemm", "lanes_conv": "lanes"}.get(kind, kind.split(" ")[0])
    if kind.startswith("winograd"):
        return f"F{s['tile']} {m.seconds * 1e3:.3f}"
    keys = [k for k in ("oc_block", "ow_block", "c_block", "m_block", "n_block", "parallel") if k in s]
    return f"{short[:7]} {'/'.join(str(s[k])[:3] for k in keys)}"[:19] + f" {m.seconds * 1e3:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["resnet18"])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save", default=None)
    parser.add_argument("--load", nargs="*", default=None)
    args = parser.parse_args()
    print(f"# {host_description()}; load {os.getloadavg()[0]:.1f}", flush=True)
    rows: list[Measured] = []
    if args.load:
        for path in args.load:
            with open(path, "rb") as saved:
                rows += pickle.load(saved)
    else:
        with tempfile.TemporaryDirectory() as folder:
            for name in args.only:
                rows += measure(name, Path(folder), args.rounds, args.runs)
        if args.save:
            with open(args.save, "wb") as out:
                pickle.dump(rows, out)
    choices(rows)
    ranks(rows)
    accuracy(rows)


if __name__ == "__main__":
    main()
