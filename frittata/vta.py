"""`frittata.vta`: VTA hardware design-space exploration.

    found = ft.vta.explore(ft.vta.DesignSpace(), "resnet18", part="pynq-z1", budget=200, out="dse")
    print(found.summary())

`explore` evaluates designs of a `DesignSpace` (GEMM shape, buffer sizes, AXI width, GEMM
pipeline stages; each design at the fastest clock it closes at) that fit the FPGA part, on a
workload (a zoo model's name, a `Program`, or a `Workload`), in parallel, and returns the
Pareto front of latency against area with the best design, its speedup over the part's
shipped configuration and which knobs mattered; with `out=DIR` it writes `results.jsonl`,
`summary.txt` and the Pareto plot.  See `frittata.backends.vta.dse.explore`.
`tune_design(found.best, workload)` then searches each of that design's VTA conv layers over
tile sizes and virtual threads by the cycle model (`frittata.backends.vta.dse.tune`).
The names are imported on first use, so `import frittata` does not load the VTA backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frittata.backends.vta.dse.explore import Exploration
    from frittata.backends.vta.dse.space import DesignSpace
    from frittata.backends.vta.dse.tune import TunedDesign, tune_design
    from frittata.backends.vta.dse.workload import Workload

_LAZY = {"DesignSpace": "space", "Workload": "workload", "Exploration": "explore", "TunedDesign": "tune",
         "tune_design": "tune"}


def explore(space: DesignSpace | None = None, workload: Workload | Any = "resnet18", part: str = "pynq-z1",
            **options: Any) -> Exploration:
    """Explore `space` (default: `DesignSpace()`) for `workload` on `part`; options: budget,
    workers (0: this process), runner ("local" or "ray"), address, time_limit, seed, out, quiet."""
    from frittata.backends.vta.dse.explore import explore as _explore
    from frittata.backends.vta.dse.space import DesignSpace
    from frittata.backends.vta.dse.workload import Workload
    from frittata.terms import zoo
    from frittata.terms.program import Program

    if isinstance(workload, str):
        workload = Workload.from_program(zoo.get(workload), workload)
    elif isinstance(workload, Program):
        workload = Workload.from_program(workload)
    return _explore(space if space is not None else DesignSpace(), workload, part, **options)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"frittata.backends.vta.dse.{_LAZY[name]}"), name)


__all__ = ["DesignSpace", "Exploration", "TunedDesign", "Workload", "explore", "tune_design"]
