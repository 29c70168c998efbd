"""frittata's llvm backend against numpy and onnxruntime, measured in the same run.

Prints the host CPU and its vector ISA, then median latencies and ratios (frittata / peer;
below 1 is faster) for matmul 512 and 1024, a 3x3 conv 64->64 at 56x56 with bias and relu, a
depthwise 3x3 conv over 32 channels at 112x112 with bias and ReLU6 (MobileNetV2's first block),
the stride-2 depthwise layers of MobileNetV2 (96 channels 112 -> 56, ReLU6) and EfficientNet-B0
(144 channels 56 -> 28, 5x5, SiLU), and the zoo's MLP, ResNet-18 (float32, and int8 through
`ft.quantize`), MobileNetV2 and transformer block, plus two token-input language models imported from ONNX
(`frittata.terms.zoo_lm`: a GPT-style decoder, context 128, 4 layers, width 256; a BERT-style
encoder, sequence 128, 4 layers, width 256; vocabulary 8192), which onnxruntime runs from the
same ONNX model, on 1 and 2 threads, the two timed alternately, plus compile time per model.
numpy's BLAS runs on the same number of threads (through threadpoolctl, a bench-only
dependency: `pip install threadpoolctl`; without it the numpy column is left out).
Run: python bench/llvm_bench.py [--repeat N] [--only NAME] [--as-written]
Each program is compiled as users compile it, with `ft.compile` (saturation, extraction with the
cost model, folding): the rules fuse and tile, the backend only lowers. --as-written builds the
program exactly as written instead (no fusion or tiling beyond what it spells out).
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import onnx
import onnxruntime as ort

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from frittata.benchmark import median_ms
from frittata.terms import zoo, zoo_lm
from frittata.terms.onnx_export import to_onnx


def ort_session(program: ft.Program | onnx.ModelProto, threads: int) -> ort.InferenceSession:
    """An onnxruntime session on `threads` threads whose pool does not spin between runs (see
    `PAIRED_BATCH`)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = to_onnx(program) if isinstance(program, ft.Program) else program
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def inputs_of(program: ft.Program) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {n: rng.standard_normal(t.shape).astype(t.dtype) for n, t in program.inputs.items()}


def matmul(n: int) -> ft.Program:
    return ft.Program({"c": T.matmul(T.var("a", (n, n)), T.var("b", (n, n)))})


def conv(channels: int = 64, size: int = 56, out_channels: int | None = None, kernel: int = 3) -> ft.Program:
    """A `kernel` x `kernel` convolution (same padding), `channels` in and `out_channels` (default:
    as many) out at `size` x `size`, with bias and ReLU (ResNet's)."""
    out_channels = out_channels or channels
    rng = np.random.default_rng(1)
    w = T.param("w", (rng.standard_normal((out_channels, channels, kernel, kernel)) * 0.05).astype(np.float32))
    b = T.param("b", rng.standard_normal(out_channels).astype(np.float32))
    x = T.var("x", (1, channels, size, size))
    pad = kernel // 2
    return ft.Program({"y": T.fused_conv2d(x, w, b, pads=(pad,) * 4, epilogue=(("relu",),))})


def depthwise(channels: int = 32, size: int = 112, k: int = 3, stride: int = 1,
              epilogue: tuple = (("clip", 0.0, 6.0),)) -> ft.Program:
    """A k x k depthwise convolution with bias and an activation, `channels` at `size` x `size`."""
    rng = np.random.default_rng(2)
    w = T.param("w", (rng.standard_normal((channels, 1, k, k)) * 0.3).astype(np.float32))
    b = T.param("b", rng.standard_normal(channels).astype(np.float32))
    x = T.var("x", (1, channels, size, size))
    return ft.Program({"y": T.fused_conv2d(x, w, b, strides=(stride, stride), pads=(k // 2,) * 4, groups=channels,
                                           epilogue=epilogue)})


def resnet18_int8() -> ft.Program:
    """The zoo ResNet-18 quantized by `ft.quantize` (int8 convolutions with shift requantization),
    calibrated on the zoo's example input; onnxruntime runs its ONNX export (ConvInteger)."""
    program = zoo.resnet18()
    return ft.quantize(program, [zoo.example_input(program)])


CASES = {
    "matmul 512": (lambda: matmul(512), 2 * 512**3),
    "matmul 1024": (lambda: matmul(1024), 2 * 1024**3),
    "conv 64x56x56 3x3+bias+relu": (conv, 2 * 64 * 64 * 9 * 56 * 56),
    "depthwise 32x112x112 3x3+bias+relu6": (depthwise, 2 * 32 * 9 * 112 * 112),
    "depthwise 96x112x112 3x3/2+relu6": (lambda: depthwise(96, 112, 3, 2), 2 * 96 * 9 * 56 * 56),
    "depthwise 144x56x56 5x5/2+silu": (lambda: depthwise(144, 56, 5, 2, (("silu",),)), 2 * 144 * 25 * 28 * 28),
    "mlp": (zoo.mlp, None),
    "resnet18": (zoo.resnet18, None),
    "resnet18 int8": (resnet18_int8, None),
    "mobilenet_v2": (zoo.mobilenet_v2, None),
    "transformer_block": (zoo.transformer_block, None),
}


LM_VOCAB = 8192
LANGUAGE_MODELS = {
    "gpt decoder ctx128 L4 w256": lambda: zoo_lm.gpt(LM_VOCAB, context=128, width=256, heads=4, layers=4),
    "bert encoder seq128 L4 w256": lambda: zoo_lm.bert(LM_VOCAB, seq=128, width=256, heads=4, layers=4),
}
"""ONNX models: frittata imports them, onnxruntime runs them as they are."""


def host_description() -> str:
    """The CPU's name and the vector ISA the backend targets on it."""
    from frittata.backends.jit import host

    target = host()
    name = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), "?")
    return f"{name}; llvm cpu {target.cpu}, {target.lanes} fp32 lanes"


