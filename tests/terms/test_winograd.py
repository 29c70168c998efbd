"""The Winograd transforms generated from interpolation points compute a correlation, and the
winograd_conv2d op accepts exactly the convolutions it can compute."""

from __future__ import annotations

import numpy as np
import pytest

from frittata.errors import FrittataTypeError
from frittata.terms import builders as tb
from frittata.terms.winograd import transforms


@pytest.mark.parametrize("m", [2, 4])
def test_the_transforms_compute_a_3_tap_correlation(m):
    at, g, bt = transforms(m)
    rng = np.random.default_rng(m)
    for _ in range(20):
        taps, d = rng.standard_normal(3), rng.standard_normal(m + 2)
        want = [taps @ d[i:i + 3] for i in range(m)]
        np.testing.assert_allclose(at @ ((g @ taps) * (bt @ d)), want, rtol=1e-12, atol=1e-12)


def test_f2_has_the_integer_input_transform_of_the_literature():
    """Points 0, 1, -1 and infinity give Lavin and Gray's F(2, 3) (rows scaled so Bᵀ is integer)."""
    at, g, bt = transforms(2)
    assert bt.tolist() == [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]]
    assert at.tolist() == [[1, 1, 1, 0], [0, 1, -1, 1]]
    assert g.tolist() == [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]


def test_winograd_conv2d_has_the_fused_convolution_type():
    x, w, b = tb.var("x", (1, 4, 9, 9)), tb.var("w", (8, 4, 3, 3)), tb.var("b", (8,))
    t = tb.winograd_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=(("relu",),), tile=4)
    assert t.type == tb.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=(("relu",),)).type
    assert eval(repr(t), vars(tb)) is t


@pytest.mark.parametrize("change, expected", [
    ({"w": (8, 4, 5, 5)}, "3x3 kernel"),
    ({"strides": (2, 2)}, "strides"),
    ({"dilations": (2, 2)}, "dilations"),
    ({"tile": 3}, "float32 tile in"),
    ({"tile": 5}, "tile in"),
    ({"dtype": "int8", "tile": 4}, "int8 tile in"),
    ({"dtype": "int8", "bias": "float32"}, "bias int32"),
    ({"dtype": "int32"}, "float32 operands, or int8"),
])
def test_winograd_conv2d_refuses_what_it_cannot_compute(change, expected):
    dtype = change.get("dtype", "float32")
    x, w = tb.var("x", (1, 4, 9, 9), dtype), tb.var("w", change.get("w", (8, 4, 3, 3)), dtype)
    b = tb.var("b", (8,), change.get("bias", "int32" if dtype == "int8" else dtype))
    attrs = {k: v for k, v in change.items() if k in ("strides", "dilations")}
    with pytest.raises(FrittataTypeError, match=expected):
        tb.winograd_conv2d(x, w, b, tile=change.get("tile", 2), **attrs)
