"""Measure the constants of frittata's CPU cost model on this machine and print them.

Run `python bench/calibrate_cpu_model.py` (about 20 s). Each figure is the best of several
repetitions (the machines are shared: the fastest run is the least disturbed one). The memory
and launch figures are what `frittata/extract/cpu_model.py` records as its defaults; the last
line is a `CpuModel(...)` for this machine, to pass as `cost=`. The vector FMA peak itself comes from the
zmm FMA microbenchmark in ../shared/CPU_PERF_NOTES.md (242 GFLOP/s fp32 per core), which numpy
cannot reach; everything else is measured here.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import numpy as np

PEAK_FP32_FLOPS_PER_CORE = 242e9
"""FLOP/s: zmm FMA microbenchmark, ../shared/CPU_PERF_NOTES.md."""

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


def sgemm_efficiency(cores: int) -> float:
    """Fraction of the all-core FMA peak reached by numpy's BLAS sgemm at 1024^3."""
    a, b = (np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32) for _ in range(2))
    seconds = best_seconds(lambda: a @ b)
    return 2 * 1024**3 / seconds / (PEAK_FP32_FLOPS_PER_CORE * cores)


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


def ort_conv_efficiency(cores: int) -> float | None:
    """Fraction of the FMA peak reached by onnxruntime's 3x3 conv 64->64 at 56x56 (None without it)."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    weight = np.random.default_rng(0).standard_normal(64 * 64 * 9).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 56, 56])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 56, 56])],
        [helper.make_tensor("w", TensorProto.FLOAT, [64, 64, 3, 3], weight)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = cores
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = np.ones((1, 64, 56, 56), np.float32)
    seconds = best_seconds(lambda: session.run(None, {"x": x}), 5)
    return 2 * 64 * 64 * 9 * 56 * 56 / seconds / (PEAK_FP32_FLOPS_PER_CORE * cores)


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
    conv = ort_conv_efficiency(cores)
    return {
        "cores": cores,
        "vector_lanes": 16 if has_avx512() else 8,
        "contraction_efficiency": round(max(sgemm_efficiency(cores), conv or 0.0), 3),
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
