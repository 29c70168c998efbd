"""VTA lowering benchmark: per ResNet-18 conv layer (VTA_SPEC §6, C2-C11), the `vta_conv2d`
term lowered by `frittata.backends.vta.lower` with bias + requantize epilogue: compile
(emission) time, simulated cycles and GEMM utilization with one and with two virtual threads
(double buffering).  Every result is checked bit-exact against the reference interpreter.

Run: `python bench/vta_bench.py`.  Goal (issue 7): >= 70% GEMM utilization on the large layers
with double buffering.
"""

from __future__ import annotations

import time

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.lower import config_block, emit_vta_term
from frittata.backends.vta.hw.simulator import Simulator
from frittata.terms import builders as tb
from frittata.terms.interp import evaluate
from frittata.terms.program import Program

RESNET18 = {  # name: (H=W, C, O, K, pad, stride)
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


def main() -> None:
    cfg, rng = VtaConfig(), np.random.default_rng(0)
    print(f"VTA {cfg.name}: vta_conv2d + bias + requantize, lowered and simulated")
    print(f"{'layer':<6} {'compile':>9} {'cycles 1T':>11} {'util 1T':>8} {'cycles 2T':>11} "
          f"{'util 2T':>8}  check")
    for name in RESNET18:
        node, args, x = layer(name, cfg, rng)
        want = evaluate(Program({"y": node}), {"x": x})["y"]
        _, one, out1 = run(node, args, cfg, threads=1)
        emit, two, out2 = run(node, args, cfg, threads=2)
        exact = np.array_equal(out1, want) and np.array_equal(out2, want)
        print(f"{name:<6} {emit * 1e3:7.1f}ms {one.cycles:>11,} {one.gemm_utilization:8.1%} "
              f"{two.cycles:>11,} {two.gemm_utilization:8.1%}  {'ok' if exact else 'MISMATCH'}")


if __name__ == "__main__":
    main()
