"""Slices and transposes copied a contiguous row at a time (`row_copies`) equal the interpreter,
bit for bit, on generated shapes (rows long enough or not, whatever the dtype)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build, row_copies
from frittata.backends.llvm.views import Buf, contiguous, slice_view, transpose
from frittata.terms.dtypes import TensorType
from tests.backends.llvm.helpers import dirty, targets
from tests.conftest import compiling


@st.composite
def copies(draw):
    """A [a, b, c] input (c the row), a dtype, and a slice of it or a transpose keeping axis 2 last."""
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.sampled_from([3, 16, 40, 70])))
    dtype = draw(st.sampled_from(["float32", "int64", "uint8"]))
    x = T.var("x", shape, dtype)
    if draw(st.booleans()):
        return T.transpose(x, (1, 0, 2)), shape, dtype
    start = draw(st.integers(0, shape[2] - 1))
    stop = draw(st.integers(start + 1, shape[2]))
    first = draw(st.integers(0, shape[1] - 1))
    return T.slice(x, ((0, shape[0], 1), (first, shape[1], 1), (start, stop, 1))), shape, dtype


@compiling
@given(case=copies(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_row_copies_equal_the_interpreter(case, isa, threads):
    term, shape, dtype = case
    program = ft.Program({"y": term})
    x = (np.arange(np.prod(shape)) % 251).reshape(shape).astype(dtype)
    got = dirty(build(program, threads=threads, target=targets()[isa])).run(x=x)["y"]
    np.testing.assert_array_equal(got, ft.evaluate(program, {"x": x})["y"])


def test_heads_and_a_qkv_slice_copy_rows_and_short_rows_do_not():
    """Attention's [1, 128, 4, 64] -> [1, 4, 128, 64] and a third of a [1, 128, 768] projection
    copy rows of 64 and 256 floats; rows of 15 floats (60 bytes) and a transpose that moves
    the last axis keep the map."""
    def view(shape, dtype="float32"):
        return contiguous(Buf(0, 0, TensorType(shape, dtype)))

    def out(moved):
        return contiguous(Buf(1, 0, TensorType(moved.shape, moved.dtype)))

    heads = transpose(view((1, 128, 4, 64)), (0, 2, 1, 3))
    assert row_copies.rows(out(heads), heads)[0].shape == (4, 128, 64)
    third = slice_view(view((1, 128, 768)), ((0, 1, 1), (0, 128, 1), (256, 512, 1)))
    assert row_copies.rows(out(third), third)[0].shape == (128, 256)
    short = slice_view(view((1, 128, 768)), ((0, 1, 1), (0, 128, 1), (0, 15, 1)))
    assert row_copies.rows(out(short), short) is None
    keys = transpose(view((1, 128, 4, 64)), (0, 2, 3, 1))
    assert row_copies.rows(out(keys), keys) is None
