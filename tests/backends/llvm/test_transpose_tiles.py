"""Transposes in 8 x 8 register tiles (`transpose_tiles`) equal the interpreter, bit for bit, on
generated shapes and permutations (tiled or not), on the 8- and 16-lane variants."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build, transpose_tiles
from frittata.backends.llvm.views import Buf, contiguous, transpose
from frittata.terms.dtypes import TensorType
from tests.backends.llvm.helpers import dirty, targets
from tests.conftest import compiling


@st.composite
def transposes(draw) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """A shape of rank 2 to 4 (extents mostly multiples of 8, so most draws tile), a permutation
    of it, and a dtype."""
    rank = draw(st.integers(2, 4))
    shape = tuple(draw(st.sampled_from([1, 3, 8, 16, 24, 40])) for _ in range(rank))
    perm = tuple(draw(st.permutations(range(rank))))
    return shape, perm, draw(st.sampled_from(["float32", "int32", "int64"]))


@compiling
@given(case=transposes(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_transposes_equal_the_interpreter(case, isa, threads):
    shape, perm, dtype = case
    program = ft.Program({"y": T.transpose(T.var("x", shape, dtype), perm)})
    x = np.arange(np.prod(shape)).reshape(shape).astype(dtype)
    got = dirty(build(program, threads=threads, target=targets()[isa])).run(x=x)["y"]
    np.testing.assert_array_equal(got, ft.evaluate(program, {"x": x})["y"])


def test_an_attention_key_transpose_is_tiled_and_a_last_axis_copy_is_not():
    """[1, 128, 4, 64] -> [1, 4, 64, 128] (keys for q k^T) is a [128, 256] -> [256, 128] transpose
    once its axes are merged, tiled over both; a permutation
    that keeps the last axis, or an extent 8 does not divide, keeps the map."""
    def plan(shape, perm, dtype="float32"):
        buf = Buf(0, 0, TensorType(shape, dtype))
        moved = transpose(contiguous(buf), perm)
        out = contiguous(Buf(1, 0, TensorType(moved.shape, dtype)))
        return transpose_tiles.tiled(out, moved)

    tiles = plan((1, 128, 4, 64), (0, 2, 3, 1))
    assert tiles is not None and tiles[0].shape == (256, 128) and tiles[2] == 0
    assert plan((1, 128, 4, 64), (0, 2, 1, 3)) is None
    assert plan((1, 100, 4, 64), (0, 2, 3, 1)) is None
    assert plan((1, 128, 4, 64), (0, 2, 3, 1), "int64") is None
