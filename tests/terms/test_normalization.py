"""The normalization ops' gradients (their VJPs as terms) against finite differences, over
trailing axes starting at each axis."""

import numpy as np
import pytest

import frittata as ft
from frittata.autodiff.check import assert_gradients
from frittata.terms import builders as tb


@pytest.mark.parametrize("axis", [1, 2])
def test_layer_norm_gradient_over_the_axes_from_axis_on_matches_finite_differences(axis):
    rng = np.random.default_rng(axis)
    x = tb.var("x", (2, 3, 4))
    scale, bias = tb.var("scale", x.shape[axis:]), tb.var("bias", x.shape[axis:])
    r = tb.param("r", rng.standard_normal(x.shape).astype(np.float32))
    program = ft.Program({"loss": tb.reduce_sum(tb.mul(tb.layer_norm(x, scale, bias, axis=axis), r))})
    inputs = {n: rng.standard_normal(t.shape) for n, t in program.inputs.items()}
    assert_gradients(program, inputs, ["x", "scale", "bias"], coordinates=8)
