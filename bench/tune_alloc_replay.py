"""Trial allocation A/B on recorded times: the tuner's task scheduler against variants of its
optimistic term, each tuning a zoo model's tasks for a trial budget against a tuning log.

    PYTHONPATH=. python bench/tune_alloc_replay.py mobilenet_v2 deep_mnv2.jsonl 200 [seeds] [variants]

Every candidate is answered by its median time in the log (`RecordedRunner`), every task's space
cut to the candidates the log holds, so an allocator is scored free of noise: the network's
untuned time (each chosen kernel's default) over its time with the best each task found, beside
the log's bound (every task at its logged best). Variants of the optimistic guess, with the
family's best rate `rate` (0 in a family of one task):

  ansor   max(best / trials, best - BETA x FLOPs / rate)  (what the tuner does)
  nocap   best / trials
  floor   min(best / trials, best - FLOPs / rate), at least 0  (the floor of 1e517b7, reverted)

A log an allocator was designed on scores it too kindly: replay held-out logs as well.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import replace

import frittata as ft
import frittata.tuning.tasks as tasks_module
import frittata.tuning.tuner as tuner
from frittata.extract.cost import term_infos
from frittata.extract.records import Records, workload_of
from frittata.terms import zoo
from frittata.tuning.device import Device, host_device
from frittata.tuning.runners import RecordedRunner


def optimism(kind: str):
    """The scheduler's priority with the optimistic term `kind` (see the module docstring)."""
    def priority(search, rates):
        tr = search.report
        best = tr.best_seconds if tr.best_seconds is not None else tr.task.model_seconds
        per, rate = best / max(1, tr.trials + tr.resumed), rates[tr.task.workload.key]
        if kind == "ansor":
            guess = max(per, best - tuner.BETA * tr.task.flops / rate) if rate else per
        elif kind == "floor":
            guess = max(0.0, min(per, best - tr.task.flops / rate)) if rate else per
        else:
            guess = per
        return tr.task.count * (tuner.ALPHA * search.gain + (1 - tuner.ALPHA) * guess)
    return priority


def main(name: str, path: str, trials: int, seeds: int = 3, variants: str = "ansor,nocap,floor") -> None:
    log = Records.load(path)
    times: dict[tuple, list[float]] = {}
    for r in log:
        if r.ok and r.seconds:
            times.setdefault((r.workload.key, r.schedule), []).append(r.seconds)
    median = {k: statistics.median(v) for k, v in times.items()}
    first = {}
    for r in log:
        first.setdefault((r.workload.key, r.schedule), r)
    table = Records([replace(r, seconds=median[k]) for k, r in first.items() if k in median])
    logged: dict[str, set] = {}
    for key, schedule in median:
        logged.setdefault(key, set()).add(schedule)
    full_space = tasks_module.Task.space
    tasks_module.Task.space = lambda self, lanes: tuple(s for s in full_space(self, lanes)
                                                        if s in logged.get(self.workload.key, ()))
    tuner.reference_output = lambda workload, seed: None
    program, host = zoo.get(name), host_device(1)
    device_key = next(iter(log)).device
    device = Device(device_key, host.cpu, host.cpu_name, host.features, host.lanes, host.threads)
    tasks = tasks_module.program_tasks(program, host)
    used: dict[str, list] = {}
    for _, info in term_infos(ft.compile(program, threads=1).program):
        if found := workload_of(info, host.lanes):
            used.setdefault(found[0].key, [found[1], 0])[1] += 1
    unlogged = [k for k, (s, _) in used.items() if (k, s) not in median]
    used = {k: v for k, v in used.items() if k not in unlogged}
    print(f"{len(used)} chosen kernels scored, {len(unlogged)} without their default in the log left out")
    untuned = sum(n * median[(k, s)] for k, (s, n) in used.items())
    for kind in variants.split(","):
        tuner._Session._priority = staticmethod(optimism(kind))
        scores = []
        for seed in range(seeds):
            report = tuner.tune_tasks(tasks, device, Records(), RecordedRunner(table, device_key), trials=trials,
                                      seed=seed)
            best: dict[str, float] = {}
            for r in report.records:
                if r.ok and r.seconds:
                    best[r.workload.key] = min(best.get(r.workload.key, 1.0), median[(r.workload.key, r.schedule)])
            scores.append(untuned / sum(n * best.get(k, median[(k, s)]) for k, (s, n) in used.items()))
        print(f"{kind:6s} {trials} trials: untuned / best found {[f'{x:.4f}' for x in scores]}", flush=True)
    bound = sum(n * min(median[(k, s)] for s in logged[k]) for k, (_, n) in used.items())
    print(f"the log's bound {untuned / bound:.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *(int(a) if i == 0 else a for i, a in enumerate(sys.argv[4:])))
