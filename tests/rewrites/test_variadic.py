"""Operand lists of any length: the e-graph round trip, sequence variables matching wide
operand lists at the head, the tail and in the middle, and the checker drawing lengths."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frittata.errors import RewriteError
from frittata.rewrites import check_rule, original_choice, parse_rules, saturate, smallest_choice
from frittata.rewrites.egraph import EGraphHandle
from frittata.rewrites.sequences import draw_instance
from frittata.terms import Program, concat, relu, var
from frittata.terms.ops import Op

FLATTEN = """
(rule flatten-concat-last
  (concat ?xs... (concat ?ys... :axis ?a) :axis ?a) => (concat ?xs... ?ys... :axis ?a))
(rule flatten-concat-first
  (concat (concat ?ys... :axis ?a) ?xs... :axis ?a) => (concat ?ys... ?xs... :axis ?a))
"""


def _inputs(prefix: str, n: int) -> list:
    return [var(f"{prefix}{i}", (1, 1 + i % 3)) for i in range(n)]


@given(st.integers(1, 70))
def test_any_operand_count_round_trips_through_the_egraph(n):
    program = Program({"y": relu(concat(*_inputs("x", n), axis=1))})
    data = EGraphHandle(program).data()
    (cat,) = [node for node in data.nodes if node.op == Op.CONCAT]
    assert len(cat.children) == n
    assert data.to_program(original_choice(data)).outputs["y"] is program.outputs["y"]


def _flattened(program: Program) -> Program:
    data, report = saturate(program, rules=[FLATTEN], library=False)
    assert report.fired()
    return data.to_program(smallest_choice(data))


def test_a_sequence_in_the_middle_matches_wide_lists():
    outer, inner = _inputs("x", 40), _inputs("y", 30)
    program = Program({"y": concat(*outer, concat(*inner, axis=1), axis=1)})
    flat = _flattened(program).outputs["y"]
    assert flat.op == Op.CONCAT and flat.args == tuple(outer + inner)


def test_a_sequence_before_a_sequence_cuts_anywhere():
    anywhere = ("(rule flatten-concat-anywhere (concat ?xs... (concat ?ys... :axis ?a) ?zs... :axis ?a)"
                " => (concat ?xs... ?ys... ?zs... :axis ?a))")
    before, inner, after = _inputs("x", 20), _inputs("y", 30), _inputs("z", 25)
    program = Program({"y": concat(*before, concat(*inner, axis=1), *after, axis=1)})
    data, report = saturate(program, rules=[anywhere], library=False)
    assert report.fired() == {"flatten-concat-anywhere": 1}
    assert data.to_program(smallest_choice(data)).outputs["y"].args == tuple(before + inner + after)
    (rule,) = parse_rules(anywhere, family="user")
    assert check_rule(rule).passed


def test_a_head_sequence_splices_before_a_wide_tail():
    outer, inner = _inputs("x", 33), _inputs("y", 9)
    program = Program({"y": concat(concat(*inner, axis=1), *outer, axis=1)})
    assert _flattened(program).outputs["y"].args == tuple(inner + outer)


def test_the_checker_draws_sequence_lengths():
    for rule in parse_rules(FLATTEN, family="user"):
        result = check_rule(rule)
        assert result.passed and result.tried == 12, result.line()


def test_a_drawn_instance_fits_both_sides():
    """concat takes any operand count and add two: only a length of 2 is an instance of both."""
    (rule,) = parse_rules("(rule r (concat ?xs... :axis 0) => (add ?xs...))", family="user")
    rng = np.random.default_rng(0)
    drawn = [draw_instance(rule, rng) for _ in range(30)]
    assert {len(d.lhs.args) for d in drawn if d is not None} == {2}


@pytest.mark.parametrize("text, message", [
    ("(rule r (relu ?x) => (concat ?xs... :axis 0))", "?xs is not bound by the left side"),
    ("(rule r (concat ?xs... :axis 0) => ?xs)", "?xs is used as a tensor but was bound as a sequence"),
    ("(rule r (relu ?x ?y ?xs...) => ?x)", "relu: expected 1 operand, got 2 plus sequences"),
])
def test_sequence_variables_are_checked_when_parsed(text, message):
    with pytest.raises(RewriteError, match=re.escape(message)):
        parse_rules(text, family="user")
