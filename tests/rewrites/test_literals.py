"""Reading back the Python literals egglog prints: literal syntax only, nothing evaluated."""

import math

import pytest

from frittata.errors import RewriteError
from frittata.rewrites.literals import parse_literal


@pytest.mark.parametrize("value", [(1, 2), (1, (2.5, None)), -3, -0.5, math.inf, -math.inf, True, False,
                                   None, "relu", (), (1,), ((1, 1), (2, 2), "none")])
def test_repr_reads_back_as_the_value(value):
    assert parse_literal(repr(value)) == value


def test_lists_read_back_as_tuples_and_nan_as_nan():
    assert parse_literal("[1, [2, 3]]") == (1, (2, 3))
    assert math.isnan(parse_literal("nan"))


def test_text_that_is_not_python_says_what_it_expected():
    with pytest.raises(RewriteError, match=r"e-graph decoding: expected a Python literal, got '\(1,'"):
        parse_literal("(1,")


@pytest.mark.parametrize("text, node", [('__import__("os")', "Call"), ("x", "Name"), ("1 + 2", "BinOp"),
                                        ("{1: 2}", "Dict"), ("not 1", "UnaryOp")])
def test_anything_but_literal_syntax_is_refused_unevaluated(text, node):
    with pytest.raises(RewriteError, match=rf"e-graph decoding: unexpected {node}\(.* in literal '"):
        parse_literal(text)
