"""Tests that kill surviving mutants of frittata.rewrites (bench/mutation_score.py)."""

from types import SimpleNamespace

import numpy as np
import pytest
from egglog import ruleset

from frittata.rewrites import egraph, saturate
from frittata.terms import builders as tb
from frittata.terms import zoo
from frittata.terms.program import Program


def _size(program) -> tuple[int, int]:
    data, _ = saturate(program)
    return len(data.nodes), len(data.classes)


def test_the_analysis_rules_rebuilt_at_run_time_saturate_alike(monkeypatch):
    # egraph.ANALYSIS is built once at import; rebuilding it from _analysis_rules() inside a
    # test checks the rule builder itself (types and param-only facts drive guards and folds)
    for program in (zoo.get("mlp"), _conv_bn_relu()):
        _same_after_rebuild(program, monkeypatch)


def _conv_bn_relu() -> Program:
    """A convolution whose batch norm folds (param-only facts) and whose bias fuses (types)."""
    rng = np.random.default_rng(0)
    x = tb.var("x", (1, 3, 6, 6))
    w = tb.param("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    stats = [tb.param(n, rng.random(4).astype(np.float32) + 0.5) for n in ("s", "b", "m", "v")]
    return Program({"y": tb.relu(tb.batch_norm(tb.conv2d(x, w, pads=1), *stats))})


def _same_after_rebuild(program: Program, monkeypatch) -> None:
    expected = _size(program)
    rebuilt = ruleset(*egraph._analysis_rules(), name="frittata-analysis-rebuilt")
    with monkeypatch.context() as patch:
        patch.setattr(egraph, "ANALYSIS", rebuilt)
        assert _size(program) == expected


def _arg_order(expr) -> list[int]:
    if expr[0] == "arg":
        return [expr[1]]
    return [i for operand in expr[1:] if isinstance(operand, tuple) for i in _arg_order(operand)]


def test_a_drawn_elementwise_expression_uses_each_operand_once_in_order():
    from frittata.rewrites.proposals import _elementwise_expr

    inst = SimpleNamespace(rng=np.random.default_rng(0))
    for operands in range(1, 6):
        for dtype in ("float32", "int32"):
            assert all(_arg_order(_elementwise_expr(inst, operands, dtype)) == list(range(operands))
                       for _ in range(20))


def test_fused_dense_instances_get_a_residual_of_the_accumulator_type():
    from frittata.rewrites.instances import Instance
    from frittata.rewrites.rule_format import parse_rules

    (rule,) = parse_rules("(rule keep (relu (fused_dense ?x ?w ?b ?r :epilogue ?e))"
                          " => (relu (fused_dense ?x ?w ?b ?r :epilogue ?e)))", family="t")
    rng = np.random.default_rng(0)
    built = [t.args[0] for t in (Instance(rule, rng).build() for _ in range(300)) if t is not None]
    assert len(built) >= 30, len(built)
    # the residual is added in the accumulator's type (int32 for integer inputs) or after a cast
    assert {t.args[3].dtype for t in built if t.args[0].dtype == "int8"} >= {"int32"}


def test_a_rule_file_error_shows_the_literal_it_got():
    from frittata.errors import FrittataError
    from frittata.rewrites.rule_format import parse_rules

    with pytest.raises(FrittataError, match=r"expected a guard \(predicate \.\.\.\), got 5$"):
        parse_rules("(rule r (relu ?x) => ?x :if 5)", family="t")


def test_a_drawn_elementwise_expression_uses_operators_of_the_op_table_relu_among_them():
    """Every node of a drawn expression is an operator frittata has (a misspelt one makes
    every instance using it fail to build), and each unary one is drawn: relu, neg and abs for
    integers, tanh, exp and sigmoid too for floats."""
    from frittata.rewrites.proposals import _elementwise_expr
    from frittata.terms.ops import Op

    def names(expr) -> set[str]:
        return set() if expr[0] == "arg" else {expr[0]} | {n for e in expr[1:] for n in names(e)}

    inst = SimpleNamespace(rng=np.random.default_rng(0))
    integer = {"relu", "neg", "abs"}
    for dtype, unary in (("int32", integer), ("float32", integer | {"tanh", "exp", "sigmoid"})):
        drawn = set().union(*(names(_elementwise_expr(inst, 3, dtype)) for _ in range(200)))
        assert drawn <= {op.value for op in Op} and unary <= drawn
