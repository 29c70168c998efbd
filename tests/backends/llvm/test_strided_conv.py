"""Strided direct convolutions: their threads split items of consecutive pixel tiles by default,
each item sweeping its channel blocks (sized so that a tile's strided input rows fit L1) over
all its tiles and output-channel blocks, unless the weights swept once per item outweigh the
input swept once per output-channel block. They equal the interpreter on both ISAs (see
`helpers.targets`), with odd sizes, uneven pads, stride 2, 3 or 4 (or one axis only), several
channel blocks, a partial last item and partial tiles. (Those with a deep enough reduction run
the channels-in-lanes kernel instead: `test_lanes_conv`.)"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms.cpu_geometry import pixel_item_tiles
from frittata.terms.cpu_schedules import default_conv_schedule
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling


@st.composite
def strided_convs(draw):
    c, o = draw(st.integers(1, 48), label="c"), draw(st.integers(1, 20), label="o")
    kh, kw = draw(st.integers(1, 5), label="kh"), draw(st.integers(2, 5), label="kw")
    strides = draw(st.sampled_from([(2, 2), (3, 3), (2, 1), (1, 3), (4, 4)]), label="strides")
    pads = tuple(draw(st.lists(st.integers(0, 2), min_size=4, max_size=4), label="pads"))
    h = draw(st.integers(max(1, kh - pads[0] - pads[2]), 23), label="h")
    w = draw(st.integers(max(1, kw - pads[1] - pads[3]), 41), label="w")
    steps = draw(st.sampled_from([(), (("relu",),), (("add",), ("relu",))]))
    return strided_conv((draw(st.integers(1, 2)), c, h, w), o, (kh, kw), strides, pads, steps)


def strided_conv(shape: tuple, o: int, kernel: tuple, strides: tuple, pads: tuple, steps: tuple = ()):
    """A fused convolution of x[shape] to `o` channels with seeded weights and bias."""
    x, weights = tb.var("x", shape), rand((o, shape[1], *kernel), seed=5)
    plain = tb.conv2d(x, tb.param("w", weights), strides=strides, pads=pads)
    residual = (tb.var("r", plain.shape),) if ("add",) in steps else ()
    return tb.fused_conv2d(x, tb.param("w", weights), tb.param("b", rand((o,), seed=6)),
                           *residual, strides=strides, pads=pads, epilogue=steps)


def _pad_tail(w: int, strides: int, isa: str, pads=(1, 1, 1, 1), kernel=3):
    """An example whose image row of `w` floats ends the pad pass's sw x L chunks as it says."""
    return example(term=strided_conv((1, 3, 5, w), 4, (kernel, kernel), (strides, strides), pads),
                   isa=isa, threads=1)


@compiling
@given(term=strided_convs(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
@_pad_tail(17, 2, "avx2")  # a last chunk of one column (fewer than sw): phase 1 stores nothing
@_pad_tail(25, 3, "avx2")  # 1 or 2 columns past the last whole chunk of 3 x 8
@_pad_tail(26, 3, "avx2")
@_pad_tail(33, 2, "avx512")  # one column past a chunk of 2 x 16
@_pad_tail(32, 2, "avx2")  # whole chunks only
@_pad_tail(33, 4, "avx2", pads=(0, 0, 0, 0), kernel=4)  # a ConvNeXt-like 4x4 stride-4 stem, 1 column over
@_pad_tail(40, 4, "avx512", pads=(0, 0, 0, 0), kernel=4)
@example(term=strided_conv((1, 3, 41, 41), 30, (7, 7), (2, 2), (0, 0, 0, 0), (("relu",),)),  # SqueezeNet's stem
         isa="avx512", threads=2)
@example(term=strided_conv((1, 3, 38, 38), 20, (7, 7), (2, 2), (3, 3, 3, 3), (("relu",),)),  # ResNet's
         isa="avx2", threads=2)
def test_strided_conv_equals_the_interpreter(term, isa, threads):
    mod = check_on(ft.Program({"y": term}), targets()[isa], threads)
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d"]


def test_a_3x3_stride_2_conv_blocks_its_channels_for_l1():
    """The direct kernel's schedule of ResNet-50's 128 -> 128 at 56x56, stride 2 (which runs the
    channels-in-lanes kernel by default, `test_lanes_conv`): 28 channels per block with AVX2 (a
    tile's six strided input rows of 17 floats take 3 lines each: 1152 bytes a channel), items of
    4 tiles of 16 pixels (two output rows), 14 of them."""
    x = tb.var("x", (1, 128, 56, 56))
    term = tb.conv2d(x, tb.param("w", rand((128, 128, 3, 3))), strides=(2, 2), pads=(1, 1, 1, 1))
    s = default_conv_schedule(x.type, term.args[1].type, term.type, dict(term.attrs), 8)
    assert (s["parallel"], s["c_block"], s["c_tail"], s["ow_block"]) == ("pixel", 28, 128 % 28, 16)
    assert pixel_item_tiles(28 * 2, 16, 5) == 4


def test_pixel_items_cover_the_image_in_at_least_four_where_it_can():
    assert pixel_item_tiles(56, 16, 5) == 4
    assert pixel_item_tiles(14, 16, 10) == 3
    assert pixel_item_tiles(7, 8, 14) == 1
    assert pixel_item_tiles(3, 8, 2) == 1
    assert pixel_item_tiles(1000, 32, 2) == 2
    assert pixel_item_tiles(1000, 32, 1) == 1
