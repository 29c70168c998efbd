"""Time ONNX import (parse, fold, build and type-check terms) of each zoo model and a deep model.

Run: python bench/import_bench.py [--repeat N]. Prints the best of N runs per model; the goal
is under 1 s each. The deep model is ResNet-101-depth basic blocks (~400 ONNX nodes).
"""

from __future__ import annotations

import argparse
import time

from frittata.terms import zoo
from frittata.terms.onnx_export import to_onnx
from frittata.terms.onnx_import import from_onnx

GOAL_SECONDS = 1.0


def models() -> dict[str, bytes]:
    """Serialized ONNX bytes of each zoo model and of a ~400-node deep residual network."""
    programs = {name: build() for name, build in zoo.ZOO.items()}
    programs["deep_resnet"] = zoo.resnet18(blocks=(20, 20, 12, 4))
    return {name: to_onnx(p).SerializeToString() for name, p in programs.items()}


def best_import_time(data: bytes, repeat: int) -> tuple[float, int]:
    """(best seconds, program terms). No program outlives its run, so interned terms are freed
    and every run builds and type-checks all its terms afresh."""
    best, terms = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        terms = len(from_onnx(data).terms())
        best = min(best, time.perf_counter() - start)
    return best, terms


def _onnx_nodes(data: bytes) -> int:
    import onnx

    return len(onnx.ModelProto.FromString(data).graph.node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'model':<20}{'onnx nodes':>11}{'terms':>8}{'import s':>10}  goal < {GOAL_SECONDS} s")
    for name, data in models().items():
        seconds, terms = best_import_time(data, args.repeat)
        onnx_nodes = _onnx_nodes(data)
        verdict = "ok" if seconds < GOAL_SECONDS else "SLOW"
        print(f"{name:<20}{onnx_nodes:>11}{terms:>8}{seconds:>10.3f}  {verdict}")


if __name__ == "__main__":
    main()
