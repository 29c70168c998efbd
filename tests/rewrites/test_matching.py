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


def _clip(lo: object) -> tuple:
    return (("lo", lo), ("hi", None))


def test_a_repeated_attribute_variable_holds_the_very_value_it_bound():
    """`?a` met again must be the same value by type and bits, not by Python's `==`: the clip
    at 0.0 of a clip at -0.0 gives -0.0 for +0.0 (np.maximum keeps the bound on a tie), the
    clip of the rule's right side gives +0.0."""
    (rule,) = parse_rules("(rule cc (clip (clip ?x :lo ?a :hi ?b) :lo ?a :hi ?b) => (clip ?x :lo ?a :hi ?b))",
                          family="t")
    types = {"x": f32(2), ROOT: f32(2)}
    assert match(rule, [_clip(-0.0), _clip(-0.0)], types) == [_clip(-0.0)]
    assert match(rule, [_clip(float("nan")), _clip(float("nan"))], types) is not None
    for inner, outer in [(0.0, -0.0), (-0.0, 0.0), (1, 1.0), (1.0, True), (float("nan"), 0.0)]:
        assert match(rule, [_clip(inner), _clip(outer)], types) is None, (inner, outer)


def test_a_written_number_matches_its_value_and_sign_in_any_kind():
    """`:value 0` matches an int 0 and a float +0.0 but not -0.0 (nor NaN); `:value -0.0` only -0.0."""
    (zero,) = parse_rules("(rule z (add ?x (const :value 0)) => ?x)", family="t")
    (minus,) = parse_rules("(rule m (add ?x (const :value -0.0)) => ?x)", family="t")
    types = {"x": f32(2), ROOT: f32(2)}

    def const(value: object) -> list[tuple]:
        return [(("value", value), ("dtype", "float32")), ()]

    assert match(zero, const(0.0), types) is not None and match(zero, const(0), types) is not None
    assert match(zero, const(-0.0), types) is None and match(zero, const(float("nan")), types) is None
    assert match(minus, const(-0.0), types) is not None and match(minus, const(0.0), types) is None
