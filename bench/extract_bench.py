"""Greedy vs exact (ILP) extraction on saturated zoo e-graphs: time, modelled cost, proven gap.

Run `python bench/extract_bench.py [MODEL ...]` (default: resnet18 transformer_block
mobilenet_v2). Each model is saturated with the rule library, then extracted with the CPU
model by both extractors (median time of 3 runs). Goal (issue 4): both under 2 s on
ResNet-18, and the ILP within 1% of optimal or proven optimal.
"""

from __future__ import annotations

import statistics
import sys
import time

from frittata.extract import CpuModel, extract
from frittata.rewrites import saturate
from frittata.terms import zoo

MODELS = ("resnet18", "transformer_block", "mobilenet_v2")
RUNS = 3


def bench(name: str) -> None:
    """Saturate one zoo model, then time both extractors on it and print one line each."""
    start = time.perf_counter()
    data, _ = saturate(zoo.get(name))
    print(f"{name}: saturated in {time.perf_counter() - start:.2f} s, "
          f"{len(data.nodes)} e-nodes, {len(data.classes)} e-classes")
    for method in ("greedy", "ilp"):
        reports = [extract(data, CpuModel(), method=method, time_limit=10.0)[1] for _ in range(RUNS)]
        last = reports[-1]
        gap = "unknown" if last.gap is None else f"{last.gap:.3%}"
        seconds = statistics.median(r.seconds for r in reports)
        saved = 1 - last.cost / last.original_cost if last.original_cost else 0.0
        print(f"  {method:6s} {seconds:7.3f} s  cost {last.cost * 1e3:8.4f} ms  "
              f"(input {last.original_cost * 1e3:8.4f} ms, -{saved:.1%})  gap {gap:>8s}  {last.status}")


def main(names: list[str]) -> None:
    for name in names or MODELS:
        bench(name)


if __name__ == "__main__":
    main(sys.argv[1:])
