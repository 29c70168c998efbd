"""fused_elementwise: its expression language, type rule and meaning (= its expansion)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms.fused import expand, inline

X, Y = tb.var("x", (3, 4)), tb.var("y", (4,))
RELU_ADD = ("relu", ("add", ("arg", 0), ("arg", 1)))


def test_meaning_is_the_expansion():
    fused = tb.fused_elementwise(X, Y, expr=RELU_ADD)
    assert fused.type == tb.relu(tb.add(X, Y)).type
    inputs = {"x": np.arange(12, dtype=np.float32).reshape(3, 4) - 6, "y": np.ones(4, np.float32)}
    np.testing.assert_array_equal(ft.evaluate(fused, inputs), np.maximum(inputs["x"] + 1, 0))


def test_attributes_constants_and_repr_round_trip():
    expr = ("clip", ("mul", ("arg", 0), ("const", 2, "float32")), -1, None)
    fused = tb.fused_elementwise(X, expr=expr)
    assert fused.attr("expr") == ("clip", ("mul", ("arg", 0), ("const", 2.0, "float32")), -1, None)
    assert expand(fused.attr("expr"), [X]) is tb.clip(tb.mul(X, 2.0), -1, None)
    assert eval(repr(fused), vars(ft.terms)) is fused


@pytest.mark.parametrize("args, expr, message", [
    ((X,), ("add", ("arg", 0), ("arg", 1)), "using operands [0]"),
    ((X, tb.var("z", (5,))), ("add", ("arg", 0), ("arg", 1)), "broadcast"),
    ((X,), ("frobnicate", ("arg", 0)), "expected an expression"),
    ((X,), ("clip", ("arg", 0)), "attributes"),
    ((), ("neg", ("arg", 0)), "1 or more operands"),
])
def test_bad_nodes_say_what_was_expected(args, expr, message):
    with pytest.raises(ft.FrittataError, match=re.escape(message)):
        tb.fused_elementwise(*args, expr=expr)


def test_inline_splices_the_inner_operands_in_place():
    outer = ("sub", ("arg", 0), ("mul", ("arg", 1), ("arg", 2)))
    inner = ("exp", ("add", ("arg", 0), ("arg", 1)))
    assert inline(outer, 1, inner) == ("sub", ("arg", 0), ("mul", ("exp", ("add", ("arg", 1), ("arg", 2))), ("arg", 3)))
