"""The rule file format: parsing, errors with FILE:LINE:COL, loading and disabling."""

import pytest

from frittata.errors import RewriteError
from frittata.rewrites.exprs import Call, Var
from frittata.rewrites.library import library_rules, select_rules
from frittata.rewrites.rule_format import PNode, PVar, parse_rules
from frittata.terms.ops import Op


def test_parse_one_rule():
    (rule,) = parse_rules("(rule cancel-x (neg (neg ?x)) => ?x :if (is-float ?x))", family="t")
    assert rule.name == "cancel-x" and rule.family == "t" and not rule.bidirectional
    assert rule.lhs == PNode(Op.NEG, (PNode(Op.NEG, (PVar("x"),), ()),), ())
    assert rule.rhs == PVar("x") and rule.guards == (Call("is-float", (Var("x"),)),)


def test_bidirectional_rule_has_a_reverse():
    (rule,) = parse_rules("(family a)\n(rule comm (add ?a ?b) <=> (add ?b ?a))")
    assert [r.name for r in rule.directions()] == ["comm", "comm~rev"]


@pytest.mark.parametrize("text, where, reason", [
    ("(rule r (neg ?x) => ?x", "1:1", "closing bracket"),
    ("(family f)\n(rule r (negg ?x) => ?x)", "2:10", "operator name"),
    ("(family f)\n(rule r (neg ?x) -> ?x)", "2:18", "expected => or <=>"),
    ("(family f)\n(rule r (neg ?x) => ?y)", "2:21", "not bound"),
    ("(family f)\n(rule r\n  (transpose ?x :perm ?p) => ?x\n  :if (bogus ?p))", "4:7", "guard predicate"),
    ("(family f)\n(rule r (transpose ?x :prem ?p) => ?x)", "2:23", "attribute"),
    ("(family f)\n(rule r (neg ?x) => (transpose ?x))", "2:21", "every attribute"),
    ("(family f)\n(rule r (neg ?x ?y) => ?x)", "2:9", "operands"),
    ("(family f)\n(rule r (neg ?x) => ?x)\n(rule r (abs ?x) => ?x)", "3:1", "unique"),
    ('(family f)\n(rule r (const :dtype "float32) => ?x)', "2:23", "unterminated"),
    ("(family f)\n(rule r (neg ?x) => ?x))", "2:24", "no open bracket"),
])
def test_malformed_rules_report_line_and_column(text, where, reason):
    with pytest.raises(RewriteError) as err:
        parse_rules(text, "bad.rules")
    assert f"bad.rules:{where}:" in str(err.value) and reason in str(err.value)


def test_malformed_file_names_the_file(tmp_path):
    path = tmp_path / "user.rules"
    path.write_text("(rule ok (neg (neg ?x)) => ?x)\n(rule bad (neg ?x) => [1 2])\n")
    with pytest.raises(RewriteError, match=r"user.rules:2:23: expected a pattern"):
        select_rules([path])


def test_library_has_every_family_and_unique_names():
    rules = library_rules()
    assert {r.family for r in rules} >= {"algebraic", "cancel", "fold", "fusion", "layout"}
    assert len({r.name for r in rules}) == len(rules)


def test_disable_by_rule_and_family():
    names = {r.name for r in select_rules(disable=["fusion", "comm-add"])}
    assert "comm-add" not in names and not any(n.startswith("fuse-") for n in names)
    assert "comm-mul" in names


def test_disable_unknown_name_is_an_error():
    with pytest.raises(RewriteError, match="cannot disable"):
        select_rules(disable=["fuse-everything"])
