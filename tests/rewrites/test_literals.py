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


def test_signed_zeros_read_back_with_their_sign():
    assert math.copysign(1, parse_literal(repr(-0.0))) == -1
    ((_, lo),) = parse_literal(repr((("lo", -0.0),)))
    assert math.copysign(1, lo) == -1


def test_the_e_graph_keeps_clips_with_signed_zero_bounds_apart():
    """Decoding finds the program's own e-nodes by exact attributes (`_find_original`), so the
    original choice rebuilds each clip as its own term; it gave both outputs one class before."""
    import numpy as np

    from frittata.rewrites import original_choice, saturate
    from frittata.terms import Program, clip, var

    x = var("x", (2,))
    program = Program({"minus": clip(x, -0.0, None), "plus": clip(x, 0.0, None)})
    data, _ = saturate(program, rules=["(rule mine-relu (relu (relu ?x)) => (relu ?x))"], library=False)
    back = data.to_program(original_choice(data))
    assert back.outputs["minus"] is not back.outputs["plus"]
    assert np.signbit(back.outputs["minus"].attr("lo")) and not np.signbit(back.outputs["plus"].attr("lo"))
