"""AutoVTA: VTA designs explored for ResNet-18 on the Pynq-Z1's xc7z020, against the default.

`ft.vta.explore` walks the default `DesignSpace` (GEMM shape, buffer sizes, AXI width, GEMM
pipeline stages, each design at the fastest clock it closes at) on a pool of --workers
processes, pruning designs that do not fit the part, until --budget designs are evaluated; each
layer of each design is compiled by the VTA backend's lowering and timed by the simulator's
cycle model.  Printed: the exploration's summary (the baseline is TVM's shipped Pynq
configuration, 1x16x16 at 100 MHz), the best design's per-layer cycles against the baseline's,
which knob mattered, both designs' conv layers tuned per layer (tile sizes and virtual threads
by the cycle model, `dse.tune`) with the tuned end-to-end latencies, and a bit-exact check of
the best design on every ResNet-18 layer it runs (simulated with data, against the reference
interpreter, with the cycles the model gave).  Writes DIR/results.jsonl,
DIR/summary.txt and the Pareto plot DIR/pareto.png / .svg.  Goal (issue 16): >= 200 designs in
under 10 minutes on 2 cores, and a design >= 1.5x faster end to end than the default at the same
part budget.

Run: python bench/vta_dse_bench.py [--budget 200] [--workers 2] [--out bench/vta_dse_out]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import frittata as ft
from frittata.backends.vta.dse.evaluate import layer_term
from frittata.backends.vta.dse.tune import tune_design
from frittata.backends.vta.hw.config_file import config_from_dict
from frittata.backends.vta.lower import run_vta_term
from frittata.terms import zoo
from frittata.terms.interp import evaluate
from frittata.terms.program import Program

sys.path.insert(0, str(Path(__file__).parent))
from llvm_bench import host_description  # noqa: E402


def bit_exact(found, layer_name: str) -> bool:
    """The best design runs `layer_name` on the simulator with data, equal to the interpreter."""
    cfg = config_from_dict(found.best.config)
    workload = ft.vta.Workload.from_program(zoo.get("resnet18"), "resnet18")
    layer = next(layer for layer in workload.layers if layer.name == layer_name)
    node = layer_term(layer, cfg)
    rng = np.random.default_rng(0)
    values = {a.attr("name"): rng.integers(-128, 128, a.shape).astype(a.dtype) for a in _vars(node)}
    values["b"] = rng.integers(-2 ** 14, 2 ** 14, values["b"].shape).astype(np.int32)
    args = [_value(a, values) for a in node.args]
    got, report = run_vta_term(node, args, cfg, max(found.best.layers[layer_name].threads, 1))
    want = evaluate(Program({"y": node}), values)["y"]
    print(f"bit-exact check: {layer_name} on {cfg.design}: {report.cycles:,} cycles simulated with data "
          f"(model {found.best.layers[layer_name].cycles:,}), {'equal' if np.array_equal(got, want) else 'MISMATCH'}")
    return np.array_equal(got, want)


def _value(term, values: dict[str, np.ndarray]) -> np.ndarray:
    program = Program({"a": term})
    return evaluate(program, {name: values[name] for name in program.inputs})["a"]


def _vars(node):
    from frittata.terms.term import postorder

    return [t for t in postorder([node]) if t.op.value == "input"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--part", default="pynq-z1")
    parser.add_argument("--out", default=str(Path(__file__).parent / "vta_dse_out"))
    args = parser.parse_args()
    print(f"host: {host_description()}; {args.workers} worker processes")
    start = time.perf_counter()
    found = ft.vta.explore(None, "resnet18", args.part, budget=args.budget, workers=args.workers, out=args.out)
    elapsed = time.perf_counter() - start
    print(found.summary())
    best, base = found.best, found.baseline
    print(f"\n{'layer':<5} {'shape':<28} {'n':>2} {'baseline cycles':>16} {'best cycles':>12} "
          f"{'ms base':>8} {'ms best':>8}")
    workload = ft.vta.Workload.from_program(zoo.get("resnet18"), "resnet18")
    for layer in workload.layers:
        shape = f"{layer.kind} {layer.c}->{layer.o} {layer.h}x{layer.w} k{layer.kh} s{layer.strides[0]}"
        b, o = base.layers[layer.name], best.layers[layer.name]
        print(f"{layer.name:<5} {shape:<28} {layer.count:>2} {b.cycles:>16,} {o.cycles:>12,} "
              f"{b.seconds * 1e3:>8.2f} {o.seconds * 1e3:>8.2f}")
    print(f"host part (every design): {workload.host_seconds * 1e3:.2f} ms")
    tuned = {name: tune_design(result, workload) for name, result in (("baseline", base), ("best", best))}
    print("\ntuned (tile_search, 8 tilings per thread count, conv layers on VTA): cycles per layer")
    print(f"{'layer':<5} {'baseline':>12} {'tuned':>12} {'best':>12} {'tuned':>12}  best's tuned tiling")
    for layer in workload.layers:
        row = [tuned[k].searches.get(layer.name) for k in ("baseline", "best")]
        if None in row:
            continue
        t = row[1].best.tiling
        print(f"{layer.name:<5} {row[0].default.cycles:>12,} {row[0].best.cycles:>12,} {row[1].default.cycles:>12,} "
              f"{row[1].best.cycles:>12,}  {t.th},{t.tw},{t.tco},{t.tci} {row[1].best.threads}T")
    base_ms, best_ms = tuned["baseline"].latency_s * 1e3, tuned["best"].latency_s * 1e3
    print(f"tuned end to end: baseline {base.latency_s * 1e3:.2f} -> {base_ms:.2f} ms, best "
          f"{best.latency_s * 1e3:.2f} -> {best_ms:.2f} ms; tuned best / tuned baseline: {base_ms / best_ms:.2f}x")
    exact = all([bit_exact(found, layer.name) for layer in workload.layers if best.layers[layer.name].on == "vta"])
    designs = len(found.results)
    print(f"\n{designs} designs in {elapsed:.0f} s wall ({elapsed / designs:.2f} s per design); "
          f"goal >= 200 in < 600 s: {'met' if designs >= 200 and elapsed < 600 else 'NOT met'}")
    print(f"best / default end to end: {found.speedup:.2f}x; goal >= 1.5x: "
          f"{'met' if found.speedup >= 1.5 else 'NOT met'}; bit-exact: {'yes' if exact else 'NO'}")
    print(f"wrote {args.out}/results.jsonl, summary.txt, pareto.png, pareto.svg")


if __name__ == "__main__":
    main()
