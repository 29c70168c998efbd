"""The rule checker's report as `frittata rules check` prints it: a line per rule with its
meaningful instances per dtype variant, and a summary naming the failed rules only if any."""

import io

from frittata.rewrites.check import CheckResult, rules_check_main
from frittata.rewrites.rule_format import parse_rules


def test_a_rule_line_counts_meaningful_instances_per_dtype_variant():
    (rule,) = parse_rules("(rule ok-neg-neg (neg (neg ?x)) => ?x)", family="t")
    line = CheckResult(rule, tried=30, meaningful={"int8": 12, "uint8": 11}, compiled=2).line()
    assert line == f"PASS {'ok-neg-neg':<42}  23 meaningful of  30 (int8 12, uint8 11), 2 compiled"
    assert CheckResult(rule, tried=12, meaningful={"": 12}).line().endswith("12 meaningful of  12")


def test_a_passing_files_summary_names_no_failed_rule(tmp_path):
    path = tmp_path / "ok.rules"
    path.write_text("(family mine)\n(rule ok-neg-neg (neg (neg ?x)) => ?x)\n")
    out = io.StringIO()
    assert rules_check_main([str(path)], out) == 0
    first, summary = out.getvalue().splitlines()
    assert first.startswith("PASS ok-neg-neg")
    assert summary.startswith("1 rules: 1 passed, 0 failed; ") and summary.endswith(" meaningful instances, 0 compiled")
