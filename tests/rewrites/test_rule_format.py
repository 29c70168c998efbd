"""The rule file format: parsing, errors with FILE:LINE:COL, loading and disabling; op-class
heads, carried attributes (`...`), `$parameters` and candidate tables."""

import re
from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata.errors import RewriteError
from frittata.rewrites.check import check_rule
from frittata.rewrites.exprs import Call, Lit, Tup, Var
from frittata.rewrites.library import library_rules, load_file, select_rules
from frittata.rewrites.op_classes import op_class
from frittata.rewrites.rule_format import PNode, PVar, parse_rules
from frittata.terms import builders as tb
from frittata.terms.ops import BINARY, UNARY, Op


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
    ("(family f)\n(rule r (clip ?x :lo ?l ?hi ?h) => ?x)", "2:25", "attribute among ('lo', 'hi'), got ?hi"),
    ("(family f)\n(rule r (neg ?x) => (transpose ?x))", "2:21", "every attribute"),
    ("(family f)\n(rule r (neg ?x ?y) => ?x)", "2:9", "expected 1 operand, got 2"),
    ("(family f)\n(rule r (neg ?x) => ?x)\n(rule r (abs ?x) => ?x)", "3:1", "unique"),
    ('(family f)\n(rule r (const :dtype "float32) => ?x)', "2:23", "unterminated"),
    ("(family f)\n(rule r (neg ?x) => ?x))", "2:24", "no open bracket"),
    ("(family Bad)\n(rule r (neg ?x) => ?x)", "1:1", "expected (family NAME) with a lower-case name"),
    ("(family f)\n(rule r (neg ?x) => ?x :family Bad)", "2:32",
     "expected a lower-case name like llvm or fusion, got Bad"),
    ('(family f)\n(rule r (neg ?x) => ?x :if (equal (op-name) "neg"))', "2:35",
     "op-name: expected a left node named with (as ?name ...), got nothing"),
])
def test_malformed_rules_report_line_and_column(text, where, reason):
    with pytest.raises(RewriteError) as err:
        parse_rules(text, "bad.rules")
    assert f"bad.rules:{where}:" in str(err.value) and reason in str(err.value)


F = "(family f)\n"


@pytest.mark.parametrize("text, message", [
    (F + "(frob x)", "2:1: expected (rule ...), (family ...) or (parameters ...), got 'frob'"),
    (F + "42", "2:1: expected (rule ...), (family ...) or (parameters ...), got 42"),
    (F + "(rule Bad-Name (neg ?x) => ?x)", "2:7: expected a rule name like fuse-conv2d-bias, got Bad-Name"),
    ("(parameters $N)", "1:1: expected (parameters $NAME value ...) with one value per name"),
    ("(parameters N 4)", "1:13: expected a new parameter name like $BLOCK_IN, got N"),
    ("(parameters $N 4 $N 5)", "1:18: expected a new parameter name like $BLOCK_IN, got $N"),
    (F + "(rule r (neg ?x))", "2:1: expected (rule NAME LHS => RHS [:if GUARD ...] [:family F] [:target T])"),
    (F + "(rule r ?x => ?x)", "2:9: expected an operator pattern on the left, got a bare variable"),
    ("(rule r (neg ?x) => ?x)", "1:1: rule r: expected a family (:family F or (family F) above)"),
    (F + "(rule r (neg ?x) => ?x :when (is-float ?x))", "2:24: expected :if, :family, :target or :table, got :when"),
    (F + "(rule r (neg ?x) => ?x :family)", "2:24: expected a name after :family"),
    (F + "(rule r (neg 3) => ?x)", "2:14: expected a pattern (?var or (op ...)), got 3"),
    (F + "(rule r (neg ?x) => (as ?y (neg ?x)))", "2:21: expected (as ?name PATTERN), only on the left side"),
    (F + "(rule r (as ?y ?x) => ?x)", "2:9: expected (as ?name (op ...))"),
    (F + "(rule r (input) => ?x)", "2:10: expected an operator name (an Op value, not input/param), got 'input'"),
    (F + "(rule r (transpose ?x :perm) => ?x)", "2:9: transpose: expected :attribute VALUE pairs, got an odd count"),
    (F + "(rule r (transpose ?x :perm ?p :perm ?q) => ?x)",
     "2:32: transpose: expected a new attribute among ('perm',), got :perm"),
    (F + "(rule r (neg (neg ?x)) => (neg ...))", "2:27: neg: expected 1 operand, got 0"),
    (F + "(rule r (neg ?x) => ?x :if (is-float ?x ?x))", "2:28: is-float: expected 1 argument, got 2"),
    (F + "(rule r (neg ?x) => ?x :if (rank-is 3 4))", "2:37: rank-is: expected a tensor ?var, got 3"),
    (F + "(rule r (neg ?x) => ?x :if is-float)", "2:28: expected a guard (predicate ...), got is-float"),
    (F + "(rule r (transpose ?x :perm [1 ?x]) => ?x)",
     "2:29: expected ?var or a constant as a left-side attribute, got a [...] form"),
    (F + "(rule r (neg ?x) <=> ?x)", "2:1: rule r: <=> needs two operator patterns with the same variables"),
    (F + "(rule r (transpose ?x :perm ?p) => (transpose ?x :perm [zz]))",
     '2:57: expected a number, a "string", none/true/false, ?var or $param, got zz'),
    (F + "(rule r (mul ?x ?y) => ?x :table [$v] (half 0.5) (half 0.25))",
     "2:27: expected unique row names, got ['half', 'half']"),
    (F + "(rule r (mul ?x ?y) => ?x :table [] (half))",
     "2:27: expected :table [$column ...] with at least one $column"),
    (F + '(rule r (mul ?x (const :value $v :dtype "float32")) => ?x :table [$v] (Half 0.5))',
     "2:71: expected a table row (ROW-NAME value ...) with a lower-case name"),
    (F + '(rule r (mul ?x (const :value $v :dtype "float32")) => ?x :table [$v] (half 0.5 1))',
     "2:71: row half: expected 1 values (one per column), got 2"),
    (F + "(rule r (mul ?x ?y) => ?x :table [$v] (half 0.5))", "2:1: rule r: table columns ['$v'] are not used"),
    (F + "(rule r (@nope ?x) => ?x)", "2:10: expected an op class among ['@binary', "),
])
def test_a_malformed_rule_says_where_what_was_expected_and_what_was_found(text, message):
    with pytest.raises(RewriteError) as err:
        parse_rules(text, "bad.rules")
    assert str(err.value).startswith(f"bad.rules:{message}")


