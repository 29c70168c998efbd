"""A float16 dense or conv with a bias (and a relu or clip), fused by the optimizer, builds and matches the
interpreter bit for bit: the fused epilogue rounds the float32 accumulator to float16 before it
adds the float16 bias, as the unfused program does."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T


def dense(rng):
    x = T.var("x", (8, 32), "float16")
    w = T.param("w", rng.standard_normal((32, 32)).astype("float16"))
    return T.relu(T.add(T.dense(x, w), T.param("b", rng.standard_normal((32,)).astype("float16")))), (8, 32)


def conv(rng):
    x = T.var("x", (1, 3, 6, 6), "float16")
    w = T.param("w", rng.standard_normal((4, 3, 3, 3)).astype("float16"))
    b = T.param("b", rng.standard_normal((1, 4, 1, 1)).astype("float16"))
    return T.clip(T.add(T.conv2d(x, w, pads=1), b), -0.3, 1.1), (1, 3, 6, 6)


@pytest.mark.parametrize("make", [dense, conv])
def test_a_fused_float16_contraction_with_a_bias_matches_the_interpreter(make):
    rng = np.random.default_rng(0)
    term, shape = make(rng)
    program = ft.Program({"o": term})
    inputs = {"x": rng.standard_normal(shape).astype("float16")}
    module = ft.compile(program)
    assert {"fused_dense", "fused_conv2d"} & set(module.program.op_counts())
    np.testing.assert_array_equal(module.run(**inputs)["o"], ft.evaluate(program, inputs)["o"])
