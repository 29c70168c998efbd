"""Saturation of ResNet-18 and the transformer block with every graph rule of the library.

Goal: under 5 s and under 200k e-nodes each. Prints, per model: wall time (insertion,
saturation and read-back), e-nodes and e-classes, each phase's stop reason, and rule fire counts.
Run: python bench/saturate_bench.py
"""

from __future__ import annotations

import time

from frittata.rewrites import saturate
from frittata.terms import zoo

GOAL_SECONDS, GOAL_NODES = 5.0, 200_000


def bench(name: str) -> None:
    program = zoo.get(name)
    start = time.perf_counter()
    data, report = saturate(program)
    seconds = time.perf_counter() - start
    ok = seconds < GOAL_SECONDS and len(data.nodes) < GOAL_NODES
    print(f"{name}: {len(program.terms())} terms -> {len(data.nodes)} e-nodes, {len(data.classes)} e-classes, "
          f"{seconds:.2f}s total ({report.seconds:.2f}s in phases) [{'ok' if ok else 'MISSED GOAL'}]")
    print("\n".join("  " + line for line in str(report).splitlines()))


if __name__ == "__main__":
    for model in ("resnet18", "transformer_block"):
        bench(model)
