"""Shared helpers of the llvm backend tests: compile, run and compare with the interpreter."""

from __future__ import annotations

import numpy as np

import frittata as ft
from frittata.backends.llvm import build
from tests.strategies import inputs_for


def check(program: ft.Program, inputs=None, threads: int = 2, rtol: float = 1e-4, atol: float = 1e-5):
    """Compile `program`, run it on seeded (or given) inputs, assert equal to `ft.evaluate`."""
    inputs = inputs_for(program) if inputs is None else inputs
    mod = build(program, threads=threads)
    got, want = mod.run(**inputs), ft.evaluate(program, inputs)
    assert set(got) == set(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        assert got[name].shape == want[name].shape, name
        if want[name].dtype.kind == "f":
            np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    return mod


def rand(shape, dtype="float32", seed=0, scale=1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    return rng.integers(-128, 128, shape).astype(dtype)
