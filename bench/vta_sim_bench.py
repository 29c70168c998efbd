"""VTA simulator benchmark: wall time and simulated cycles for a 256x256x256 int8 GEMM
(hand-emitted by `matmul`) and the ResNet-18 conv layers of TVM's VTA test suite (C2-C11), each
a `vta_conv2d` term with bias + requantize lowered by `frittata.backends.vta.lower`.

Run: `python bench/vta_sim_bench.py`.  Every result is also checked bit-exact against numpy.
Goal (issue 6): one ResNet-18 conv layer simulates in under 1 s of wall time.
"""

from __future__ import annotations

import time

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.emitter import Emitter, InstructionStream
from frittata.backends.vta.lower import Lowered, config_block, emit_vta_term
from frittata.backends.vta.matmul import emit_matmul, pack_matmul, unpack_matmul
from frittata.backends.vta.matmul_pipeline import Requant
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.hw.timing import Report
from frittata.terms import builders as tb
from frittata.terms.vta_ops import pack_array, unpack_array

RESNET18 = {  # name: (H=W, C, O, K, pad, stride), ResNet-18's convolutions as TVM's VTA tests number them
    "C2": (56, 64, 64, 3, 1, 1), "C3": (56, 64, 128, 3, 1, 2), "C4": (56, 64, 128, 1, 0, 2),
    "C5": (28, 128, 128, 3, 1, 1), "C6": (28, 128, 256, 3, 1, 2),
    "C7": (28, 128, 256, 1, 0, 2), "C8": (14, 256, 256, 3, 1, 1),
    "C9": (14, 256, 512, 3, 1, 2), "C10": (14, 256, 512, 1, 0, 2),
    "C11": (7, 512, 512, 3, 1, 1),
}
CLOCK_MHZ = 100
"""Pynq clock, only to turn cycles into a GOPS figure."""
SHIFT, LO, HI = 8, 0, 127
EPILOGUE = (("shift", SHIFT), ("clip", LO, HI), ("cast", "int8"))
"""Requantize the conv layers: rounding shift right by 8, clip to [0, 127], int8."""


def conv_reference(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    oh = (x.shape[2] + 2 * pad - kh) // stride + 1
    ow = (x.shape[3] + 2 * pad - kw) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.int64))
    return out.astype(np.int32)


def row(name: str, times: tuple[float, float], macs: int, report, exact: bool) -> str:
    gops = 2 * macs * CLOCK_MHZ * 1e6 / report.cycles / 1e9
    emit, sim = times
    return (f"{name:<34} {emit * 1e3:7.1f} ms {sim * 1e3:7.1f} ms {report.cycles:>10,} cyc "
            f"{report.gemm_utilization:7.1%} {gops:6.1f} {sum(report.instructions.values()):>6}"
            f"  {'ok' if exact else 'MISMATCH'}")


def timed_run(emit) -> tuple[tuple[float, float], Report, Dram]:
    """Emit with `emit(dram)` (which returns the program), then simulate; returns
    (emit s, simulate s), report, DRAM."""
    cfg, dram = VtaConfig(), Dram()
    start = time.perf_counter()
    image = emit(dram).image()
    emitted = time.perf_counter()
    report = Simulator(cfg, dram).run(image)
    return (emitted - start, time.perf_counter() - emitted), report, dram


def bench_gemm(rng: np.random.Generator) -> str:
    a = rng.integers(-128, 128, (256, 256), dtype=np.int8)
    b = rng.integers(-128, 128, (256, 256), dtype=np.int8)
    pa, pb = pack_matmul(a, b, VtaConfig())
    bufs = {}

    def emit(dram: Dram) -> InstructionStream:
        em = Emitter(VtaConfig(), dram)
        bufs["c"] = dram.alloc((256, 16, 1, 16), np.int8)
        emit_matmul(em, dram.put(pa), dram.put(pb), bufs["c"])
        return em.synchronize()
    times, report, dram = timed_run(emit)
    c = unpack_matmul(dram.get(bufs["c"]))
    exact = np.array_equal(c, Requant().reference(a.astype(np.int32) @ b.T.astype(np.int32)))
    return row("gemm 256x256x256", times, 256 ** 3, report, exact)


def bench_conv(name: str, rng: np.random.Generator) -> tuple[str, float]:
    hw, c, o, k, pad, stride = RESNET18[name]
    cfg = VtaConfig()
    batch, block_in, block_out = config_block(cfg)
    x = rng.integers(-128, 128, (batch, c, hw, hw), dtype=np.int8)
    w = rng.integers(-128, 128, (o, c, k, k), dtype=np.int8)
    bias = rng.integers(-2 ** 14, 2 ** 14, o).astype(np.int32)
    args = [pack_array(x, batch, block_in), pack_array(w, block_out, block_in), bias]
    node = tb.vta_conv2d(*(tb.var(v, a.shape, str(a.dtype)) for v, a in zip("xwb", args)),
                         (stride, stride), (pad,) * 4, EPILOGUE, config_block(cfg))
    lowered: list[Lowered] = []

    def emit(dram: Dram) -> InstructionStream:
        lowered.append(emit_vta_term(node, args, cfg, dram))
        return lowered[0].program
    times, report, dram = timed_run(emit)
    out = unpack_array(lowered[0].read(dram))
    acc = conv_reference(x, w, stride, pad) + bias.reshape(1, -1, 1, 1)
    want = ((acc + (1 << (SHIFT - 1))) >> SHIFT).clip(LO, HI).astype(np.int8)
    macs = out.shape[2] * out.shape[3] * o * c * k * k
    label = f"resnet18 {name} {hw}x{hw}x{c}->{o} k{k}s{stride}"
    return row(label, times, macs, report, np.array_equal(out, want)), times[1]


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"VTA {VtaConfig().name}; GOPS at {CLOCK_MHZ} MHz from simulated cycles")
    print(f"{'workload':<34} {'emit':>10} {'simulate':>10} {'cycles':>14} {'GEMM util':>8} "
          f"{'GOPS':>6} {'insns':>6}  check")
    print(bench_gemm(rng))
    walls = []
    for name in RESNET18:
        line, wall = bench_conv(name, rng)
        walls.append(wall)
        print(line)
    print(f"conv layers: simulator wall time max {max(walls):.3f} s, mean "
          f"{np.mean(walls):.3f} s (goal: < 1 s per layer)")


if __name__ == "__main__":
    main()