def _cpuinfo() -> list[str]:
    try:
        with open("/proc/cpuinfo") as info:
            return info.read().splitlines()
    except OSError:
        return []


def numpy_column(a: np.ndarray, b: np.ndarray, ours: float, threads: int, repeat: int) -> str:
    """numpy's `a @ b` with its BLAS limited to `threads` threads, as a column of the matmul line."""
    if threadpool_limits is None:
        return "  numpy n/a (pip install threadpoolctl to pin its BLAS threads)"
    with threadpool_limits(limits=threads, user_api="blas"):
        numpy_ms = median_ms(lambda: a @ b, repeat, warmup=1)
    return f"  numpy {numpy_ms:8.3f} ms  throughput vs numpy {numpy_ms / ours:5.2f}x"


PAIRED_BATCH = 5
"""Runs of one side in a row when the two are timed alternately. onnxruntime's pool threads
would spin after each run and share the two cores with the frittata run timed next, so its
sessions are made without spinning (`ort_session`): measured here with 2 threads, the conv
64x56x56 row read frittata 3.99 ms / onnxruntime 2.60 ms with spinning, 0.67 / 1.58 ms without
(onnxruntime itself is faster without it on this shared 2-core machine)."""


def paired_medians(ours, theirs, repeat: int) -> tuple[float, float]:
    """Median milliseconds of `ours()` and `theirs()`, timed alternately in batches of
    `PAIRED_BATCH` runs (one warm-up call each first), so both meet the same load on a shared
    machine."""
    ours(), theirs()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(1, repeat // PAIRED_BATCH)):
        for fn, out in ((ours, times[0]), (theirs, times[1])):
            for _ in range(PAIRED_BATCH):
                start = time.perf_counter()
                fn()
                out.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times[0])), float(np.median(times[1]))


def bench_case(name: str, make, flops, repeat: int, optimize: bool = True) -> None:
    made = make()
    onnx_model = made if not isinstance(made, ft.Program) else None
    program = made if onnx_model is None else ft.from_onnx(onnx_model)
    inputs = inputs_of(program) if onnx_model is None else zoo_lm.token_inputs(onnx_model, LM_VOCAB, padding=16)
    for threads in (1, 2):
        start = time.perf_counter()
        mod = ft.compile(program, threads=threads) if optimize else build(program, threads=threads)
        compile_s = time.perf_counter() - start
        session = ort_session(program if onnx_model is None else onnx_model, threads)
        ours, theirs = paired_medians(functools.partial(mod.run, **inputs),
                                      functools.partial(session.run, None, inputs), repeat)
        line = (f"{name:30s} t={threads}  frittata {ours:8.3f} ms  onnxruntime {theirs:8.3f} ms"
                f"  ratio {ours / theirs:5.2f}  compile {compile_s:5.2f} s")
        if name.startswith("matmul"):
            line += numpy_column(inputs["a"], inputs["b"], ours, threads, repeat)
        if flops:
            line += f"  {flops / ours / 1e6:6.1f} GFLOP/s"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", default=None, help="run the cases whose name contains this")
    parser.add_argument("--as-written", action="store_true", help="build the programs without optimizing them")
    args = parser.parse_args()
    print(f"# {host_description()}")
    for name, (make, flops) in (CASES | {n: (m, None) for n, m in LANGUAGE_MODELS.items()}).items():
        if args.only is None or args.only in name:
            bench_case(name, make, flops, args.repeat, not args.as_written)


if __name__ == "__main__":
    main()
