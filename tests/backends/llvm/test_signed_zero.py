"""Float clip, ReLU, maximum and minimum settle ties of signed zeros, and NaNs, as the interpreter.

numpy's rules (the interpreter's), float32 and float64: np.maximum / np.minimum give the second
operand on a tie (np.maximum(+0.0, -0.0) is -0.0, np.minimum(-0.0, +0.0) is +0.0) and keep a NaN
of either; np.clip with one bound is np.maximum / np.minimum against it (ReLU: -0.0 gives +0.0);
with both bounds it keeps the value on a tie (np.clip(-0.0, 0, 6) is -0.0). numpy's float16 loops
keep the first operand on every tie (np.maximum(-0.0, +0.0) is -0.0, ReLU of -0.0 is -0.0, one
bound or two). llvm.maximum and llvm.minimum order -0.0 below +0.0 instead, which the unfused
scalar loops once used. Every case is built for both ISAs (`targets`).
"""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import build, targets

EDGES = [-0.0, 0.0, -1.5, 1.5, -7.0, 7.0, np.nan, -np.inf, np.inf, 6.0, -6.0]


def _same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal values, NaN where the interpreter has NaN, and the same sign on every zero."""
    np.testing.assert_array_equal(got, want, err_msg=what)
    np.testing.assert_array_equal(np.signbit(got[want == 0]), np.signbit(want[want == 0]), err_msg=what)


def _run(program: ft.Program, inputs: dict) -> None:
    want = ft.evaluate(program, inputs)
    for isa, target in targets().items():
        got = build(program, threads=1, target=target).run(**inputs)
        for name in want:
            _same_bits(got[name], want[name], f"{isa}: {program.outputs[name]!r}")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("bounds", [(0, 6), (-0.0, 6), (-6, 0), (-6, -0.0), (0, None), (-0.0, None), (None, 0),
                                    (None, -0.0), (-1.5, 1.5)], ids=str)
def test_unfused_clip_of_signed_zeros(bounds, dtype):
    """Fails before the fix: clip(-0.0, 0, 6) gave +0.0 (llvm.maximum), np.clip keeps -0.0; in
    float16 a one-bound clip took the float32 rule (clip(+0.0, None, -0.0) gave -0.0)."""
    x = np.array(EDGES, dtype)
    _run(ft.Program({"y": tb.clip(tb.var("x", x.shape, dtype), *bounds)}), {"x": x})


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_unfused_relu_maximum_and_minimum_of_signed_zeros(dtype):
    """Every pair of EDGES in both orders; fails before the fix on maximum(+0.0, -0.0) and
    minimum(-0.0, +0.0); in float16 on maximum(-0.0, +0.0) and ReLU(-0.0)."""
    a, c = (np.array(v, dtype) for v in np.meshgrid(EDGES, EDGES))
    x, y = tb.var("x", a.shape, dtype), tb.var("y", a.shape, dtype)
    program = ft.Program({"max": tb.maximum(x, y), "min": tb.minimum(x, y), "relu": tb.relu(x)})
    _run(program, {"x": a, "y": c})


def test_fused_expression_and_generic_epilogue_clip_keep_minus_zero():
    """The same rules inside a fused elementwise expression and a contraction's epilogue on the
    generic loops (float64 takes no blocked kernel)."""
    x = np.array(EDGES, np.float32)
    expr = ("clip", ("arg", 0), 0.0, 6.0)
    _run(ft.Program({"y": tb.fused_elementwise(tb.var("x", x.shape), expr=expr)}), {"x": x})
    a, c = (np.array(v, np.float16) for v in np.meshgrid(EDGES, EDGES))
    x16, y16 = tb.var("x", a.shape, "float16"), tb.var("y", a.shape, "float16")
    fused = {"max": tb.fused_elementwise(x16, y16, expr=("maximum", ("arg", 0), ("arg", 1))),
             "relu": tb.fused_elementwise(x16, expr=("clip", ("arg", 0), 0.0, None))}
    _run(ft.Program(fused), {"x": a, "y": c})
    v = np.array([[-1.0, 0.0, 1.0]], np.float64)
    w = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], np.float64)
    term = tb.fused_dense(tb.var("v", v.shape, "float64"), tb.param("w", w), tb.param("b", np.full(3, -0.0)),
                          epilogue=(("clip", 0.0, 6.0),))
    _run(ft.Program({"y": term}), {"v": v})
