"""Operand proposals for rule instances: convolution weights that fit the padded image, and a
residual of the output's shape."""

import numpy as np

from frittata.rewrites.instances import Instance
from frittata.rewrites.rule_format import parse_rules


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
