"""Measure the constants of frittata's CPU cost model on this machine and print them.

Run `python bench/calibrate_cpu_model.py` (about 20 s). Each figure is the best of several
repetitions (the machines are shared: the fastest run is the least disturbed one). The memory
and launch figures are what `frittata/extract/cpu_model.py` records as its defaults; the last
line is a `CpuModel(...)` for this machine, to pass as `cost=`. The vector FMA peak itself comes from the
zmm FMA microbenchmark of a Sapphire Rapids core (242 GFLOP/s fp32), which numpy
cannot reach; everything else is measured here. The depthwise kernel has no fitted figure: it
is priced from its tiles' and ring's cycles (`frittata/extract/depthwise_cost.py`), which
bench/cost_choices.py checks against its measured times.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import numpy as np

PEAK_FP32_FLOPS_PER_CORE = 242e9
"""FLOP/s: zmm FMA microbenchmark peak of a Sapphire Rapids core."""

REPEATS = 7


def best_seconds(fn: Callable[[], object], inner: int = 1) -> float:
    """Shortest wall time of `fn` over REPEATS runs of `inner` calls, per call (seconds)."""
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return min(times)


def build_efficiency(program, inputs: dict[str, np.ndarray], flops: float, cores: int, fast: bool) -> float:
    """Fraction of the all-core FMA peak (scaled to the host's vector width) that frittata's
    LLVM build of `program` reaches, on a fast path (`fast`) or on the generic loop nests."""
    from frittata.backends.llvm import build

    module = build(program, threads=cores)
    assert bool(module.report["backend"]["fast_paths"]) == fast, module.report["backend"]["fast_paths"]
    seconds = best_seconds(lambda: module.run(**inputs))
    lanes = 16 if has_avx512() else 8
    return flops / seconds / (PEAK_FP32_FLOPS_PER_CORE * lanes / 16 * cores)


def generic_contraction_efficiency(cores: int) -> float:
    """A 256 x 512 x 512 dense with run-time weights (the blocked path needs constant ones)."""
    from frittata import Program
    from frittata import terms as T

    program = Program({"y": T.dense(T.var("x", (256, 512)), T.var("w", (512, 512)))})
    inputs = {"x": np.ones((256, 512), np.float32), "w": np.ones((512, 512), np.float32)}
    return build_efficiency(program, inputs, 2 * 256 * 512 * 512, cores, fast=False)


def copy_bandwidth(nbytes: int, inner: int) -> float:
    """Bytes/s of a contiguous copy (read + write counted) of an `nbytes` array."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    return 2 * nbytes / best_seconds(lambda: np.copyto(dst, src), inner)


def strided_copy_efficiency() -> float:
    """Bandwidth of an NCHW -> NCHW16c pack relative to a contiguous copy of the same bytes."""
    src = np.ones((1, 256, 56, 56), np.float32)
    dst = np.empty((1, 16, 56, 56, 16), np.float32)
    view = src.reshape(1, 16, 16, 56, 56).transpose(0, 1, 3, 4, 2)
    flat = np.empty_like(src)
    packed = best_seconds(lambda: np.copyto(dst, view), 20)
    plain = best_seconds(lambda: np.copyto(flat, src), 20)
    return plain / packed


def transcendental_flops() -> float:
    """FLOP-equivalents per element of a vectorized exp (time of np.exp at the FMA peak)."""
    x = np.random.default_rng(0).standard_normal(1 << 16).astype(np.float32)  # 256 KiB: in L2
    out = np.empty_like(x)
    seconds = best_seconds(lambda: np.exp(x, out=out), 50)
    return seconds * PEAK_FP32_FLOPS_PER_CORE / x.size


def launch_seconds() -> float:
    """Seconds of one kernel call with no work: a numpy ufunc on 16 elements."""
    a = np.ones(16, np.float32)
    out = np.empty_like(a)
    return best_seconds(lambda: np.add(a, a, out=out), 2000)


def has_avx512() -> bool:
    """Whether /proc/cpuinfo lists avx512f (the model assumes 16 fp32 lanes)."""
    try:
        with open("/proc/cpuinfo") as info:
            return "avx512f" in info.read()
    except OSError:
        return False


def measure() -> dict[str, float]:
    """Every CpuModel field this script can measure here, by name."""
    cores = os.cpu_count() or 1
    return {
        "cores": cores,
        "vector_lanes": 16 if has_avx512() else 8,
        "generic_contraction_efficiency": round(generic_contraction_efficiency(cores), 4),
        "dram_bandwidth": round(copy_bandwidth(256 << 20, 1), -8),
        "cache_bandwidth": round(copy_bandwidth(512 << 10, 200), -8),
        "strided_copy_efficiency": round(strided_copy_efficiency(), 3),
        "launch_seconds": round(launch_seconds(), 8),
    }


def main() -> None:
    """Print every measured figure, then a CpuModel call using them."""
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{time.strftime('%Y-%m-%d')}; best of {REPEATS}")
    figures = measure()
    for name, value in figures.items():
        print(f"{name:24s} = {value:g}")
    print(f"{'numpy exp (reference)':24s} = {transcendental_flops():.0f} FLOP-equivalents per element "
          f"(not used: numpy's exp is not the vectorized polynomial a kernel would use)")
    print("CpuModel(" + ", ".join(f"{k}={v!r}" for k, v in figures.items()) + ")")


if __name__ == "__main__":
    main()
