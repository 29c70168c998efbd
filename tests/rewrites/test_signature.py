"""Operator signatures as rules see them: operand counts, and attributes in builder-normal form."""

import numpy as np
import pytest

import frittata.terms as T
from frittata.rewrites.signature import OP_ATTRS, arity_fits, canonical_attrs
from frittata.terms.ops import Op


@pytest.mark.parametrize("op, text, fits", [
    (Op.RELU, "1 operand", [1]), (Op.ADD, "2 operands", [2]), (Op.FUSED_DENSE, "3..4 operands", [3, 4]),
    (Op.CONCAT, "1 or more operands", [1, 2, 3, 4, 5]), (Op.INPUT, "0 operands", [0]),
])
def test_operand_counts_are_said_and_checked_alike(op, text, fits):
    assert str(op.arity) == text
    assert [n for n in range(6) if arity_fits(op, n)] == fits


def test_with_more_operands_to_come_only_the_upper_bound_counts():
    assert [n for n in range(6) if arity_fits(Op.FUSED_DENSE, n, more=True)] == [0, 1, 2, 3, 4]
    assert [n for n in range(3) if arity_fits(Op.INPUT, n, more=True)] == [0]
    assert all(arity_fits(Op.CONCAT, n, more=True) for n in range(6))


def test_a_rule_built_node_is_the_node_the_builder_makes():
    x, w = T.var("x", (1, 4, 6, 6)), T.param("w", np.ones((8, 4, 3, 3), np.float32))
    built = T.conv2d(x, w, strides=2, pads=1)
    attrs = canonical_attrs(Op.CONV2D, {"groups": 1, "dilations": 1, "pads": 1, "strides": 2})
    assert attrs == built.attrs
    assert T.Term.make(Op.CONV2D, (x, w), attrs) is built


def test_a_parameter_is_named_and_a_constant_takes_its_dtype():
    assert OP_ATTRS[Op.PARAM] == ("name",)
    assert canonical_attrs(Op.PARAM, {"name": "w", "ref": None}) == (("name", "w"),)
    assert canonical_attrs(Op.CONST, {"value": 2.7, "dtype": "int32"}) == (("value", 2), ("dtype", "int32"))
    assert T.Term.make(Op.CONST, (), canonical_attrs(Op.CONST, {"value": 1, "dtype": "float32"})) is T.const(1.0)
