"""Replaying searches on recorded measurements: the learned, the roofline-only and the random
search compared over many seeds on one table of times, free of the machine's noise.

A table is a tuning log holding a time (or an error) for every candidate of some workloads on one
device. Each replayed run tunes one of its workloads with `tune_tasks` and a `RecordedRunner`
answering from the table, so every search sees exactly the same time for the same candidate and
a run costs model fits, not measurements. The replay's tasks are built from the table alone (the
recorded device's lanes and analytical model, whatever host replays them): their space is the
generated space (`tasks.generated_space`), without the schedules an e-graph would propose first,
so every search starts from nothing; the learned one starts from the other workloads' records
when `transfer` (as many of each as the replay's trials: the records a tuner holds from earlier
layers).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from frittata.errors import TuningError
from frittata.extract.cpu_model import CpuModel
from frittata.extract.cpu_work import work
from frittata.extract.records import Record, Records, infer_output
from frittata.tuning.device import Device
from frittata.tuning.runners import RecordedRunner
from frittata.tuning.tasks import Task, generated_space, gflops
from frittata.tuning.tuner import BATCH, EPSILON, SEARCHES, tune_tasks

TRIPLE = "x86_64-unknown-linux-gnu"
"""The triple a recorded device's analytical model is rebuilt for (the records hold its CPU
features, not its triple; every recorded device so far is an x86-64 Linux machine)."""


@dataclass(frozen=True)
class ReplayRun:
    """One replayed search: the workload's key, the search, the seed, and after each trial the
    best time found as a share of the table's best for that workload (0 before a success)."""

    workload_key: str
    search: str
    seed: int
    shares: tuple[float, ...]


def recorded_device(table: Records) -> Device:
    """The device the table's first record was measured on."""
    first = next(iter(table), None)
    if first is None:
        raise TuningError("replay: expected a table with records, got an empty one")
    t = first.target
    if not {"+64bit", "+sse2"} <= set(t["features"].split(",")):
        raise TuningError(f"replay: expected a table recorded on an x86-64 CPU (its analytical model is rebuilt "
                          f"for {TRIPLE}), got cpu {t['cpu']!r}")
    return Device(first.device, t["cpu"], t["cpu_name"], t["features"], int(t["lanes"]), int(t["threads"]))


def replay_tasks(table: Records, device: Device, model: CpuModel) -> list[Task]:
    """One task per workload of the table (in the table's order), each of whose generated
    candidates the table holds; TuningError naming the first one missing otherwise."""
    tried = table.tried(device.key)
    tasks = {}
    for record in table:
        workload = record.workload
        if record.device != device.key or workload.key in tasks:
            continue
        missing = [s for s in generated_space(workload, device.lanes) if (workload.key, s) not in tried]
        if missing:
            raise TuningError(f"replay: expected a time for every candidate of {workload}, got none for "
                              f"{missing[0]} ({len(missing)} missing)")
        info = infer_output(workload)
        flops = work(info, model.transcendental_flops, device.lanes).flops
        tasks[workload.key] = Task(workload, (), 1, flops, model.node_cost(info))
    return list(tasks.values())


def replay(table: Records, seeds: Iterable[int], trials: int, searches: Sequence[str] = SEARCHES,
           transfer: bool = True, batch: int = BATCH, epsilon: float = EPSILON) -> list[ReplayRun]:
    """Every search on every workload of `table` once per seed, `trials` trials each (the
    learned search's batches `epsilon` random, as `tune`'s). With `transfer` the learned search
    starts from `trials` records of each other workload drawn at random (seeded by `seed`), as
    many as a real run of that budget would hold of it, not the whole table."""
    device = recorded_device(table)
    model = CpuModel.for_machine(TRIPLE, device.features)
    runner = RecordedRunner(table, device.key)
    groups = table.by_workload(device.key)
    runs = []
    for task in replay_tasks(table, device, model):
        key = task.workload.key
        times = [float(r.seconds) for r in groups[key] if r.ok and r.seconds]
        if not times:
            raise TuningError(f"replay: expected a successful time for {task.workload}, got only errors")
        best = gflops(task, min(times))
        for seed in seeds:
            others = transferred_records(groups, key, trials, seed) if transfer else []
            for search in searches:
                report = tune_tasks([task], device, Records(list(others)), runner, trials=trials, search=search,
                                    batch=batch, epsilon=epsilon, seed=seed, cpu_model=model)
                runs.append(ReplayRun(key, search, seed, tuple(v / best for v in report.tasks[0].curve)))
    return runs


def transferred_records(groups: dict[str, list[Record]], key: str, trials: int, seed: int) -> list[Record]:
    """`trials` records of every workload but `key`, drawn at random (seeded) from its records."""
    draw = random.Random(seed)
    return [r for other, records in groups.items() if other != key
            for r in draw.sample(records, min(trials, len(records)))]


def trials_to_reach(shares: Sequence[float], share: float) -> int | None:
    """The first trial (from 1) whose best reaches `share`, None if none does."""
    return next((i + 1 for i, v in enumerate(shares) if v >= share), None)


def reach_of_random_best(runs: Sequence[ReplayRun], trials: int) -> dict[str, list[int]]:
    """Per search, the trials each run took to reach the best the random run of the same
    workload and seed found in `trials` (`trials` + 1 where it never did): paired samples."""
    final = {(r.workload_key, r.seed): r.shares[-1] for r in runs if r.search == "random"}
    reached: dict[str, list[int]] = {}
    for r in runs:
        target = final.get((r.workload_key, r.seed))
        if target is not None:
            found = trials_to_reach(r.shares, target)
            reached.setdefault(r.search, []).append(trials + 1 if found is None else found)
    return reached


def paired(runs: Sequence[ReplayRun], search: str, other: str, trials: int) -> tuple[int, int, int]:
    """Head to head over the (workload, seed) pairs both searches ran: in how many `search` reached
    random's final best in fewer trials than `other`, in more, in as many (a run that never did
    counts `trials` + 1, so two such runs tie)."""
    final = {(r.workload_key, r.seed): r.shares[-1] for r in runs if r.search == "random"}
    reach: dict[str, dict[tuple[str, int], int]] = {search: {}, other: {}}
    for r in runs:
        target = final.get((r.workload_key, r.seed))
        if target is not None and r.search in reach:
            found = trials_to_reach(r.shares, target)
            reach[r.search][r.workload_key, r.seed] = trials + 1 if found is None else found
    pairs = [(mine, reach[other][case]) for case, mine in reach[search].items() if case in reach[other]]
    return (sum(mine < theirs for mine, theirs in pairs), sum(mine > theirs for mine, theirs in pairs),
            sum(mine == theirs for mine, theirs in pairs))


def sign_test(fewer: int, more: int) -> float:
    """The two-sided exact sign test's p-value for `fewer` against `more` (ties dropped): the
    chance under a fair coin of a split at least as uneven, from the binomial's tails."""
    n, k = fewer + more, min(fewer, more)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