def test_malformed_file_names_the_file(tmp_path):
    path = tmp_path / "user.rules"
    path.write_text("(rule ok (neg (neg ?x)) => ?x)\n(rule bad (neg ?x) => [1 2])\n")
    expected = r"user.rules:2:23: expected a pattern \(\?var or \(op \.\.\.\)\), got a \[\.\.\.\] form"
    with pytest.raises(RewriteError, match=expected):
        select_rules([path])


def test_library_has_every_family_and_unique_names():
    rules = library_rules()
    assert {r.family for r in rules} >= {"algebraic", "cancel", "fold", "fusion", "fusion_elementwise", "layout"}
    assert len({r.name for r in rules}) == len(rules)


def test_disable_by_rule_and_family():
    names = {r.name for r in select_rules(disable=["fusion", "fusion_elementwise", "fusion_softmax", "comm-add"])}
    assert "comm-add" not in names and not any(n.startswith("fuse-") for n in names)
    contractions_off = {r.name for r in select_rules(disable=["fusion"])}
    assert "fuse-conv2d-bias" not in contractions_off and "fuse-elementwise-first" in contractions_off
    assert "comm-mul" in names


def test_disable_unknown_name_is_an_error():
    with pytest.raises(RewriteError, match="cannot disable"):
        select_rules(disable=["fuse-everything"])


# ---- the richer rule language: op classes, carried attributes, parameters, tables ----------

RULES = Path(ft.__file__).parent / "rewrites" / "rules"
SEED = ("(rule seed (as ?y (@unary ?x ...))"
        ' => (fused_elementwise ?x :expr (join [(op-name ?y) ["arg" 0]] (attr-values ?y))))')


def test_an_op_class_head_expands_to_one_rule_per_op():
    rules = parse_rules(SEED, family="f")
    assert [r.name for r in rules] == [f"seed/{op.value}" for op in op_class("unary")]
    assert {r.lhs.op for r in rules} == set(UNARY) and {r.source for r in rules} == {"seed"}
    (clip,) = [r for r in rules if r.lhs.op == Op.CLIP]
    lo, hi = (v for _, v in clip.lhs.attrs)
    assert dict(clip.rhs.attrs)["expr"] == Tup((Lit("clip"), Tup((Lit("arg"), Lit(0))), lo, hi))


def test_a_right_class_head_builds_the_matched_op():
    rules = parse_rules("(rule r (@unary (unpack_nchwc ?y :c ?c) ...) => (unpack_nchwc (@unary ?y ...) :c ?c))",
                        family="f")
    assert all(r.rhs.args[0].op == r.lhs.op and r.rhs.args[0].attrs == r.lhs.attrs for r in rules)
    two = parse_rules("(rule r (@binary (@unary ?x ...) ?y) => (@binary ?y (@unary ?x ...)))", family="f")
    assert len(two) == len(BINARY) * len(UNARY) and two[0].name == "r/add/abs"


