"""Float sums and means over a contiguous run of axes (a global average pool's H x W, a row's
last axis) add vectors of floats into double lanes; other reductions keep the scalar loop. Both
equal the interpreter on the 8-lane (AVX2) and 16-lane (AVX-512) variants, forced through the
LLVM target (`helpers.targets`), rows shorter than a vector, whole vectors and remainders."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends.llvm import build
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import rand, targets
from tests.conftest import compiling

REDUCTIONS = {
    "global_avg_pool": lambda x: tb.global_avg_pool(x),
    "mean over H, W": lambda x: tb.reduce_mean(x, (2, 3), keepdims=True),
    "sum over W": lambda x: tb.reduce_sum(x, (3,)),
    "sum over C, H, W": lambda x: tb.reduce_sum(x, (1, 2, 3)),
    "mean over C (strided: scalar loop)": lambda x: tb.reduce_mean(x, (1,)),
    "max over H, W (scalar loop)": lambda x: tb.reduce_max(x, (2, 3)),
}


@compiling
@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@given(n=st.integers(1, 2), c=st.integers(1, 20), h=st.integers(1, 9), w=st.integers(1, 19),
       kind=st.sampled_from(sorted(REDUCTIONS)), threads=st.sampled_from([1, 2]))
def test_float_reductions_equal_the_interpreter(isa, n, c, h, w, kind, threads):
    x = tb.var("x", (n, c, h, w))
    program = ft.Program({"y": REDUCTIONS[kind](tb.relu(x))})
    inputs = {"x": rand((n, c, h, w), seed=h * w + c)}
    got = build(program, threads=threads, target=targets()[isa]).run(**inputs)["y"]
    want = ft.evaluate(program, inputs)["y"]
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
