"""scale.rules moves a scalar scale after a matmul into its left operand, and into the dense layer
that made it, only where that is exact enough: float32/float64 (the dense rule float32) and a
finite, nonzero scale (an inf scale times a zero operand is nan, a -0.0 scale flips a zero's sign,
float16 rounds a*c by ~1 ulp)."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T
from frittata.rewrites import saturate

MOVES = ("bubble-scale-through-matmul", "fold-scale-dense-bias")


def fired(scale: float, dtype: str) -> dict[str, int]:
    rng = np.random.default_rng(0)
    q = T.add(T.dense(T.var("x", (4, 8), dtype), T.param("w", rng.standard_normal((8, 8)).astype(dtype))),
              T.param("b", rng.standard_normal(8).astype(dtype)))
    scores = T.mul(T.matmul(q, T.var("k", (8, 4), dtype)), T.const(scale, dtype))
    _, report = saturate(ft.Program({"s": scores}))
    return {rule: report.fired().get(rule, 0) for rule in MOVES}


def test_a_finite_nonzero_scale_moves_in_float32_and_float64():
    assert all(fired(0.125, "float32").values())
    assert fired(-3.0, "float64")["bubble-scale-through-matmul"] > 0  # the dense rule: float32 only


@pytest.mark.parametrize(("scale", "dtype"), [(np.inf, "float32"), (-np.inf, "float64"), (-0.0, "float32"),
                                              (0.0, "float32"), (np.nan, "float32"), (0.125, "float16")])
def test_no_move_for_an_inf_zero_or_nan_scale_nor_in_float16(scale, dtype):
    assert fired(scale, dtype) == dict.fromkeys(MOVES, 0)


def test_an_inf_scale_with_a_zero_operand_compiles_to_the_interpreters_result():
    a, b = T.var("a", (1, 2)), T.var("b", (2, 1))
    program = ft.Program({"y": T.mul(T.matmul(a, b), T.const(np.inf))})
    data = {"a": np.array([[1, 0]], np.float32), "b": np.ones((2, 1), np.float32)}
    want = ft.evaluate(program, data)["y"]
    assert want.tolist() == [[np.inf]]
    np.testing.assert_array_equal(ft.compile(program).run(**data)["y"], want)
