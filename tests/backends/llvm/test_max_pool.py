"""The float32 max pool on vectors (small planes unrolled in registers; larger ones a vertical pass
into a stack row, then strided taps shuffled out of it) equals the interpreter, NaN included, on
the 8-lane (AVX2) and 16-lane (AVX-512) variants (`helpers.targets`), with any window, stride and
padding below the window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends.llvm.build import build
from frittata.backends.llvm.pool import STACK_ROW_FLOATS
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import check_on, kernel_texts, rand, targets
from tests.conftest import compiling


@st.composite
def max_pools(draw):
    """A max pool of a random NCHW shape: windows 1-4 per axis, strides 1-3, pads below the window."""
    kh, kw = draw(st.integers(1, 4), label="kh"), draw(st.integers(1, 4), label="kw")
    strides = (draw(st.integers(1, 3), label="sh"), draw(st.integers(1, 3), label="sw"))
    pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
            draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    h = draw(st.integers(max(1, kh - pads[0] - pads[2]), 14), label="h")
    w = draw(st.integers(max(1, kw - pads[1] - pads[3]), 45), label="w")
    x = tb.var("x", (draw(st.integers(1, 2)), draw(st.integers(1, 5)), h, w))
    return tb.max_pool2d(x, (kh, kw), strides, pads)


@compiling
@given(pool=max_pools(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_max_pool_equals_the_interpreter(pool, isa, threads):
    check_on(ft.Program({"y": pool}), targets()[isa], threads)


@compiling
@given(pool=max_pools(), isa=st.sampled_from(["avx2", "avx512"]), data=st.data())
def test_max_pool_propagates_every_nan(pool, isa, data):
    """A NaN anywhere in a window makes that output NaN (numpy's max), wherever it sits in the row."""
    x = rand(pool.args[0].shape, seed=3)
    count = data.draw(st.integers(1, 4))
    for _ in range(count):
        x[tuple(data.draw(st.integers(0, n - 1)) for n in x.shape)] = np.nan
    program = ft.Program({"y": pool})
    got = build(program, threads=2, target=targets()[isa]).run(x=x)["y"]
    want = ft.evaluate(program, {"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


def test_a_pool_too_wide_for_the_stack_row_takes_the_scalar_loop():
    """One row of 4,000,000 floats, 1x3 stride 2: the vector pool's stack row (about 8,000,000
    floats) overflowed a thread's stack and crashed; past STACK_ROW_FLOATS the scalar loop runs,
    and a row just below the bound still takes the vectors. Both equal the interpreter."""
    for width in (4_000_000, STACK_ROW_FLOATS // 2 - 32):
        x = tb.var("x", (1, 1, 1, width))
        program = ft.Program({"y": tb.max_pool2d(x, (1, 3), (1, 2), (0, 1, 0, 1))})
        xv = rand(x.shape, seed=5)
        vectors = any("pool_row" in text for text in kernel_texts(program, targets()["avx2"]))
        assert vectors == (width < STACK_ROW_FLOATS)
        got = build(program, threads=2, target=targets()["avx2"]).run(x=xv)["y"]
        np.testing.assert_array_equal(got, ft.evaluate(program, {"x": xv})["y"])


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize(("shape", "kernel", "stride", "pads", "registers"), [
    ((2, 3, 28, 28), 3, 1, (1, 1, 1, 1), True),    # GoogLeNet's inception branches
    ((1, 5, 7, 7), 3, 1, (1, 1, 1, 1), True),
    ((1, 4, 28, 28), 3, 2, (0, 0, 1, 1), True),    # ceil mode: one more row and column of padding
    ((1, 3, 27, 27), 3, 2, (0, 0, 0, 0), True),    # SqueezeNet's
    ((2, 3, 1, 1), 3, 1, (1, 1, 1, 1), True),      # 1x1 planes
    ((1, 2, 56, 56), 3, 2, (0, 0, 1, 1), False),   # planes past REGISTER_PLANE_VECTORS: the stack row
    ((1, 2, 112, 112), 3, 2, (0, 0, 1, 1), False),  # rows past REGISTER_ROW_VECTORS too
])
def test_small_planes_take_the_registers(shape, kernel, stride, pads, registers, isa):
    """Which path a model's pools take on each ISA, and both equal the interpreter (2 threads)."""
    program = ft.Program({"y": tb.max_pool2d(tb.var("x", shape), (kernel, kernel), (stride, stride), pads)})
    (text,) = kernel_texts(program, targets()[isa])
    assert ("plane.body" in text) == registers
    assert ("pool_row" in text) != ("plane.body" in text)
    check_on(program, targets()[isa], 2)
