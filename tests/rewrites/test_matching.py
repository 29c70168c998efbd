"""Matching a rule's attribute patterns and building its right side's attributes."""

from frittata.rewrites.matching import ROOT, match
from frittata.rewrites.rule_format import parse_rules
from frittata.terms.dtypes import TensorType


def f32(*shape: int) -> TensorType:
    return TensorType(shape, "float32")


def test_attribute_variables_bind_and_constants_must_equal():
    """Two transposes become one by the composed permutation (the nodes' attributes in
    `pattern_nodes` order: the inner transpose's perm binds ?p, the outer one's ?q);
    a constant attribute of the pattern matches only its own value."""
    (rule,) = parse_rules("(rule tt (transpose (transpose ?x :perm ?p) :perm ?q)"
                          " => (transpose ?x :perm (compose-perm ?p ?q)))", family="t")
    inner, outer = (("perm", (1, 0, 2)),), (("perm", (2, 0, 1)),)
    assert match(rule, [inner, outer], {"x": f32(2, 3, 4), ROOT: f32(4, 3, 2)}) == [(("perm", (2, 1, 0)),)]
    (fixed,) = parse_rules("(rule t0 (transpose ?x :perm [1 0]) => ?x)", family="t")
    assert match(fixed, [(("perm", (0, 1)),)], {"x": f32(3, 3), ROOT: f32(3, 3)}) is None
