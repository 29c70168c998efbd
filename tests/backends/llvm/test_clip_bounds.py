"""A clip epilogue with one bound None leaves that side unbounded on every blocked kernel path.

The clip fusion rules guard against a None bound, yet the rules without those guards are still
sound (an epilogue's meaning is its expansion into plain ops, where a None bound is absent) only
if every kernel that applies an epilogue in registers honours None as the interpreter does. A
float kernel with parameter weights once stopped with a TypeError on it.
"""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import check, rand

FLOAT_BOUNDS = [(None, 0.5), (-0.5, None)]


def _float_kernels(lo, hi) -> dict[str, ft.Term]:
    clip = (("clip", lo, hi),)
    x2, x4 = tb.var("x", (8, 40)), tb.var("x", (1, 16, 9, 9))
    w3, b = tb.param("w", rand((16, 16, 3, 3), seed=1)), tb.param("b", rand(16, seed=2))
    return {
        "packed gemm": tb.fused_dense(x2, tb.param("w", rand((16, 40), seed=1)), b, epilogue=clip),
        "direct conv": tb.fused_conv2d(x4, w3, b, pads=(1, 1, 1, 1), epilogue=clip),
        "depthwise": tb.fused_conv2d(x4, tb.param("w", rand((16, 1, 3, 3), seed=1)), b, pads=(1, 1, 1, 1),
                                     groups=16, epilogue=clip),
        "winograd": tb.winograd_conv2d(x4, w3, b, pads=(1, 1, 1, 1), tile=2, epilogue=clip),
    }


def _check_open(term: ft.Term, x: np.ndarray, bounds) -> None:
    """Equal to the interpreter on the kernel's fast path, with outputs past the open bound.
    The outputs reach ~50 in magnitude: float kernels that reorder sums (Winograd's transforms)
    differ from the interpreter by ~1e-5 there, so atol is 1e-4; a bound applied where it is
    None would be off by 0.5 or more."""
    mod = check(ft.Program({"y": term}), {"x": x}, atol=1e-4)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]
    y = mod.run(x=x)["y"]
    lo, hi = bounds
    past_open_side = -float(y.min()) if lo is None else float(y.max())
    assert past_open_side > abs(hi if lo is None else lo) + 1, "no output reaches far past the open side"


@pytest.mark.parametrize("bounds", FLOAT_BOUNDS, ids=str)
@pytest.mark.parametrize("kernel", ["packed gemm", "direct conv", "depthwise", "winograd"])
def test_float_kernels_leave_a_none_bound_open(kernel, bounds):
    term = _float_kernels(*bounds)[kernel]
    _check_open(term, rand(term.args[0].shape, seed=3, scale=4.0), bounds)


@pytest.mark.parametrize("bounds", [(None, 40), (-40, None)], ids=str)
def test_int8_conv_leaves_a_none_bound_open(bounds):
    x = tb.var("x", (1, 16, 9, 9), "int8")
    w, b = tb.param("w", rand((16, 16, 3, 3), "int8", seed=1)), tb.param("b", rand(16, "int32", seed=2))
    term = tb.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=(("shift", 6), ("clip", *bounds), ("cast", "int8")))
    _check_open(term, rand((1, 16, 9, 9), "int8", seed=3), bounds)
