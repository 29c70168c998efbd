"""The design space: the values each knob may take, and which points are designs for a part.

A point is one value per knob; it becomes a design (`VtaConfig`) when the configuration is valid
(field widths, buffer depths) and fits the part: its clock is the fastest of `clocks_mhz` that
its GEMM pipeline closes at on the part's family, and no resource overflows.  Points that are
not designs are pruned here, before anything is compiled, with the reason (the overflowing
resource, or the configuration error).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.errors import ConfigError
from frittata.backends.vta.hw.resources import Part, estimate, overflows

CIRCUIT = ("log_bus_width", "gemm_stages")
"""Knobs that change a design's timing but not its instruction streams (the clock too)."""
CLOCKS_MHZ = (50.0, 75.0, 100.0, 125.0, 150.0, 175.0, 200.0, 250.0, 300.0, 333.0, 375.0, 400.0, 450.0)
"""Clocks a design may run at (what a board's clock generator offers, roughly)."""


@dataclass(frozen=True, slots=True)
class DesignSpace:
    """Values of each knob (names and meanings of `VtaConfig`'s fields); the clock is chosen
    per design from `clocks_mhz`."""

    log_batch: tuple[int, ...] = (0, 1, 2)
    log_block: tuple[int, ...] = (3, 4, 5)
    log_uop_buff_size: tuple[int, ...] = (15,)
    log_inp_buff_size: tuple[int, ...] = (13, 14, 15, 16)
    log_wgt_buff_size: tuple[int, ...] = (16, 17, 18, 19)
    log_acc_buff_size: tuple[int, ...] = (15, 16, 17, 18)
    log_bus_width: tuple[int, ...] = (6, 7, 8)
    gemm_stages: tuple[int, ...] = (1, 2, 3, 4)
    clocks_mhz: tuple[float, ...] = CLOCKS_MHZ

    @property
    def knobs(self) -> dict[str, tuple[int, ...]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "clocks_mhz"}

    @property
    def size(self) -> int:
        """Points in the space (before pruning)."""
        size = 1
        for values in self.knobs.values():
            size *= len(values)
        return size

    def architectures(self, seed: int = 0) -> Iterator[list[dict[str, int]]]:
        """Every point once, grouped by architecture (the knobs other than `CIRCUIT`), the
        architectures in an order shuffled by `seed`."""
        knobs = self.knobs
        shape = [k for k in knobs if k not in CIRCUIT]
        combos = list(itertools.product(*(knobs[k] for k in shape)))
        random.Random(seed).shuffle(combos)
        for combo in combos:
            yield [dict(zip(shape, combo)) | dict(zip(CIRCUIT, circuit))
                   for circuit in itertools.product(*(knobs[k] for k in CIRCUIT))]

    def points(self, seed: int = 0) -> Iterator[dict[str, int]]:
        """Every point once, in the order of `architectures`."""
        for group in self.architectures(seed):
            yield from group


def design_for(point: dict[str, int], part: Part, clocks_mhz: tuple[float, ...] = CLOCKS_MHZ) -> VtaConfig | str:
    """The design of `point` on `part` at the fastest clock it closes at, or why there is none:
    "config" (not a valid configuration) or the first overflowing resource's name."""
    try:
        cfg = VtaConfig(**point)
    except ConfigError:
        return "config"
    ceiling = estimate(cfg, part).clock_ceiling_mhz
    reachable = [c for c in clocks_mhz if c <= ceiling]
    if not reachable:
        return "clock"
    cfg = replace(cfg, clock_mhz=max(reachable))
    problems = overflows(cfg, part)
    return problems[0].split(":")[0] if problems else cfg
