"""Measure the constants of frittata's CPU cost model on this machine and print them.

Run `python bench/calibrate_cpu_model.py` (about 20 s). Each figure is the best of several
repetitions (the machines are shared: the fastest run is the least disturbed one); the printed block is what `frittata/extract/cpu_model.py`
records as its defaults (with the date and machine). The vector FMA peak itself comes from the
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


def main() -> None:
    cores = os.cpu_count() or 1
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {cores} cores, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"cores                    = {cores}")
    print(f"avx512                   = {has_avx512()}   # the defaults assume 16 fp32 lanes")
    print(f"contraction_efficiency   = {sgemm_efficiency(cores):.3f}   # numpy sgemm 1024^3 / FMA peak")
    conv = ort_conv_efficiency(cores)
    if conv is not None:
        print(f"conv_efficiency (ort)    = {conv:.3f}   # onnxruntime conv3x3 64->64 56x56 / FMA peak")
    print(f"dram_bandwidth           = {copy_bandwidth(256 << 20, 1) / 1e9:.1f}e9  # B/s, 256 MiB copy")
    print(f"cache_bandwidth          = {copy_bandwidth(512 << 10, 200) / 1e9:.1f}e9  # B/s, 512 KiB copy")
    print(f"strided_copy_efficiency  = {strided_copy_efficiency():.3f}   # NCHW16c pack / plain copy")
    print(f"transcendental_flops     = {transcendental_flops():.1f}    # FLOP-equivalents per exp")
    print(f"launch_seconds           = {launch_seconds() * 1e6:.2f}e-6  # tiny ufunc call")


if __name__ == "__main__":
    main()
