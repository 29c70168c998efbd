"""The rule-file mutator of bench/mutation_score.py: what it mutates and how it judges."""

import json

import bench.rule_mutants
from bench.rule_mutants import RuleMutant, Verdict, file_mutants, judge, run, show
from frittata.rewrites.library import library_files
from frittata.rewrites.rule_format import parse_rules
from frittata.rewrites.sexpr import read

RULES = """(family algebraic)
(rule simplify-sub-zero (sub ?x (const :value 0)) => ?x)
(rule fold-mul-mul-params (mul (mul ?x ?a) ?b) => (mul ?x (mul ?a ?b)) :if (param-only ?a ?b))
(rule my-sub-swap (sub ?a ?b) => (neg (sub ?b ?a)))
"""


def _mutants(tmp_path):
    path = tmp_path / "mine.rules"
    path.write_text(RULES)
    return {(m.rule, m.change): m for m in file_mutants(path)}


def test_every_kind_is_generated_with_its_position(tmp_path):
    mutants = _mutants(tmp_path)
    kinds = {m.kind for m in mutants.values()}
    assert kinds == {"swap-operands", "drop-guard", "change-constant", "change-op"}
    zero = mutants["simplify-sub-zero", "lhs: 0 -> 1"]
    assert (zero.line, zero.col, zero.family) == (2, 47, "algebraic")
    assert zero.text == "(rule simplify-sub-zero (sub ?x (const :value 1)) => ?x)"
    dropped = mutants["fold-mul-mul-params", "drop guard (param-only ?a ?b)"]
    assert dropped.text == "(rule fold-mul-mul-params (mul (mul ?x ?a) ?b) => (mul ?x (mul ?a ?b)))"


def test_swaps_under_a_commutative_op_are_equivalent_and_not_run(tmp_path):
    mutants = _mutants(tmp_path)
    swap = mutants["fold-mul-mul-params", "rhs: swap operands 1 and 2 of mul"]
    assert swap.equivalent == "mul is commutative"
    assert judge(swap).status == "equivalent"
    assert mutants["my-sub-swap", "rhs: swap operands 1 and 2 of sub"].equivalent is None


def test_the_checker_kills_a_wrong_constant_and_a_wrong_op(tmp_path):
    mutants = _mutants(tmp_path)
    assert judge(mutants["simplify-sub-zero", "lhs: 0 -> 1"]).status == "killed"
    assert judge(mutants["my-sub-swap", "rhs: neg -> abs"]).status == "killed"
    assert judge(mutants["my-sub-swap", "rhs: swap operands 1 and 2 of sub"]).status == "killed"


def test_a_mutant_that_is_another_sound_rule_survives(tmp_path):
    # x + 0 = x as well as x - 0 = x: the checker rightly accepts it (listed as equivalent)
    assert judge(_mutants(tmp_path)["simplify-sub-zero", "lhs: sub -> add"]).status == "survived"


def test_a_mutant_the_parser_rejects_is_stillborn():
    form = read("(rule bad (add ?x) => ?x)")[0]
    verdict = judge(RuleMutant("<string>", "user", "bad", 1, 1, "change-op", "arity", form))
    assert verdict.status == "stillborn" and "add" in verdict.detail


def test_printing_a_library_rule_reads_back_as_the_same_rules():
    for path in library_files():
        by_name = {r.name: r for r in parse_rules(path.read_text(), str(path), family="f")}
        forms = read(path.read_text(), str(path))
        prelude = " ".join(show(f) for f in forms if f.items[0].value == "parameters")
        rules = [f for f in forms if f.items[0].value == "rule"]
        for rule in (r for form in rules for r in parse_rules(f"{prelude} {show(form)}", str(path), family="f")):
            expected = by_name[rule.name]
            assert (rule.lhs, rule.rhs, rule.guards) == (expected.lhs, expected.rhs, expected.guards)


def test_a_run_writes_a_verdict_a_line_and_resumed_judges_only_the_rest(tmp_path, monkeypatch):
    path = tmp_path / "mine.rules"
    path.write_text(RULES)
    everyone = [m.id for m in file_mutants(path)]
    judged: list[str] = []

    def fake(mutant):
        judged.append(mutant.id)
        return Verdict(mutant, "killed" if len(judged) % 2 else "survived", "why")

    monkeypatch.setattr(bench.rule_mutants, "judge", fake)
    out = tmp_path / "verdicts.jsonl"
    first = run([path], out, resume=False)
    out.write_text("\n".join(out.read_text().splitlines()[:3]) + "\n")  # a run cut after three verdicts
    judged.clear()
    again = run([path], out, resume=True)
    assert judged == everyone[3:]
    assert list(first) == list(again) == everyone
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == everyone
    assert {r["status"] for r in first.values()} == {"killed", "survived"}


def test_every_entry_of_the_equivalent_list_is_read():
    """bench/mutation_score.py leaves out the mutants of "- `ID`: reason" lines; an entry in
    another form would silently count as a survivor."""
    from bench.mutation_score import EQUIVALENTS, listed_equivalents

    section = EQUIVALENTS.read_text().split("\n## Not equivalent")[0]
    entries = [line for line in section.splitlines() if line.startswith("- `")]
    assert len(listed_equivalents()) == len(entries)
