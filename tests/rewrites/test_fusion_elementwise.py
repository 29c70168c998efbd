"""Elementwise chains fuse into one kernel: sequence variables, the rules, extraction, codegen."""

from __future__ import annotations

import numpy as np

import frittata as ft
from frittata.rewrites.rule_format import PVar, parse_rules
from frittata.rewrites.sequences import element, instantiate, seq_vars
from frittata.terms import builders as tb


def test_sequence_variables_are_one_rule_and_instantiate_to_any_length():
    (rule,) = parse_rules("(rule r (fused_elementwise (fused_elementwise ?xs... :expr ?f) ?ys... :expr ?e)"
                          " => (fused_elementwise ?xs... ?ys... :expr (ew-inline ?e 0 ?f)))", family="f")
    assert seq_vars(rule.lhs) == ["xs", "ys"]
    wide = instantiate(rule, (40, 30))
    assert [len(n.args) for n in (wide.lhs, wide.lhs.args[0], wide.rhs)] == [31, 40, 70]
    assert wide.rhs.args[0] == PVar(element("xs", 0)) and wide.rhs.args[40] == PVar(element("ys", 0))


def test_a_chain_compiles_to_one_fused_kernel():
    x, y = tb.var("x", (4, 64)), tb.var("y", (64,))
    program = ft.Program({"out": tb.tanh(tb.mul(tb.relu(tb.add(x, y)), 0.5))})
    mod = ft.compile(program)
    assert mod.report["program"]["output_ops"].get("fused_elementwise") == 1
    assert not {"add", "relu", "mul", "tanh"} & set(mod.report["program"]["output_ops"])
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((4, 64)).astype(np.float32), "y": rng.standard_normal(64).astype(np.float32)}
    np.testing.assert_allclose(mod.run(**inputs)["out"], ft.evaluate(program, inputs)["out"], rtol=1e-5, atol=1e-6)


def test_fused_kernels_compile_like_the_interpreter():
    a, b, c = tb.var("a", (3, 1, 5)), tb.var("b", (4, 5)), tb.var("c", (), "float32")
    expr = ("sigmoid", ("maximum", ("sub", ("arg", 0), ("arg", 1)), ("erf", ("mul", ("arg", 2), ("arg", 1)))))
    program = ft.Program({"out": tb.fused_elementwise(a, b, c, expr=expr)})
    rng = np.random.default_rng(1)
    inputs = {n: rng.standard_normal(t.shape).astype(np.float32) for n, t in program.inputs.items()}
    got = ft.compile(program).run(**inputs)["out"]
    np.testing.assert_allclose(got, ft.evaluate(program, inputs)["out"], rtol=1e-5, atol=1e-6)
