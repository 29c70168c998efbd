"""Property checking of rules: the library passes, unsound rules are caught."""

import io

from frittata.rewrites.check import check_rule, rules_check_main
from frittata.rewrites.rules import parse_rules


def test_library_rules_all_pass():
    out = io.StringIO()
    assert rules_check_main([], out) == 0, out.getvalue()
    assert "0 failed" in out.getvalue()


def test_unsound_rule_file_is_caught_with_a_counterexample(tmp_path):
    path = tmp_path / "unsound.rules"
    path.write_text("(family mine)\n"
                    "(rule bad-sub-comm (sub ?a ?b) => (sub ?b ?a))\n"
                    "(rule ok-neg-neg (neg (neg ?x)) => ?x)\n")
    out = io.StringIO()
    assert rules_check_main([str(path)], out) == 1
    text = out.getvalue()
    assert "FAIL bad-sub-comm" in text and "counterexample: lhs = sub(" in text
    assert "PASS ok-neg-neg" in text
    assert "2 rules: 1 passed, 1 failed (bad-sub-comm)" in text


def test_ill_typed_right_side_fails():
    (rule,) = parse_rules("(rule bad-flatten (relu ?x) => (reshape ?x :shape [1]))", family="t")
    result = check_rule(rule)
    assert not result.passed and "ill-typed" in result.failure


def test_malformed_file_exits_1(tmp_path):
    path = tmp_path / "broken.rules"
    path.write_text("(rule broken (neg ?x) =>")
    out = io.StringIO()
    assert rules_check_main([str(path)], out) == 1
    assert "broken.rules:1:1" in out.getvalue()
