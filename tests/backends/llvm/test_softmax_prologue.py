"""The softmax with an elementwise prologue (`fused_softmax`: attention's scale and masks) equals
the interpreter on generated shapes (rows of any length, masked rows, -inf), on the 8- and
16-lane variants, 1 and 2 threads, along the last axis (vector rows) or another (scalar rows)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from tests.backends.llvm.helpers import dirty, targets
from tests.conftest import compiling

CAUSAL = ("where", ("arg", 0), ("div", ("arg", 1), ("const", 8.0, "float32")), ("arg", 2))
ADDITIVE = ("add", ("mul", ("arg", 0), ("const", 0.125, "float32")), ("arg", 1))


@st.composite
def attention_scores(draw) -> tuple[ft.Program, dict[str, np.ndarray]]:
    """Scores [heads, rows, n] under a `where` mask with a fill (-inf, -1e9, or -inf in some
    whole rows) after a division, or under an additive mask [1, n] or [rows, n] after a scale."""
    heads, rows, n = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 37))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = (rng.standard_normal((heads, rows, n)) * draw(st.sampled_from([0.5, 20.0]))).astype(np.float32)
    axis = draw(st.sampled_from([-1, 1]))
    scores = T.var("x", x.shape)
    if draw(st.booleans()):
        keep = rng.random((rows, n)) < draw(st.sampled_from([0.0, 0.6, 1.0]))
        fill = draw(st.sampled_from([float("-inf"), -1e9]))
        y = T.fused_softmax(T.var("m", keep.shape, "bool"), scores, T.const(fill), expr=CAUSAL, axis=axis)
        return ft.Program({"y": y}), {"x": x, "m": keep}
    shape = draw(st.sampled_from([(1, n), (rows, n)]))
    mask = np.where(rng.random(shape) < 0.7, 0.0, -10000.0).astype(np.float32)
    y = T.fused_softmax(scores, T.var("m", shape), expr=ADDITIVE, axis=axis)
    return ft.Program({"y": y}), {"x": x, "m": mask}


@compiling
@given(case=attention_scores(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_fused_softmax_equals_the_interpreter(case, isa, threads):
    program, inputs = case
    with np.errstate(invalid="ignore", over="ignore"):
        want = ft.evaluate(program, inputs)["y"]
    got = dirty(build(program, threads=threads, target=targets()[isa])).run(**inputs)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
