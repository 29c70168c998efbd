"""A per-layer schedule search for `vta_conv2d`: tilings and virtual threads timed by the
cycle model.

The lowering's default tiling is the traffic model's best (`conv_tilings`' first), which is
blind to what the cycle model sees: how much of the first load and the last store the pipeline
leaves exposed, and the fixed latency of every instruction.  `search_conv_schedule` takes the
traffic model's `budget` best tilings for each virtual-thread count (1 and 2), emits each on
zero data and runs the stream through the simulator's event loop without data
(`functional=False`, the same cycles a run with data reports), and keeps the fastest; ties go to
the default.  The search is bounded by `budget` and says whether it tried every fitting tiling.
It is not part of `compile` (each candidate is a whole emission: 20 ms for a 1x1 ResNet-18
layer, 1 s for the 224x224 stem), but what a tuner or the design-space explorer runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.hw.timing import Report
from frittata.backends.vta.lower import conv_geom, emit_vta_term
from frittata.backends.vta.lower_conv2d import ConvTiling, conv_tilings
from frittata.backends.vta.lower_pipeline import AccLayout
from frittata.errors import LoweringError
from frittata.terms.term import Term

THREADS = (2, 1)
"""Virtual-thread counts tried, the lowering's default first."""


@dataclass(frozen=True, slots=True)
class ConvSchedule:
    """A conv's tiling and virtual threads with the cycle model's report of its stream."""

    tiling: ConvTiling
    threads: int
    report: Report

    @property
    def cycles(self) -> int:
        return self.report.cycles


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The fastest schedule found, the lowering's default one (two threads, the traffic
    model's tiling), how many were timed out of how many fit, and why the search stopped."""

    best: ConvSchedule
    default: ConvSchedule
    tried: int
    fitting: int
    stop: str

    @property
    def speedup(self) -> float:
        return self.default.cycles / self.best.cycles


def time_schedule(node: Term, cfg: VtaConfig, threads: int, tiling: ConvTiling) -> ConvSchedule:
    """`node` emitted with `threads` and `tiling` on zero data, timed by the cycle model."""
    args = [np.zeros(a.shape, a.dtype) for a in node.args]
    stream = emit_vta_term(node, args, cfg, Dram(), threads, tiling).program
    return ConvSchedule(tiling, threads, Simulator(cfg, Dram()).execute(stream.instructions, functional=False))


def search_conv_schedule(node: Term, cfg: VtaConfig, budget: int = 8) -> SearchResult:
    """The fastest of the traffic model's `budget` best tilings per thread count for the
    `vta_conv2d` `node` on `cfg` (see the module docstring); LoweringError when none fits."""
    geom, planes = conv_geom(node), np.dtype(node.dtype).itemsize
    timed: list[ConvSchedule] = []
    fitting = 0
    for threads in THREADS:
        try:
            tilings = conv_tilings(geom, cfg, AccLayout(geom.ob, threads, cfg.acc_depth, planes))
        except LoweringError:
            continue
        fitting += len(tilings)
        timed += [time_schedule(node, cfg, threads, t) for t in tilings[:budget]]
    if not timed:
        raise LoweringError(f"vta_conv2d {geom}: no tiling fits the buffers of {cfg.name} with "
                            f"{' or '.join(map(str, THREADS))} virtual threads")
    best = min(timed, key=lambda c: c.cycles)  # the first of equals: the default
    stop = "exhausted: every fitting tiling timed" if len(timed) == fitting else f"budget: {budget} per thread count"
    return SearchResult(best, timed[0], len(timed), fitting, stop)
