"""8-bit 2x2 max pools by whole rows (`pool_bytes`): equal to the interpreter on generated shapes
(rows of 1 to 40 outputs: one vector, several, an overlapping last chunk; odd input sizes whose
last row or column the window never reaches; a batch), int8 and uint8, on both ISAs."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata.terms as T
from frittata.backends.llvm.pool_bytes import pools_byte_rows
from frittata.backends.llvm.views import Buf, contiguous
from tests.backends.llvm.helpers import assert_compiled_equal, targets
from tests.conftest import compiling

TARGETS = targets()


@compiling
@given(st.tuples(st.integers(1, 2), st.integers(1, 70), st.integers(2, 9), st.integers(2, 81)),
       st.sampled_from(["int8", "uint8"]), st.sampled_from(sorted(TARGETS)), st.integers(0, 2**32 - 1))
def test_byte_max_pool_equals_the_interpreter(shape, dtype, target, seed):
    info = np.iinfo(dtype)
    x = np.random.default_rng(seed).integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    pool = T.max_pool2d(T.var("x", shape, dtype), 2, 2)
    assert pools_byte_rows(contiguous(Buf(0, 0, pool.args[0].type)), pool.attr, contiguous(Buf(0, 0, pool.type)))
    assert_compiled_equal(T.Program({"y": pool}), {"x": x}, TARGETS[target])


def test_other_pools_take_the_general_kernel():
    """A 3x3 window, stride 1, padding, float32: the general kernel's (the padded 2x2 pool's
    values checked too, on both ISAs)."""
    q, f = T.var("x", (1, 4, 8, 8), "int8"), T.var("f", (1, 4, 8, 8))
    padded = T.max_pool2d(q, 2, 2, 1)
    for pool in (T.max_pool2d(q, 3, 2, 1), T.max_pool2d(q, 2, 1), padded, T.max_pool2d(f, 2, 2)):
        source = contiguous(Buf(0, 0, pool.args[0].type))
        assert not pools_byte_rows(source, pool.attr, contiguous(Buf(0, 0, pool.type)))
    x = np.random.default_rng(0).integers(-128, 128, q.shape).astype(np.int8)
    for target in TARGETS.values():
        assert_compiled_equal(T.Program({"y": padded}), {"x": x}, target)
