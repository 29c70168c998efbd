"""The channels-in-lanes direct convolution (`lanes_conv`): strided convolutions with a deep
enough reduction take it, and it equals the interpreter on both ISAs (see `helpers.targets`):
output channels that are and are not multiples of the lanes, several input-channel blocks and a
partial one, a partial last pixel tile, padding or none (read in place), dilation, batches, and
the fused epilogues (bias, residual, relu, clip)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends.llvm.fastpath import schedule
from frittata.backends.llvm.lanes_conv import pack_weights
from frittata.terms import builders as tb
from frittata.terms.cpu_schedules import LANES_MIN_DEPTH, kernel_of, lanes_conv_schedule
from frittata.terms.dtypes import TensorType
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling


KERNELS = [(3, 3), (2, 2), (5, 5), (3, 1), (1, 3)]
STEPS = [(), (("relu",),), (("add",), ("relu",)), (("clip", 0.0, 6.0),)]


def c_blocks(kh: int, kw: int) -> tuple[int, ...]:
    """The input-channel block of both ISAs' schedules for a kh x kw kernel."""
    return tuple(lanes_conv_schedule(TensorType((1, 1, kh, kw), "float32"), lanes)["c_block"] for lanes in (8, 16))


def lanes_conv(c, o, kernel, strides, dilations, pads, hw, n=1, steps=(), plain=False):
    """A strided convolution (plain, or fused with a bias and `steps`) of an n x c x hw input."""
    x = tb.var("x", (n, c, *hw))
    weights = tb.param("w", rand((o, c, *kernel), seed=5, scale=0.2))
    attrs = dict(strides=strides, pads=pads, dilations=dilations)
    if plain:
        return tb.conv2d(x, weights, **attrs)
    residual = (tb.var("r", tb.conv2d(x, weights, **attrs).shape),) if ("add",) in steps else ()
    return tb.fused_conv2d(x, weights, tb.param("b", rand((o,), seed=6)), *residual, **attrs, epilogue=steps)


@st.composite
def lanes_convs(draw):
    """c is the least that takes the kernel, a multiple of either ISA's channel block (the last
    block whole), or any a little above the least (a partial last block)."""
    kh, kw = draw(st.sampled_from(KERNELS), label="kernel")
    least = -(-LANES_MIN_DEPTH // (kh * kw))
    whole = [-(-least // cb) * cb for cb in c_blocks(kh, kw)]
    c = draw(st.one_of(st.sampled_from([least, *whole]), st.integers(least, least + 40)), label="c")
    o = draw(st.integers(1, 40), label="o")
    strides = draw(st.sampled_from([(2, 2), (3, 3), (2, 1), (1, 2)]), label="strides")
    dilations = draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 2)]), label="dilations")
    pads = tuple(draw(st.lists(st.integers(0, 2), min_size=4, max_size=4), label="pads"))
    reach_h, reach_w = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    h = draw(st.integers(max(1, reach_h - pads[0] - pads[2]), 15), label="h")
    w = draw(st.integers(max(1, reach_w - pads[1] - pads[3]), 19), label="w")
    steps = draw(st.sampled_from(STEPS), label="steps")
    plain = draw(st.booleans(), label="plain") and not steps
    return lanes_conv(c, o, (kh, kw), strides, dilations, pads, (h, w), draw(st.integers(1, 2), label="n"), steps,
                      plain)


@compiling
@given(term=lanes_convs(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
@example(term=lanes_conv(64, 20, (2, 2), (2, 2), (1, 2), (1, 0, 0, 1), (9, 11)), isa="avx2", threads=1)
@example(term=lanes_conv(56, 17, (3, 3), (2, 2), (2, 2), (1, 1, 1, 1), (11, 10), steps=(("relu",),)),
         isa="avx2", threads=2)
@example(term=lanes_conv(42, 33, (3, 3), (2, 1), (1, 2), (2, 1, 0, 2), (9, 12)), isa="avx512", threads=1)
def test_lanes_conv_equals_the_interpreter(term, isa, threads):
    """The explicit examples: on AVX2 one channel block of exactly 64 x 4 = LANES_MIN_DEPTH
    steps (the only single-block case the kernel takes), and 56 channels = 2 blocks of 28; on
    AVX-512 42 = 3 blocks of 14; each with a dilated kernel width."""
    target = targets()[isa]
    assert kernel_of(schedule(term, target.lanes) or {}) == "lanes_conv"
    check_on(ft.Program({"y": term}), target, threads)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_the_padded_copy_overwrites_a_reused_buffer(isa):
    """The convolution's input and its padded copy land on arena buffers that the program's
    earlier steps wrote (floats of 3 or more), so every pad float must be written."""
    x = tb.var("x", (1, 32, 12, 12))
    reused = tb.max_pool2d(tb.add(tb.relu(x), tb.const(3.0)), (1, 1))
    y = tb.conv2d(reused, tb.param("w", rand((16, 32, 3, 3), seed=5)), strides=(2, 2), pads=(1, 2, 2, 1))
    assert kernel_of(schedule(y, targets()[isa].lanes) or {}) == "lanes_conv"
    check_on(ft.Program({"y": y}), targets()[isa], 1)


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
