"""The vector softmax along a contiguous last axis (`softmax_rows`) equals the interpreter on
generated shapes and scores (masked with -inf, NaN, huge), on the 8- and 16-lane variants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from tests.backends.llvm.helpers import dirty, targets
from tests.conftest import compiling


@st.composite
def scores(draw) -> np.ndarray:
    """A [rows, n] or [2, rows, n] array of scores: standard normal times a scale, some entries
    -inf (a causal mask, or whole rows), maybe a NaN, +inf or a huge value."""
    shape = draw(st.sampled_from([(), (2,)])) + (draw(st.integers(1, 5)), draw(st.integers(1, 40)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = (rng.standard_normal(shape) * draw(st.sampled_from([0.3, 3.0, 60.0]))).astype(np.float32)
    if draw(st.booleans()):
        rows, n = shape[-2:]
        x[..., np.triu(np.ones((rows, n), bool), 1)] = -np.inf
    special = draw(st.sampled_from([None, np.nan, np.inf, -np.inf, 3e38]))
    if special is not None:
        flat = x.reshape(-1)
        flat[draw(st.integers(0, flat.size - 1))] = special
    return x


@compiling
@given(x=scores(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_softmax_equals_the_interpreter(x, isa, threads):
    program = ft.Program({"y": T.softmax(T.var("x", x.shape), axis=-1)})
    with np.errstate(invalid="ignore", over="ignore"):
        want = ft.evaluate(program, {"x": x})["y"]
    got = dirty(build(program, threads=threads, target=targets()[isa])).run(x=x)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_exponentials_are_within_a_few_ulp_down_to_the_flush(isa):
    """Rows of 32 whose first score is 0 (the max) and the rest sweep [-100, 0]: each output is
    e^x / (1 + sum), within 4 ulp of float64 where e^x is a normal float, 0 below x = -87 (the
    flush) and below 1.7e-38 between."""
    sweep = np.linspace(-100.0, 0.0, 256 * 31, dtype=np.float32).reshape(256, 31)
    x = np.concatenate([np.zeros((256, 1), np.float32), sweep], axis=1)
    got = build(ft.Program({"y": T.softmax(T.var("x", x.shape))}), threads=1, target=targets()[isa]).run(x=x)["y"]
    e = np.exp(x.astype(np.float64))
    want = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(got[x < -87.0], 0.0)
    normal = x >= -87.0
    np.testing.assert_allclose(got[normal], want[normal], rtol=4 * 2**-23, atol=1.7e-38)
