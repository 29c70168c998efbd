"""Wide operand lists compile for llvm and equal the interpreter: DenseNet-style concats of 9
and 64 inputs, a 33-input sum, a 33-operand fused kernel, and every operand count 1..70."""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata.rewrites import Limits
from frittata.terms import builders as tb
from tests.conftest import SATURATION_PHASE_SECONDS, compiling


def _compile_and_check(program: ft.Program, seed: int = 0, **options) -> ft.Module:
    mod = ft.compile(program, target="llvm", **options)
    rng = np.random.default_rng(seed)
    inputs = {n: rng.standard_normal(t.shape).astype(np.float32) for n, t in program.inputs.items()}
    got, want = mod.run(**inputs), ft.evaluate(program, inputs)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)
    return mod


def _sum_expr(n: int) -> tuple:
    return functools.reduce(lambda acc, i: ("add", acc, ("arg", i)), range(1, n), ("arg", 0))


def test_concat_of_9_inputs_like_a_densenet_block():
    xs = [tb.relu(tb.var(f"x{i}", (1, 4 + i % 3, 5, 5))) for i in range(9)]
    _compile_and_check(ft.Program({"out": tb.concat(*xs, axis=1)}))


def test_concat_of_64_inputs():
    xs = [tb.var(f"x{i}", (2, 1 + i % 4)) for i in range(64)]
    mod = _compile_and_check(ft.Program({"out": tb.concat(*xs, axis=1)}))
    assert mod.report["program"]["output_ops"] == {"input": 64, "concat": 1}


WIDE_FUSION = """(rule fuse-elementwise-first-wide
  (fused_elementwise (fused_elementwise ?xs... :expr ?f) ?ys... :expr ?e)
  => (fused_elementwise ?xs... ?ys... :expr (ew-inline ?e 0 ?f))
  :if (ew-size-at-most (ew-inline ?e 0 ?f) 64) :family fusion)"""


def test_sum_of_33_inputs():
    """The adds end in fused kernels. The fuse phase never saturates on this sum (commuted
    partial sums: 3.4k rows in 4 steps, 19k in 5, ~28 s), so the clock would decide how many
    steps it gets (one step leaves the adds unfused); three steps, whatever the load, give
    8 kernels in ~2 s of CPU."""
    xs = [tb.var(f"x{i}", (4, 16)) for i in range(33)]
    program = ft.Program({"out": functools.reduce(tb.add, xs)})
    mod = _compile_and_check(program, limits=Limits(iterations=3, seconds=SATURATION_PHASE_SECONDS))
    assert mod.report["program"]["output_ops"] == {"input": 33, "fused_elementwise": 8}


def test_fusion_builds_a_33_operand_kernel_when_the_rules_allow_it():
    """The library bounds kernels at 12 ops to keep saturation small; a wider rule fuses all."""
    xs = [tb.var(f"x{i}", (4, 16)) for i in range(33)]
    program = ft.Program({"out": functools.reduce(tb.add, xs)})
    off = ["comm-add", "fuse-elementwise-first", "fuse-elementwise-last"]
    mod = _compile_and_check(program, rules=[WIDE_FUSION], disable=off, limits=Limits(seconds=300))
    assert mod.report["program"]["output_ops"] == {"input": 33, "fused_elementwise": 1}


def test_a_33_operand_fused_kernel():
    xs = [tb.var(f"x{i}", (3, 8)) for i in range(33)]
    program = ft.Program({"out": tb.fused_elementwise(*xs, expr=("relu", _sum_expr(33)))})
    mod = _compile_and_check(program)
    assert mod.report["program"]["output_ops"]["fused_elementwise"] == 1


@compiling
@given(st.integers(1, 70))
def test_any_operand_count(n):
    xs = [tb.var(f"x{i}", (2, 3)) for i in range(n)]
    program = ft.Program({"cat": tb.concat(*xs, axis=0), "sum": tb.fused_elementwise(*xs, expr=_sum_expr(n))})
    _compile_and_check(program, seed=n)
