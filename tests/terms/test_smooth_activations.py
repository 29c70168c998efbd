"""The smooth activations compiled for llvm (their scalar emission) against the interpreter and
their formulas, on both sides of 0."""

import math

import numpy as np

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms import smooth_activations as sa


SELU_ALPHA, SELU_GAMMA = 1.6732632423543772, 1.0507009873554805
"""ONNX Selu's default alpha and gamma (Klambauer et al. 2017), written out rather than read from
the module under test (which holds them rounded to float32, as ONNX attributes are)."""


def _selu(v: float) -> float:
    return SELU_GAMMA * (v if v > 0 else SELU_ALPHA * math.expm1(v))


FORMULAS = {
    "selu": (sa.selu, _selu),
    "elu": (lambda x: sa.elu(x, 0.7), lambda v: v if v > 0 else 0.7 * math.expm1(v)),
    "celu": (lambda x: sa.celu(x, 1.5), lambda v: max(0.0, v) + min(0.0, 1.5 * math.expm1(v / 1.5))),
    "softplus": (sa.softplus, lambda v: math.log1p(math.exp(v))),
    "softsign": (sa.softsign, lambda v: v / (1 + abs(v))),
}


def test_compiled_smooth_activations_follow_their_formulas():
    """One program, one output per activation (one compile)."""
    x = np.linspace(-3.0, 3.0, 16, dtype=np.float32).reshape(2, 8)
    v = tb.var("x", x.shape)
    program = ft.Program({name: build(v) for name, (build, _) in FORMULAS.items()})
    got, interpreted = ft.compile(program, target="llvm").run(x=x), ft.evaluate(program, {"x": x})
    for name, (_, formula) in FORMULAS.items():
        want = np.array([formula(e) for e in x.ravel().tolist()], np.float32).reshape(x.shape)
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(interpreted[name], want, rtol=1e-5, atol=1e-6, err_msg=name)
