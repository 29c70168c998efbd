"""`frittata demo`: a zoo model through every stage, checked against the reference interpreter."""

from __future__ import annotations

import time

import numpy as np

from frittata.driver import compile
from frittata.progress import stage_progress
from frittata.report import format_report
from frittata.terms import evaluate, zoo
from frittata.terms.onnx_export import to_onnx
from frittata.terms.onnx_import import from_onnx


def run_demo(model: str, target: str = "llvm", quiet: bool = False) -> int:
    """Export `model` to ONNX, import, compile, run, compare with the interpreter.

    For target "vta" the model is quantized to int8 first, and the comparison is with the
    interpreter on the quantized program.

    Returns 0 when the compiled outputs match the reference interpreter, 1 otherwise.
    """
    say = (lambda *a: None) if quiet else print
    original = zoo.get(model)
    onnx_bytes = to_onnx(original).SerializeToString()
    say(f"model      {model}: {original}, exported to ONNX ({len(onnx_bytes) / 1e6:.1f} MB)")
    start = time.perf_counter()
    program = from_onnx(onnx_bytes)
    say(f"import     {len(program.terms())} terms, {len(program.params)} params in {time.perf_counter() - start:.2f}s")
    if target == "vta":
        program = _quantized(program, say)
    with stage_progress(quiet) as progress:
        module = compile(program, target, progress=progress)
    say(format_report(module.report))
    inputs = zoo.example_input(program)
    got, want = module.run(**inputs), evaluate(program, inputs)
    ok = True
    for name, ref in want.items():
        err = float(np.abs(got[name] - ref).max())
        close = np.allclose(got[name], ref, rtol=1e-3, atol=1e-3 * float(np.abs(ref).max()))
        ok &= close
        say(f"check      output {name}: max |compiled - interpreter| = {err:.2e} -> {'ok' if close else 'MISMATCH'}")
    timing = module.benchmark(inputs, repeat=3 if target == "vta" else 10)
    say(f"run        median {timing['median_ms']:.2f} ms over {timing['repeat']} runs ({module})")
    return 0 if ok else 1


def _quantized(program, say):
    """VTA runs int8: quantize the float model on a few seeded calibration inputs."""
    from frittata.quantize import quantize

    calibration = [zoo.example_input(program, seed=s) for s in range(1, 5)]
    quantized = quantize(program, calibration)
    say(f"quantize   int8 with power-of-two scales, calibrated on {len(calibration)} inputs: {quantized}")
    return quantized
