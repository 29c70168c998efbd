"""`frittata bench`: compiled zoo models against the peers installed here, in one run.

Peers: onnxruntime (if installed) and numpy's reference interpreter. Every figure is a median
over repeated runs on this machine, printed with the ratio peer / frittata (above 1: we win).
"""

from __future__ import annotations

import functools
import time

from frittata.backends.runtime import time_runs
from frittata.driver import compile
from frittata.terms import evaluate, zoo
from frittata.terms.onnx_export import to_onnx


def median_ms(fn, repeat: int = 10, warmup: int = 2) -> float:
    """Median wall time of `fn()` in milliseconds."""
    return time_runs(fn, {}, repeat, warmup)["median_ms"]


def _onnxruntime_ms(program, inputs, threads: int | None) -> float | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(to_onnx(program).SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return median_ms(lambda: session.run(None, inputs))


def run_bench(models: list[str] | None = None, threads: int | None = None) -> int:
    """Print compile time and run-time medians per zoo model with peer ratios; return 0."""
    print(f"{'model':<18} {'compile s':>9} {'frittata ms':>11} {'onnxruntime ms':>14} {'ort/ft':>7} "
          f"{'interp ms':>9} {'interp/ft':>9}")
    for name in models or list(zoo.ZOO):
        program = zoo.get(name)
        inputs = zoo.example_input(program)
        start = time.perf_counter()
        module = compile(program, threads=threads)
        compile_s = time.perf_counter() - start
        ours = module.benchmark(inputs, repeat=10)["median_ms"]
        ort = _onnxruntime_ms(program, inputs, threads)
        interp = median_ms(functools.partial(evaluate, program, inputs), repeat=3, warmup=1)
        ort_text = f"{ort:14.2f} {ort / ours:7.2f}" if ort is not None else f"{'n/a':>14} {'':>7}"
        print(f"{name:<18} {compile_s:9.2f} {ours:11.2f} {ort_text} {interp:9.1f} {interp / ours:9.2f}")
    return 0
