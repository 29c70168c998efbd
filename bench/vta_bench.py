"""VTA lowering benchmark, at the 224x224 sizes of ResNet-18.

Per conv layer (C1 the stem, its 3 input channels padded to 16 as the padding rules do; C2-C11
as in TVM's VTA test suite), the `vta_conv2d` term lowered by `frittata.backends.vta.lower` with
bias + requantize epilogue: compile (emission) time, the tiling, simulated cycles and GEMM
utilization with one and with two virtual threads (double buffering).  Then the whole zoo
ResNet-18 at 1x3x224x224, quantized, compiled for VTA and run on the simulator: its per-layer
report (`module.layer_report()`) and the end-to-end simulated latency at the configuration's
clock with the host's share.  Every result is checked bit-exact against the reference
interpreter.  TVM publishes no ResNet-18 latency for this configuration in text (its blog has
plots only), so there is no published figure to put beside ours.

Run: `python bench/vta_bench.py` (`--layers` for the layer table only).  Goals (issue 19):
>= 90% GEMM utilization on the 3x3 layers, >= 70% on the 1x1 stride-2 ones.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import frittata as ft

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.lower import config_block, emit_vta_term
from frittata.backends.vta.hw.simulator import Simulator
from frittata.terms import builders as tb
from frittata.terms.interp import evaluate
from frittata.terms.program import Program
from frittata.terms import zoo

RESNET18 = {  # name: (H=W, C, O, K, pad, stride)
    "C1": (224, 16, 64, 7, 3, 2),
    "C2": (56, 64, 64, 3, 1, 1), "C3": (56, 64, 128, 3, 1, 2), "C4": (56, 64, 128, 1, 0, 2),
    "C5": (28, 128, 128, 3, 1, 1), "C6": (28, 128, 256, 3, 1, 2),
    "C7": (28, 128, 256, 1, 0, 2), "C8": (14, 256, 256, 3, 1, 1),
    "C9": (14, 256, 512, 3, 1, 2), "C10": (14, 256, 512, 1, 0, 2),
    "C11": (7, 512, 512, 3, 1, 1),
}
EPILOGUE = (("shift", 8), ("clip", -127, 127), ("relu",), ("cast", "int8"))


def layer(name: str, cfg: VtaConfig, rng: np.random.Generator):
    """The layer's term and its packed operands."""
    hw, c, o, k, pad, stride = RESNET18[name]
    block = config_block(cfg)
    x = rng.integers(-128, 128, (cfg.batch, c, hw, hw)).astype(np.int8)
    w = rng.integers(-128, 128, (o, c, k, k)).astype(np.int8)
    bias = rng.integers(-2 ** 14, 2 ** 14, o).astype(np.int32)
    node = tb.vta_conv2d(tb.vta_pack(tb.var("x", x.shape, "int8"), "act", block),
                         tb.vta_pack(tb.param("w", w), "wgt", block), tb.param("b", bias),
                         (stride, stride), (pad,) * 4, EPILOGUE, block)
    args = [evaluate(Program({"a": a}), {n: x for n in Program({"a": a}).inputs})["a"]
            for a in node.args]
    return node, args, x


def run(node, args, cfg: VtaConfig, threads: int):
    """(emit seconds, report, packed output) of one lowering and simulation."""
    sim = Simulator(cfg, Dram())
    start = time.perf_counter()
    lowered = emit_vta_term(node, args, cfg, sim.machine.dram, threads)
    image = lowered.program.image()
    emit = time.perf_counter() - start
    report = sim.run(image)
    return emit, report, lowered.read(sim.machine.dram)


def layers() -> None:
    cfg, rng = VtaConfig(), np.random.default_rng(0)
    print(f"VTA {cfg.name}: vta_conv2d + bias + requantize, lowered and simulated")
    print(f"{'layer':<6} {'compile':>9} {'tile th,tw,tco,tci':>19} {'cycles 1T':>11} {'util 1T':>8} "
          f"{'cycles 2T':>11} {'util 2T':>8} {'ms 2T':>7}  check")
    for name in RESNET18:
        node, args, x = layer(name, cfg, rng)
        want = evaluate(Program({"y": node}), {"x": x})["y"]
        _, one, out1 = run(node, args, cfg, threads=1)
        emit, two, out2 = run(node, args, cfg, threads=2)
        tiling = emit_vta_term(node, args, cfg, Dram()).tiling
        tile = f"{tiling.th},{tiling.tw},{tiling.tco},{tiling.tci}"
        exact = np.array_equal(out1, want) and np.array_equal(out2, want)
        print(f"{name:<6} {emit * 1e3:7.1f}ms {tile:>19} {one.cycles:>11,} {one.gemm_utilization:8.1%} "
              f"{two.cycles:>11,} {two.gemm_utilization:8.1%} {two.cycles / cfg.clock_hz * 1e3:7.2f}  "
              f"{'ok' if exact else 'MISMATCH'}")


def network() -> None:
    """The quantized zoo ResNet-18 at 224x224 on the simulated default VTA."""
    rng = np.random.default_rng(0)
    program = zoo.resnet18()
    samples = [{"x": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)} for _ in range(3)]
    start = time.perf_counter()
    quantized = ft.quantize(program, samples[:2])
    module = ft.compile(quantized, target="vta")
    built = time.perf_counter()
    got = module.run(**samples[2])["y"]
    ran = time.perf_counter()
    exact = np.array_equal(got, ft.evaluate(quantized, samples[2])["y"])
    print(f"\nResNet-18 1x3x224x224, quantized: quantize + compile {built - start:.1f} s, "
          f"one simulated run {ran - built:.1f} s wall, {len(module.calls)} VTA calls, "
          f"{'bit-exact' if exact else 'MISMATCH'} against the interpreter")
    print(module.layer_report())


def main() -> None:
    layers()
    if "--layers" not in sys.argv:
        network()


if __name__ == "__main__":
    main()