def test_carried_attributes_come_from_the_same_op_or_the_only_source():
    (rule,) = parse_rules("(rule r (relu (fused_conv2d ?x ?w ?b ... :epilogue ?e))"
                          ' => (fused_conv2d ?x ?w ?b ... :epilogue (append ?e ["relu"])))', family="f")
    inner = dict(rule.lhs.args[0].attrs)
    assert {k: v for k, v in rule.rhs.attrs if k != "epilogue"} == {k: v for k, v in inner.items() if k != "epilogue"}
    (tiled,) = parse_rules("(rule r (fused_conv2d ?x ?w ?b ... :groups 1) => (tiled_conv2d ?x ?w ?b ... :schedule []))",
                           family="f")
    carried = dict(tiled.rhs.attrs)
    assert carried["groups"] == Lit(1) and carried["strides"] == dict(tiled.lhs.attrs)["strides"]
    (named,) = parse_rules("(rule r (add (as ?a (relu ?x ...)) (as ?b (relu ?y ...))) => (relu ?x ...?b))", family="f")
    assert named.rhs == PNode(Op.RELU, (PVar("x"),), ())


def test_a_carrying_rule_is_checked_and_reversible():
    (rule,) = parse_rules("(rule r (conv2d ?x (mul ?w (const :value 2.0 :dtype \"float32\")) ...)"
                          " <=> (conv2d ?x (mul ?w (const :value 2.0 :dtype \"float32\")) ...))", family="f")
    assert [r.name for r in rule.directions()] == ["r", "r~rev"]
    assert all(check_rule(r, examples=3).passed for r in rule.directions())


def test_parameters_bind_at_load_time():
    text = "(parameters $N 4)\n(rule r (reshape ?x :shape [$N]) => ?x :if (shape-is ?x [$N]))"
    (default,) = parse_rules(text, family="f")
    (bound,) = parse_rules(text, family="f", params={"N": 8})
    assert dict(default.lhs.attrs)["shape"] == Tup((Lit(4),)) and dict(bound.lhs.attrs)["shape"] == Tup((Lit(8),))
    vta = {r.name: r for r in load_file(RULES / "tensorize_vta.rules", {"BATCH": 1, "BLOCK_IN": 8, "BLOCK_OUT": 8})}
    assert dict(vta["tensorize-vta-dense"].rhs.attrs)["block"] == Tup((Lit(1), Lit(8), Lit(8)))


def test_the_vta_defaults_are_the_default_configuration():
    from frittata.backends.vta import VtaConfig, rule_parameters

    path = RULES / "tensorize_vta.rules"
    assert load_file(path) == load_file(path, rule_parameters(VtaConfig()))


def test_a_table_is_one_rule_per_row():
    rules = parse_rules("(rule r (mul ?x (const :value $v :dtype \"float32\"))"
                        " => (div ?x (const :value $d :dtype \"float32\"))"
                        " :table [$v $d] (half 0.5 2.0) (quarter 0.25 4.0))", family="f")
    assert [r.name for r in rules] == ["r/half", "r/quarter"] and {r.source for r in rules} == {"r"}
    assert dict(rules[1].rhs.args[1].attrs)["value"] == Lit(4.0)
    tiling = load_file(RULES / "tiling.rules")
    assert {r.source for r in tiling} == {"tile-conv2d", "tile-dense"} and len(tiling) == 11
    assert "tile-conv2d/v16-oc24x16-par-oc" in {r.name for r in tiling}


def test_disable_a_template_by_its_source_name():
    names = {r.name for r in select_rules(disable=["fuse-elementwise-seed-unary", "tile-dense"])}
    assert not any(n.startswith(("fuse-elementwise-seed-unary/", "tile-dense/")) for n in names)
    assert "fuse-elementwise-seed-binary/add" in names


