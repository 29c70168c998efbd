"""Operand proposals for rule instances: convolution weights that fit the padded image, a
residual of the output's shape, and epilogue clips that leave a range of values."""

import numpy as np
import pytest

from frittata.rewrites.check import check_rule
from frittata.rewrites.instances import Instance, dtype_variants
from frittata.rewrites.library import library_rules
from frittata.rewrites.rule_format import parse_rules
from frittata.terms.ops import Op


def test_fused_conv2d_instances_get_fitting_kernels_and_a_residual_of_the_output_shape():
    (rule,) = parse_rules("(rule keep (relu (fused_conv2d ?x ?w ?b ?r ... :epilogue ?e))"
                          " => (relu (fused_conv2d ?x ?w ?b ?r ... :epilogue ?e)))", family="t")
    rng = np.random.default_rng(0)
    convs = [t.args[0] for t in (Instance(rule, rng).build() for _ in range(300)) if t is not None]
    assert len(convs) >= 30, len(convs)
    for conv in convs:
        x, w, _, residual = conv.args
        top, left, bottom, right = conv.attr("pads")
        assert w.shape[2] <= x.shape[2] + top + bottom and w.shape[3] <= x.shape[3] + left + right
        assert residual.shape == conv.shape
    assert {w.shape[2] for _, w, *_ in (c.args for c in convs)} > {1}  # not only 1x1 kernels


@pytest.mark.parametrize("guards", ["", " :if (is-8-bit ?x) (is-8-bit ?w)"], ids=["any-dtype", "8-bit"])
def test_epilogue_clips_leave_a_range_of_values(guards):
    """Every clip an instance's epilogue draws has a bound of none or a lower bound below the
    upper one: a clip to one value would make the kernel's output a constant, an instance that
    checks nothing of the convolution below it. One-sided clips of both kinds are drawn."""
    (rule,) = parse_rules("(rule keep (fused_conv2d ?x ?w ?b ?r ... :epilogue ?e)"
                          f" => (fused_conv2d ?x ?w ?b ?r ... :epilogue ?e){guards})", family="t")
    rng, variants = np.random.default_rng(1), dtype_variants(rule)
    clips = [step[1:] for k in range(400) for term in [Instance(rule, rng, variants[k % len(variants)]).build()]
             if term is not None for step in term.attr("epilogue") if step[0] == "clip"]
    assert len(clips) >= 40, len(clips)
    assert all(low is None or high is None or low < high for low, high in clips), sorted(set(clips), key=str)
    assert any(low is None for low, _ in clips) and any(high is None for _, high in clips)


def test_matmul_rules_get_their_instances_with_weights_of_the_inputs_dtype():
    """A matmul's weights are proposed in its input's dtype (an unguarded integer leaf may
    wander to another integer dtype, which integer matmuls accept), so float and integer
    instances both build and the library's matmul rule is checked on every instance it asks for."""
    (keep,) = parse_rules("(rule keep (matmul ?x ?w) => (matmul ?x ?w))", family="t")
    rng = np.random.default_rng(0)
    built = [t for t in (Instance(keep, rng).build() for _ in range(100)) if t is not None]
    assert len(built) >= 50, len(built)
    kinds = {(x.dtype == "float32", w.dtype == "float32") for x, w in (t.args for t in built)}
    assert kinds == {(True, True), (False, False)}, kinds
    assert {t.args[0].dtype for t in built} >= {"float32", "int32", "int8", "uint8"}
    ranks = {(x.type.rank, w.type.rank) for x, w in (t.args for t in built)}
    assert ranks == {(2, 2), (3, 2), (3, 3)}, ranks  # a batched input meets matrix and batched weights
    (rule,) = [r for r in library_rules() if r.name == "fuse-matmul-as-dense"]
    result = check_rule(rule)
    assert result.passed and result.meaningful == {"": 12}, result.line()


def test_a_binary_ops_second_operand_takes_every_broadcasting_form():
    """x's shape, a scalar, ones below x's rank, a leading axis more, a per-axis vector, the
    last axis, and for an image-like x a per-channel [C 1 1] with the batch left to broadcast
    (the spelling of a bias that canon-channel-operand-nchw meets)."""
    (rule,) = parse_rules("(rule keep (add ?x ?y) => (add ?x ?y))", family="t")
    rng = np.random.default_rng(0)
    pairs = [(t.args[0].shape, t.args[1].shape) for t in (Instance(rule, rng).build() for _ in range(600))
             if t is not None and t.args[0].type.rank == 4]
    forms = {
        "same": lambda x, y: y == x,
        "scalar": lambda x, y: y == (),
        "ones": lambda x, y: 0 < len(y) < 4 and set(y) == {1},
        "leading": lambda x, y: y == (2,) + x,
        "channel": lambda x, y: x[1] > 1 and y == x[1:2] + (1, 1),
        "last": lambda x, y: x[-1] > 1 and y == x[-1:],
        "axis": lambda x, y: len(y) == 4 and sum(d > 1 for d in y) == 1 and y != x,
    }
    missing = [name for name, form in forms.items() if not any(form(x, y) for x, y in pairs)]
    assert not missing, (missing, len(pairs))


def test_a_contractions_weights_and_bias_are_parameters_together_in_about_half_the_instances():
    """As in a model (backends pack parameter weights at compile time): about half the
    instances make both a parameter, apart from each leaf's own 30% chance (9% for both)."""
    (rule,) = parse_rules("(rule keep (fused_dense ?x ?w ?b :epilogue ?e) => (fused_dense ?x ?w ?b :epilogue ?e))",
                          family="t")
    rng = np.random.default_rng(0)
    built = [t for t in (Instance(rule, rng).build() for _ in range(200)) if t is not None]
    both = sum(t.args[1].op == t.args[2].op == Op.PARAM for t in built) / len(built)
    assert len(built) >= 100 and 0.4 < both < 0.7, (len(built), both)
