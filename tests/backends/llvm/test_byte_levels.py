"""Fused elementwise maps of one 8-bit tensor onto a few levels (`byte_levels`): compiled equal
to the interpreter on generated requantizations (a rounding shift of the int32 value, a clip,
a relu, the cast back), shapes (sizes past and below a chunk of 32) and dtypes, on both ISAs;
maps that are not monotone onto 0..3 keep the general kernel."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata.terms as T
from frittata.backends.llvm.byte_levels import byte_levels
from frittata.terms.fused import fused_elementwise
from tests.backends.llvm.helpers import targets
from tests.backends.llvm.test_bitserial import assert_compiled_equal
from tests.conftest import compiling

TARGETS = targets()


def requantization(shift: int, lo: int, hi: int, relu: bool) -> tuple:
    value: tuple = ("cast", ("arg", 0), "int32")
    if relu:
        value = ("relu", value)
    return ("cast", ("clip", ("right_shift", value, shift), lo, hi), "int8")


@compiling
@given(st.integers(0, 8), st.sampled_from([(0, 1), (0, 3), (1, 2), (-1, 1)]), st.booleans(),
       st.sampled_from(["int8", "uint8"]), st.lists(st.integers(1, 40), min_size=1, max_size=3),
       st.sampled_from(sorted(TARGETS)), st.integers(0, 2**32 - 1))
def test_byte_levels_equal_the_interpreter(shift, bounds, relu, dtype, shape, target, seed):
    info = np.iinfo(dtype)
    x = np.random.default_rng(seed).integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    t = fused_elementwise(T.var("x", tuple(shape), dtype), expr=requantization(shift, *bounds, relu))
    assert byte_levels(t) is not None or bounds[0] < 0  # a clip from 0 gives levels 0..hi
    assert_compiled_equal(T.Program({"y": t}), {"x": x}, TARGETS[target])


def test_maps_that_are_not_monotone_levels_keep_the_general_kernel():
    x = T.var("x", (4, 40), "int8")
    negated = ("cast", ("clip", ("neg", ("cast", ("arg", 0), "int32")), 0, 1), "int8")
    wide = ("cast", ("clip", ("arg", 0), 0, 9), "int8")
    assert byte_levels(fused_elementwise(x, expr=negated)) is None  # decreasing
    assert byte_levels(fused_elementwise(x, expr=wide)) is None  # 9 levels
    assert byte_levels(fused_elementwise(x, expr=requantization(7, 0, 1, False))).tolist() == [64]
