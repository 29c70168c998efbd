"""`explore(space, workload, part)`: a space's designs evaluated in parallel, and the Pareto front.

The search is bounded: the part's shipped configuration (the baseline) is evaluated first, then
the space's architectures (GEMM shape and buffers) in a seeded random order, each with every
value of its circuit knobs (AXI width, GEMM stages: one stream, timed for each); points that are
not designs for the part (invalid, or overflowing a resource: `space.design_for`) are counted by
reason and never compiled. It stops when `budget` designs have been evaluated, when the space
has no more designs, or at the time limit, and says which. Designs run on a pool of `workers`
local processes (the tuning runner's `LocalRunner`, a fresh interpreter per worker) or on Ray
(`runner="ray"`, a local Ray or the cluster at `address`), in batches, with a progress bar. Each
evaluated design is one JSON line in `DIR/results.jsonl`; the Pareto front (latency against
area) is plotted.

Which knob mattered (`Exploration.ablation`): for each knob where the best design differs from
the baseline, the baseline with only that knob changed, and the best design with only that knob
set back, are evaluated (clocks re-derived): the speedup the knob gives alone, and the slowdown
its reversal causes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from frittata.backends.vta.dse.evaluate import DesignJob, DesignResult
from frittata.backends.vta.dse.runners import DesignRunner, design_runner
from frittata.backends.vta.dse.space import DesignSpace, design_for
from frittata.backends.vta.dse.workload import Workload
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import config_from_dict, load_config
from frittata.backends.vta.hw.resources import Part, get_part
from frittata.errors import FrittataError
from tqdm import tqdm


@dataclass
class Exploration:
    """What an exploration found (see the module docstring)."""

    part: Part
    workload: str
    baseline: DesignResult
    results: list[DesignResult]
    scanned: int
    rejected: dict[str, int]
    errors: list[str]
    stop: str
    seconds: float
    space_size: int
    ablation: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def best(self) -> DesignResult:
        return min(self.results, key=lambda r: r.latency_s)

    @property
    def speedup(self) -> float:
        """The baseline's latency over the best design's."""
        return self.baseline.latency_s / self.best.latency_s

    @property
    def pareto(self) -> list[DesignResult]:
        return pareto_front(self.results)

    def summary(self) -> str:
        best, base = self.best, self.baseline
        knobs = "; ".join(f"{k} {getattr(_config(base), k)}->{getattr(_config(best), k)}: alone x{alone:.2f}, "
                          f"reverted x{reverted:.2f}"
                          for k, (alone, reverted) in sorted(self.ablation.items(), key=lambda kv: -_number(kv[1][0])))
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items()))
        return "\n".join([
            f"explored {len(self.results)} designs of {self.space_size} points for {self.workload} on "
            f"{self.part.name} ({self.part.chip}) in {self.seconds:.0f} s; stop: {self.stop}",
            f"{self.scanned} points scanned, pruned before compiling: {rejected or 'none'}; "
            f"errors: {len(self.errors)}",
            f"baseline {base.design}: {base.latency_s * 1e3:.2f} ms, {base.gops:.1f} GOPS, area {base.area:.0%}",
            f"best     {best.design}: {best.latency_s * 1e3:.2f} ms, {best.gops:.1f} GOPS, area {best.area:.0%}",
            f"speedup {self.speedup:.2f}x end to end at the same part budget; Pareto front {len(self.pareto)} designs",
            "knobs (alone: speedup of the baseline with only that knob of the best design; reverted: "
            "slowdown of the best design with that knob set back)",
            f"  {knobs or 'none'}",
        ])


def pareto_front(results: list[DesignResult]) -> list[DesignResult]:
    """The designs no other design beats on both latency and area, by latency."""
    front: list[DesignResult] = []
    for r in sorted(results, key=lambda r: (r.latency_s, r.area)):
        if not front or r.area < front[-1].area:
            front.append(r)
    return front


def explore(space: DesignSpace, workload: Workload, part: str | Part, budget: int = 200,
            workers: int = 2, runner: str = "local", address: str | None = None,
            time_limit: float | None = None, seed: int = 0, out: str | Path | None = None,
            quiet: bool = False) -> Exploration:
    """Explore `space` for `workload` on `part` (see the module docstring)."""
    if budget < 1:
        raise FrittataError(f"explore: expected a budget of at least 1 design, got {budget}")
    part = part if isinstance(part, Part) else get_part(part)
    start = time.perf_counter()
    baseline_cfg = load_config(part.board_config)
    scan = Scan()
    groups = scan.groups(space, part, seed, baseline_cfg)
    with design_runner(runner, workers, address) as pool, _bar(budget, quiet) as bar:
        batch = Batches(pool, workload, part, 2 * max(workers, 1), bar)
        stop = batch.search(groups, (baseline_cfg,), budget, time_limit, start)
        baseline = next((r for r in batch.results if r.design == baseline_cfg.design), None)
        if baseline is None:
            raise FrittataError(f"explore: the baseline {baseline_cfg.design} could not be evaluated: "
                                f"{batch.errors[:1]}")
        best = min(batch.results, key=lambda r: r.latency_s)
        knob_effects = ablation(best, baseline, workload, part, space, pool)
    found = Exploration(part, workload.name, baseline, batch.results, scan.scanned, dict(scan.rejected),
                        batch.errors, stop, time.perf_counter() - start, space.size, knob_effects)
    if out is not None:
        write(found, Path(out))
    return found


class Batches:
    """Sends designs to the pool `jobs` groups at a time, collecting results and errors."""

    def __init__(self, pool: DesignRunner, workload: Workload, part: Part, jobs: int, bar: tqdm) -> None:
        self.pool, self.workload, self.part, self.jobs, self.bar = pool, workload, part, jobs, bar
        self.results: list[DesignResult] = []
        self.errors: list[str] = []
        self.done = 0

    def search(self, groups: Iterator[list[VtaConfig]], first: tuple[VtaConfig, ...], budget: int,
               time_limit: float | None, start: float) -> str:
        """Evaluate `first`, then `groups`, until the budget, the groups or the time (counted
        from `start`) run out; returns why it stopped."""
        todo = [first]
        while True:
            todo += _take(groups, budget - self.done - sum(map(len, todo)), self.jobs - len(todo))
            if not todo:
                return (f"budget reached: {budget} designs evaluated" if self.done >= budget else
                        f"space exhausted: every design of the space evaluated ({self.done} with the baseline)")
            self.run(todo)
            todo = []
            if time_limit is not None and time.perf_counter() - start > time_limit:
                return f"time limit: {time_limit:g} s"

    def run(self, todo: list[tuple[VtaConfig, ...]]) -> None:
        outcomes = self.pool.run([DesignJob(group, self.workload, self.part.name) for group in todo])
        for group, outcome in zip(todo, outcomes):
            items = outcome if isinstance(outcome, list) else [f"{c.design}: {outcome}" for c in group]
            for item in items:
                if isinstance(item, DesignResult):
                    self.results.append(item)
                else:
                    self.errors.append(str(item))
        self.done += sum(map(len, todo))
        self.bar.update(self.done - self.bar.n)
        if self.results:
            self.bar.set_postfix_str(f"best {min(r.latency_s for r in self.results) * 1e3:.1f} ms")


def ablation(best: DesignResult, baseline: DesignResult, workload: Workload, part: Part,
             space: DesignSpace, pool: DesignRunner) -> dict[str, tuple[float, float]]:
    """Per knob where `best` differs from `baseline`: (alone, reverted) = the speedup over the
    baseline of the baseline with only that knob of `best`, and the slowdown of `best` with
    that knob set back to the baseline's (clocks re-derived; `nan` when the point is not a
    design for the part)."""
    best_cfg, base_cfg = _config(best), _config(baseline)
    knobs = [k for k in space.knobs if getattr(best_cfg, k) != getattr(base_cfg, k)]
    points = [({k: getattr(base_cfg, k) for k in space.knobs} | {knob: getattr(best_cfg, knob)},
               {k: getattr(best_cfg, k) for k in space.knobs} | {knob: getattr(base_cfg, knob)}) for knob in knobs]
    variants = [design_for(p, part, space.clocks_mhz) for pair in points for p in pair]
    outcomes = iter(pool.run([DesignJob((v,), workload, part.name) for v in variants if isinstance(v, VtaConfig)]))
    latency = [_first(next(outcomes)) if isinstance(v, VtaConfig) else None for v in variants]
    seconds = [r.latency_s if isinstance(r, DesignResult) else math.nan for r in latency]
    return {knob: (baseline.latency_s / seconds[2 * i], seconds[2 * i + 1] / best.latency_s)
            for i, knob in enumerate(knobs)}


def write(found: Exploration, folder: Path) -> None:
    """`results.jsonl` (one line per design, `pareto` marking the front), `summary.txt`, and the
    Pareto plot as `pareto.png` and `pareto.svg`."""
    from frittata.backends.vta.dse.plot import plot_pareto

    folder.mkdir(parents=True, exist_ok=True)
    front = {r.design for r in found.pareto}
    with open(folder / "results.jsonl", "w") as lines:
        for r in found.results:
            record = r.record() | {"pareto": r.design in front, "baseline": r is found.baseline}
            lines.write(json.dumps(record) + "\n")
    (folder / "summary.txt").write_text(found.summary() + "\n")
    for suffix in (".png", ".svg"):
        plot_pareto(found, folder / f"pareto{suffix}")


class Scan:
    """Walks the space's architectures in order: their designs, and the points pruned by reason."""

    def __init__(self) -> None:
        self.scanned = 0
        self.rejected: Counter[str] = Counter()

    def groups(self, space: DesignSpace, part: Part, seed: int, baseline: VtaConfig) -> Iterator[list[VtaConfig]]:
        """The designs of each architecture (those of its points that are designs), skipping
        architectures with none."""
        for points in space.architectures(seed):
            group = []
            for point in points:
                self.scanned += 1
                design = design_for(point, part, space.clocks_mhz)
                if isinstance(design, str):
                    self.rejected[design] += 1
                elif design != baseline:
                    group.append(design)
            if group:
                yield group


def _take(groups: Iterator[list[VtaConfig]], designs: int, jobs: int) -> list[tuple[VtaConfig, ...]]:
    """Up to `jobs` groups holding at most `designs` designs in all (the last one cut)."""
    taken: list[tuple[VtaConfig, ...]] = []
    while designs > 0 and len(taken) < jobs:
        group = next(groups, None)
        if group is None:
            break
        taken.append(tuple(group[:designs]))
        designs -= len(taken[-1])
    return taken


def _first(outcome: object) -> object:
    return outcome[0] if isinstance(outcome, list) else outcome


def _number(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def _config(result: DesignResult) -> VtaConfig:
    return config_from_dict(result.config)


def _bar(total: int, quiet: bool) -> tqdm:
    return tqdm(total=total, desc="explore", unit="design", file=sys.stderr, disable=quiet, leave=False)
