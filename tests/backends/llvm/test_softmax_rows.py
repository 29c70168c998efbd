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
    """Rows of 32 whose first score is 0 (the max) and the rest sweep [-110, 0]: each output is
    e^x / (1 + sum), within 4 ulp of float64 where e^x is a normal float, within 2 subnormal ulp
    (2^-149) in the subnormal band [-104, -87], and 0 below -104 (where float32 e^x is 0)."""
    sweep = np.linspace(-110.0, 0.0, 256 * 31, dtype=np.float32).reshape(256, 31)
    x = np.concatenate([np.zeros((256, 1), np.float32), sweep], axis=1)
    got = build(ft.Program({"y": T.softmax(T.var("x", x.shape))}), threads=1, target=targets()[isa]).run(x=x)["y"]
    e = np.exp(x.astype(np.float64))
    want = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(got[x < -104.0], 0.0)
    normal = x >= -87.0
    np.testing.assert_allclose(got[normal], want[normal], rtol=4 * 2**-23, atol=1.7e-38)
    band = (x >= -104.0) & ~normal
    np.testing.assert_allclose(got[band], want[band], rtol=0, atol=2 * 2.0**-149)
    assert np.count_nonzero(got[band]) > 0.9 * np.count_nonzero(band)


@pytest.mark.parametrize(("isa", "n"), [("avx2", 8), ("avx2", 11), ("avx512", 16)])
def test_log_of_small_probabilities_is_finite(isa, n):
    """Scores 87..104 below their row's maximum make subnormal probabilities, not 0: their log and
    a cross-entropy through it (a 0 target there) equal the interpreter's, finite, not -inf/NaN."""
    x = np.full((1, n), -30.0, np.float32)
    x[0, :8] = [0.0, -86.0, -90.0, -95.0, -100.0, -103.0, -0.5, -1.0]
    t = np.zeros((1, n), np.float32)
    t[0, 0] = 1.0
    logp = T.log(T.softmax(T.var("x", x.shape), -1))
    program = ft.Program({"logp": logp, "xent": T.neg(T.reduce_sum(T.mul(T.var("t", t.shape), logp), [-1]))})
    want = ft.evaluate(program, {"x": x, "t": t})
    got = build(program, threads=1, target=targets()[isa]).run(x=x, t=t)
    assert np.isfinite(got["logp"]).all() and np.isfinite(got["xent"]).all()
    np.testing.assert_allclose(got["logp"], want["logp"], rtol=1e-4)
    np.testing.assert_allclose(got["xent"], want["xent"], rtol=1e-4)


@pytest.mark.parametrize(("isa", "n"), [("avx2", 9), ("avx2", 15), ("avx512", 17)])
def test_row_maximum_includes_the_tail(isa, n):
    """The maximum in the columns past the last whole vector, far above the rest (100, where
    exp(x - max of the vectors) would overflow, and 3e38): the row max must read the tail."""
    x = np.zeros((2, n), np.float32)
    x[0, -1] = 100.0
    x[1, -1] = 3e38
    program = ft.Program({"y": T.softmax(T.var("x", x.shape), -1)})
    got = build(program, threads=1, target=targets()[isa]).run(x=x)["y"]
    want = ft.evaluate(program, {"x": x})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
