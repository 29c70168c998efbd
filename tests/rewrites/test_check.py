"""Property checking of rules: the library passes with meaningful instances only; unsound rules,
vacuous rules, rules wrong on one admitted dtype and miscompiled schedules are caught."""

import io
from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata.errors import RewriteError
from frittata.rewrites.check import SIZE_SENSITIVE, check_rule, check_rules, rules_check_main
from frittata.rewrites.instances import (dims_arithmetic, dtype_variants, edge_array, reads_dims, size_sensitive,
                                        wants_wide_dims)
from frittata.terms.dtypes import TensorType
from frittata.rewrites.library import library_rules, load_file
from frittata.rewrites.rule_format import parse_rules
from frittata.terms.program import Program
from frittata.terms.term import Term

RULES = Path(ft.__file__).parent / "rewrites" / "rules"


def test_library_rules_all_pass_with_meaningful_instances_only():
    """12 meaningful instances for every rule and every dtype its guards admit (4 times as many
    where soundness turns on sizes)."""
    results = check_rules(library_rules())
    failed = [r.line() for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    wanted = {r.rule.name: 12 * (SIZE_SENSITIVE if size_sensitive(r.rule) else 1) for r in results}
    short = [r.line() for r in results if set(r.meaningful.values()) != {wanted[r.rule.name]}]
    assert not short, "\n".join(short)
    assert set(wanted.values()) == {12, 12 * SIZE_SENSITIVE}


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
    assert "2 rules: 1 passed, 1 failed; " in text and text.rstrip().endswith("(bad-sub-comm)")


def test_ill_typed_right_side_fails():
    (rule,) = parse_rules("(rule bad-flatten (relu ?x) => (reshape ?x :shape [1]))", family="t")
    result = check_rule(rule)
    assert not result.passed and "ill-typed" in result.failure


def test_a_malformed_file_is_an_input_error_not_a_failed_check(tmp_path):
    path = tmp_path / "broken.rules"
    path.write_text("(rule broken (neg ?x) =>")
    with pytest.raises(RewriteError, match="broken.rules:1:1"):
        rules_check_main([str(path)], io.StringIO())


def test_nan_on_both_sides_is_not_agreement():
    """Both sides are NaN everywhere (log of a negative number): no instance is meaningful."""
    (rule,) = parse_rules("(rule nan-both (log (neg (exp ?x))) => (log (neg (exp (neg ?x)))))", family="t")
    result = check_rule(rule)
    assert not result.passed and result.total == 0 and "only 0 meaningful instances" in result.failure


def test_a_right_side_that_introduces_nan_is_a_counterexample():
    (rule,) = parse_rules("(rule sqrt-square (sqrt (mul ?x ?x)) => (sqrt ?x))", family="t")
    result = check_rule(rule)
    assert not result.passed and "counterexample" in result.failure


def test_batch_norm_folding_sees_positive_variances_only():
    """Each instance is meaningful: variances come from the operand's domain (positive)."""
    for rule in library_rules():
        if rule.name.startswith("fold-batch-norm"):
            result = check_rule(rule)
            assert result.passed and result.tried == result.total == 12, result.line()


def _mutant(tmp_path, name: str, old: str, new: str) -> str:
    text = (RULES / name).read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return str(path)


def test_broken_batch_norm_folding_is_caught(tmp_path):
    """Mean and bias swapped in the folded bias of fold-batch-norm-conv2d."""
    path = _mutant(tmp_path, "fold.rules", "(reshape (sub ?bias (mul ?mean", "(reshape (sub ?mean (mul ?bias")
    out = io.StringIO()
    assert rules_check_main([path], out) == 1
    assert "FAIL fold-batch-norm-conv2d" in out.getvalue() and "PASS fold-batch-norm-dense" in out.getvalue()


def test_is_8_bit_rules_are_tried_on_int8_and_uint8():
    rule = next(r for r in library_rules() if r.name == "tensorize-vta-zero-point-conv2d-padded")
    assert dtype_variants(rule) == [{"x": "int8"}, {"x": "uint8"}]
    result = check_rule(rule)
    assert result.passed and result.meaningful == {"[x=int8]": 12, "[x=uint8]": 12}


def test_a_wrong_pad_value_in_quant_vta_is_caught_on_uint8(tmp_path):
    """Padding x' with z (right for int8, where the offset is 0) instead of z - 128 for uint8."""
    path = _mutant(tmp_path, "quant_vta.rules", ":pads (nchw-pads ?p) :value (- ?z (int8-offset ?x))",
                   ":pads (nchw-pads ?p) :value ?z")
    (mutant,) = [r for r in load_file(path) if r.name == "tensorize-vta-zero-point-conv2d-padded"]
    result = check_rule(mutant)
    assert not result.passed and "counterexample" in result.failure and "uint8" in result.failure
    assert result.meaningful["[x=int8]"] == 12  # int8 alone would not have caught it


def _miscompiled(program, inputs):
    """A runner whose kernels drop the last output channel (a lost remainder block)."""
    out = dict(ft.evaluate(program, inputs))
    for value in out.values():
        value[:, -1] = 0
    return out


def test_a_miscompiled_schedule_is_caught_by_running_the_kernel():
    rule = next(r for r in library_rules() if r.name == "tile-dense/v8-m6x16-k256")
    assert check_rule(rule, compiled={"llvm": lambda p, x: ft.evaluate(p, x)}).passed
    result = check_rule(rule, compiled={"llvm": _miscompiled})
    assert not result.passed and "compiled right side differs" in result.failure


# lower-8-bit-conv2d-exact-float32 and lower-bitserial-conv2d with a guard weakened: float32 is
# exact on sums of 8-bit products only up to 2^24 (258 products of 255 * 255), which only long
# reductions over data near the top of the range reach; packed weights must have exactly the
# words x's channels need (weights packed for a wider layer carry more); a pool of codes is not
# clipped again only where its codes fit int8.
EXACT = ":if (is-8-bit ?x) (is-8-bit ?w) (at-most (* (dim ?w 1) (* (dim ?w 2) (dim ?w 3))) 256)"
WORDS = "(equal (dim ?wp 4) (// (+ (dim ?x 1)"


@pytest.mark.parametrize("rule, old, new", [
    ("lower-8-bit-conv2d-exact-float32", EXACT, ":if (is-8-bit ?x) (is-8-bit ?w)"),  # any reduction length
    ("lower-8-bit-conv2d-exact-float32", EXACT, EXACT.replace("(is-8-bit ?x) ", "")),  # int32 x
    ("lower-bitserial-conv2d", WORDS, WORDS.replace("(dim ?x 1)", "(dim ?x 2)")),  # x's height, not channels
    ("fold-requantize-max-pool-of-codes", ":if (fits-bits ?hi 4))", ")"),  # codes past int8, or no hi
], ids=["no-size-bound", "x-any-dtype", "words-from-height", "codes-any-hi"])
def test_a_weakened_guard_of_a_lowbit_rule_is_caught(tmp_path, rule, old, new):
    (mutant,) = [r for r in load_file(_mutant(tmp_path, "lowbit.rules", old, new)) if r.name == rule]
    result = check_rule(mutant)
    assert not result.passed and ("counterexample" in result.failure or "ill-typed" in result.failure)


@pytest.mark.parametrize("dtype, low, high", [("int8", -128, 127), ("uint8", 0, 255), ("int32", -1000, 1000)])
def test_edge_data_lies_in_one_tenth_at_an_end_of_the_range(dtype, low, high, rng):
    tenth = (high - low) // 10
    for _ in range(20):
        data = edge_array(TensorType((64,), dtype), rng).astype(int)
        assert data.min() >= high - tenth or data.max() <= low + tenth
        assert low <= data.min() and data.max() <= high
    assert set(edge_array(TensorType((64,), "int32"), rng, "index").tolist()) <= {-1, 0}


def test_positive_integer_data_starts_at_one(rng):
    """A positive integer operand takes every value from 1 (the smallest positive, where a
    divisor or an exponent is the identity) to the top of its range."""
    from frittata.rewrites.instances import random_array

    data = random_array(TensorType((4096,), "uint8"), rng, "positive")
    assert data.min() == 1 and data.max() == 255


def _stepped(nearest: bool, step: int):
    """A runner whose conv kernel truncates one element to `step` below the interpreter's: the
    one whose float (before the epilogue's last step, a cast) is nearest an integer (what
    summing in another order can do) or, with `nearest` false, the one farthest from it;
    integer sums and casts to a float type are left exact."""
    def run(program, inputs):
        out = dict(ft.evaluate(program, inputs))
        rhs = program.outputs["rhs"]
        attrs = tuple((k, v[:-1] if k == "epilogue" else v) for k, v in rhs.attrs)
        floats = ft.evaluate(Program({"v": Term.make(rhs.op, rhs.args, attrs)}), inputs)["v"]
        if rhs.dtype == "float32" or floats.dtype != np.float32:
            return out
        distance = np.abs(floats - np.round(floats))
        at = np.unravel_index(np.argmin(distance) if nearest else np.argmax(distance), floats.shape)
        out["rhs"] = out["rhs"].copy()
        out["rhs"][at] -= step
        return out
    return run


@pytest.mark.parametrize("nearest, step, passes", [(True, 1, True), (False, 1, False), (True, 2, False)],
                         ids=["one-step-at-an-integer", "one-step-elsewhere", "two-steps"])
def test_a_compiled_cast_of_a_float_sum_may_step_by_one_at_an_integer_only(nearest, step, passes):
    """fuse-conv2d-cast compiled on LLVM differed by one from the interpreter where a float sum
    the kernel reassociates lies within rounding of an integer before the int8 cast (seed 0,
    element 56 vs 57): one step is allowed there, not elsewhere and not two."""
    rule = next(r for r in library_rules() if r.name == "fuse-conv2d-cast")
    result = check_rule(rule, compiled={"llvm": _stepped(nearest, step)})
    assert result.passed == passes, result.failure
    assert passes or "compiled right side differs" in result.failure


def test_a_minimum_above_the_instances_found_fails_the_rule():
    """A sound rule checked on 4 instances passes by default (at least 2 needed) and with
    `minimum=4`, and fails with `minimum=5`, naming the count found and the one expected."""
    (rule,) = parse_rules("(rule neg-neg (neg (neg ?x)) => ?x)", family="t")
    assert check_rule(rule, examples=4).passed and check_rule(rule, examples=4, minimum=4).passed
    result = check_rule(rule, examples=4, minimum=5)
    assert not result.passed and result.total == 4
    assert "only 4 meaningful instances" in result.failure and "expected >= 5" in result.failure


def test_a_rule_whose_guards_read_dimensions_is_also_checked_where_they_are_1_or_one_size():
    """A shape guard reading the wrong axis is wrong only where a size-1 axis broadcasts: the
    unit instances draw every dimension from 1 and one size above, apart from the others."""
    from frittata.rewrites.instances import Instance, reads_dims

    (bias,) = parse_rules("(rule r (add (dense ?x ?w) ?b) => (fused_dense ?x ?w ?b :epilogue [])"
                          " :if (shape-is ?b [(dim ?w 1)]))", family="f")
    (plain,) = parse_rules("(rule p (neg (neg ?x)) => ?x)", family="f")
    assert reads_dims(bias) and not reads_dims(plain)
    rng = np.random.default_rng(0)
    shapes = [inst.env["w"].shape for inst in (Instance(bias, rng, unit=True) for _ in range(40)) if inst.build()]
    dims = {d for s in shapes for d in s}
    assert 1 in dims and len(dims) >= 3 and all(len(set(s) - {1}) <= 1 for s in shapes)
    result = check_rule(bias)
    assert not result.passed and "ill-typed" in result.failure


@pytest.mark.parametrize("guard, reads, computes", [
    ("(shape-is ?b [(dim ?w 0)])", True, False),
    ("(shape-is ?b [1 (* (dim ?w 0) 2)])", True, True),
    ("(divisible (+ (dim ?x 1) 1) 2)", True, True),
    ("(shape-is ?b [4])", False, False),
])
def test_the_checker_sees_a_guards_dimensions_inside_a_shape_too(guard, reads, computes):
    """A guard reading a dimension gets the unit instances; one computing with a dimension (in
    a `[...]` shape as well as at its top) is size-sensitive and draws from the wide palette."""
    (rule,) = parse_rules(f"(rule r (add (dense ?x ?w) ?b) => (add (dense ?x ?w) ?b) :if {guard})", family="f")
    assert reads_dims(rule) == reads
    assert dims_arithmetic(rule.guards[0]) == size_sensitive(rule) == wants_wide_dims(rule) == computes
