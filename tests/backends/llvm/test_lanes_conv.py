"""The channels-in-lanes direct convolution (`lanes_conv`): strided convolutions with a deep
enough reduction take it, and it equals the interpreter on both ISAs (see `helpers.targets`):
output channels that are and are not multiples of the lanes, several input-channel blocks and a
partial one, a partial last pixel tile, padding or none (read in place), dilation, batches, and
the fused epilogues (bias, residual, relu, clip)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends.llvm.fastpath import schedule
from frittata.backends.llvm.lanes_conv import pack_weights
from frittata.terms import builders as tb
from frittata.terms.cpu_schedules import LANES_MIN_DEPTH, kernel_of
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling


@st.composite
def lanes_convs(draw):
    kh, kw = draw(st.sampled_from([(3, 3), (2, 2), (5, 5), (3, 1), (1, 3)]), label="kernel")
    least = -(-LANES_MIN_DEPTH // (kh * kw))
    c = draw(st.integers(least, least + 40), label="c")
    o = draw(st.integers(1, 40), label="o")
    strides = draw(st.sampled_from([(2, 2), (3, 3), (2, 1), (1, 2)]), label="strides")
    dilations = draw(st.sampled_from([(1, 1), (1, 1), (2, 1)]), label="dilations")
    pads = tuple(draw(st.lists(st.integers(0, 2), min_size=4, max_size=4), label="pads"))
    reach_h, reach_w = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    h = draw(st.integers(max(1, reach_h - pads[0] - pads[2]), 15), label="h")
    w = draw(st.integers(max(1, reach_w - pads[1] - pads[3]), 19), label="w")
    x = tb.var("x", (draw(st.integers(1, 2), label="n"), c, h, w))
    weights = tb.param("w", rand((o, c, kh, kw), seed=5, scale=0.2))
    attrs = dict(strides=strides, pads=pads, dilations=dilations)
    steps = draw(st.sampled_from([(), (("relu",),), (("add",), ("relu",)), (("clip", 0.0, 6.0),)]), label="steps")
    if draw(st.booleans(), label="plain") and not steps:
        return tb.conv2d(x, weights, **attrs)
    plain = tb.conv2d(x, weights, **attrs)
    residual = (tb.var("r", plain.shape),) if ("add",) in steps else ()
    return tb.fused_conv2d(x, weights, tb.param("b", rand((o,), seed=6)), *residual, **attrs, epilogue=steps)


@compiling
@given(term=lanes_convs(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_lanes_conv_equals_the_interpreter(term, isa, threads):
    target = targets()[isa]
    assert kernel_of(schedule(term, target.lanes) or {}) == "lanes_conv"
    check_on(ft.Program({"y": term}), target, threads)


def test_strided_layers_with_a_deep_reduction_take_the_lanes_kernel():
    """ResNet's 3x3 stride-2 layers do (6 pixels by 2 vectors with AVX2, 12 by 2 with AVX-512);
    the 3-channel stems and stride-1 layers keep the direct kernel."""
    def conv(c, o, size, k, stride):
        x = tb.var("x", (1, c, size, size))
        return tb.conv2d(x, tb.param("w", rand((o, c, k, k))), strides=(stride, stride), pads=(k // 2,) * 4)

    avx2, avx512 = schedule(conv(128, 128, 56, 3, 2), 8), schedule(conv(128, 128, 56, 3, 2), 16)
    assert (kernel_of(avx2), avx2["oc_block"], avx2["pixel_block"], avx2["c_block"]) == ("lanes_conv", 16, 6, 28)
    assert (avx512["oc_block"], avx512["pixel_block"], avx512["c_block"]) == (32, 12, 14)
    assert kernel_of(schedule(conv(3, 64, 224, 7, 2), 8)) == "blocked"
    assert kernel_of(schedule(conv(3, 32, 224, 3, 2), 8)) == "blocked"
    assert kernel_of(schedule(conv(128, 128, 28, 3, 1), 8)) == "blocked"


def test_weights_are_packed_output_channels_innermost():
    w = rand((5, 3, 2, 2))
    packed = pack_weights(w, 4)
    assert packed.shape == (2, 3, 2, 2, 4)
    assert packed[1, 2, 1, 0, 0] == w[4, 2, 1, 0]
    assert np.all(packed[1, ..., 1:] == 0)