@pytest.mark.parametrize("text, where, reason", [
    ("(rule r (@unaryy ?x) => ?x)", "1:10", "op class among"),
    ("(rule r (neg ?x) => (@unary ?x))", "1:22", "exactly one @unary head on the left"),
    ("(rule r (@unary (@unary ?x ...) ...) => (@unary ?x ...))", "1:42", "exactly one @unary"),
    ("(rule r (add (relu ?x ...) (relu ?y ...)) => (relu ?x ...))", "1:55", "one source"),
    ("(rule r (relu ?x) => (clip ?x ...))", "1:31", "one source"),
    ("(rule r (relu (clip ?x ...)) =>\n  (fused_dense ?x ?x ?x ...))", "2:25", "neither given nor carried"),
    ("(rule r (relu ?x ... ...) => ?x)", "1:22", "at most one ..."),
    ("(rule r (relu ?x ...?y) => ?x)", "1:18", "expected ... on the left"),
    ("(rule r (relu ?x) => (relu ?x ...?y))", "1:31", "expected ...?name"),
    ("(rule r (reshape ?x :shape [$N]) => ?x)", "1:29", "unbound parameter $N"),
    ("(rule r (reshape ?x :shape [$n-1]) => ?x)", "1:29", "expected a parameter like"),
    ("(parameters $N)\n(rule r (relu ?x) => ?x)", "1:1", "one value per name"),
    ("(rule r (relu ?x) => ?x\n  :table [$a] (one 1 2))", "2:15", "expected 1 values"),
    ("(rule r (relu ?x) => ?x\n  :table [$a] (one 1))", "1:1", "not used"),
    ("(rule r (relu ?x) => ?x\n  :table [a] (one 1))", "2:3", ":table [$column ...]"),
    ("(rule r (relu ?x) => ?x\n  :table [$a])", "2:3",
     "expected :table [$column ...] followed by (ROW value ...) rows, got no rows"),
    ("(rule r (reshape ?x :shape [$a]) => ?x\n  :table [$a] (one 1) (one 2))", "2:3", "unique row names"),
    ("(rule r (reshape ?x :shape [$a]) => ?x\n  :table [$a] (one ?x))", "2:20", "expected a constant"),
    ("(rule r (as ?y (clip ?x)) => (fused_elementwise ?x :expr (attr-values ?y)))", "1:58", "add ... to the left"),
    ("(rule r (clip ?x ...) => (fused_elementwise ?x :expr (op-name ?x)))", "1:54", "named with (as ?name"),
])
def test_template_errors_report_line_and_column(text, where, reason):
    with pytest.raises(RewriteError) as err:
        parse_rules(text, "bad.rules", family="f")
    assert f"bad.rules:{where}:" in str(err.value) and reason in str(err.value), str(err.value)


def test_user_rule_strings_use_the_new_features():
    unary = "(rule mine-unary-neg-neg (@unary (neg (neg ?x)) ...) => (@unary ?x ...) :family mine)"
    table = ("(rule mine-scale (mul ?x (const :value $v :dtype \"float32\"))"
             " => (div ?x (const :value $d :dtype \"float32\")) :family mine"
             " :table [$v $d] (half 0.5 2.0) (quarter 0.25 4.0))")
    x = tb.var("x", (2, 16))
    program = ft.Program({"y": tb.tanh(tb.neg(tb.neg(tb.mul(x, tb.const(0.25, "float32")))))})
    module = ft.compile(program, rules=[unary, table])
    fired = module.report["stages"]["saturate"]["fired"]
    assert fired.get("mine-unary-neg-neg/tanh", 0) >= 1 and fired.get("mine-scale/quarter", 0) >= 1
    data = {"x": np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)}
    np.testing.assert_allclose(module.run(**data)["y"], ft.evaluate(program, data)["y"], rtol=1e-5, atol=1e-6)


def test_user_rule_parameters_come_from_the_target():
    rule = "(rule mine-block (relu (relu ?x)) => (relu ?x) :if (divisible (dim ?x 1) $BLOCK_IN) :family mine)"
    program = ft.Program({"y": tb.relu(tb.relu(tb.var("x", (1, 32))))})
    with pytest.raises(RewriteError, match=r"<string>:1:\d+: unbound parameter \$BLOCK_IN"):
        ft.compile(program, rules=[rule])
    module = ft.compile(program, target="vta", rules=[rule])
    assert module.report["stages"]["saturate"]["fired"].get("mine-block", 0) >= 1


def test_the_format_documentation_examples_parse():
    blocks = re.findall(r"```\n(.*?)```", (RULES / "README.md").read_text(), re.S)
    examples = [b for b in blocks if "(rule " in b and "NAME LHS" not in b]
    assert len(examples) == 4
    for block in examples:
        assert parse_rules(block, "README.md", family="doc")


def test_one_text_with_two_rules_of_one_name_is_refused_at_the_second():
    text = "(rule twice (relu (relu ?x)) => (relu ?x))\n(rule twice (neg (neg ?x)) => ?x)"
    with pytest.raises(RewriteError, match=r"^<string>:2:1: expected a unique rule name, got 'twice' twice$"):
        parse_rules(text, family="mine")
