"""`frittata demo`: a zoo model through every stage, checked against the reference interpreter."""

from __future__ import annotations

import time

import numpy as np

from frittata.terms import evaluate, zoo
from frittata.terms.onnx_export import to_onnx
from frittata.terms.onnx_import import from_onnx


def run_demo(model: str, quiet: bool = False) -> int:
    """Export `model` to ONNX, import it back, evaluate it, compare; 0 if everything agrees."""
    say = (lambda *a: None) if quiet else print
    start = time.perf_counter()
    original = zoo.get(model)
    onnx_bytes = to_onnx(original).SerializeToString()
    say(f"model      {model}: {original}")
    say(f"export     ONNX, {len(onnx_bytes) / 1e6:.1f} MB")
    t = time.perf_counter()
    program = from_onnx(onnx_bytes)
    say(f"import     {len(program.terms())} terms, {len(program.params)} params in {time.perf_counter() - t:.2f}s")
    inputs = zoo.example_input(program)
    t = time.perf_counter()
    got = evaluate(program, inputs)
    want = evaluate(original, inputs)
    say(f"interpret  {time.perf_counter() - t:.2f}s for the imported and the original program")
    ok = all(np.allclose(got[k], want[k], rtol=1e-5, atol=1e-5) for k in want)
    say(f"check      imported == original: {'ok' if ok else 'MISMATCH'}")
    say(f"total      {time.perf_counter() - start:.2f}s")
    return 0 if ok else 1
