"""Grouped convolutions with several input channels per group run the blocked direct
convolution once per group, equal to the interpreter on both ISAs (see `helpers.targets`)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import frittata as ft
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling


@st.composite
def grouped_convs(draw):
    groups, per_group = draw(st.integers(2, 4), label="groups"), draw(st.integers(2, 5))
    outputs = groups * draw(st.integers(1, 14))
    k, stride = draw(st.sampled_from([1, 3])), draw(st.sampled_from([1, 2]))
    pads = (k // 2,) * 4
    x = tb.var("x", (draw(st.integers(1, 2)), groups * per_group, draw(st.integers(3, 9)), draw(st.integers(3, 30))))
    weights = tb.param("w", rand((outputs, per_group, k, k), seed=5))
    attrs = {"strides": (stride, stride), "pads": pads, "groups": groups}
    plain = tb.conv2d(x, weights, **attrs)
    if draw(st.booleans()):
        return plain
    bias = tb.param("b", rand((outputs,), seed=6))
    return tb.fused_conv2d(x, weights, bias, tb.var("r", plain.shape), epilogue=(("add",), ("relu",)), **attrs)


def chunks_across_groups() -> ft.Term:
    """5 groups of 34 work items each at two threads: the threads' chunks of the one (group, item)
    range start inside a group and end in a later one."""
    x = tb.var("x", (1, 10, 17, 23))
    weights = tb.param("w", rand((40, 2, 3, 3), seed=5))
    return tb.conv2d(x, weights, strides=(1, 1), pads=(1, 1, 1, 1), groups=5)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@compiling
@given(term=grouped_convs(), threads=st.sampled_from([1, 2]))
@example(term=chunks_across_groups(), threads=2)
def test_grouped_conv_equals_the_interpreter(isa, term, threads):
    mod = check_on(ft.Program({"y": term}), targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]
