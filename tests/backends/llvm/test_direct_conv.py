"""The register-blocked direct convolution (`conv`) with its default schedule, stride 1 and one
group, equals the interpreter on both ISAs (`helpers.targets`): with 16 lanes a register tile is
24 output channels by one vector of pixels, or 12 by two (32 vector registers), twice AVX2's
(one where it pads the row less: `row_vectors`);
the shapes reach past those tiles (output channels, rows of one vector and of two with a partial
last one), several input-channel blocks and a partial one, dilation, uneven padding, the
epilogues, and weights computed at run time."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends.llvm.fastpath import schedule
from frittata.terms import builders as tb
from frittata.terms.cpu_schedules import kernel_of
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling

STEPS = [(), (("relu",),), (("clip", 0.0, 6.0),), (("add",), ("relu",))]


@st.composite
def direct_convs(draw):
    c, o = draw(st.integers(1, 40), label="c"), draw(st.integers(1, 52), label="o")
    kh, kw = draw(st.sampled_from([(3, 3), (5, 5), (3, 1), (1, 3), (2, 2)]), label="kernel")
    dilations = draw(st.sampled_from([(1, 1), (2, 2), (1, 2)]), label="dilations")
    pads = tuple(draw(st.lists(st.integers(0, 2), min_size=4, max_size=4), label="pads"))
    reach_h, reach_w = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    h = draw(st.integers(max(1, reach_h - pads[0] - pads[2]), 9), label="h")
    w = draw(st.integers(max(1, reach_w - pads[1] - pads[3]), 40), label="w")
    x = tb.var("x", (draw(st.integers(1, 2)), c, h, w))
    weights = tb.var("w", (o, c, kh, kw)) if draw(st.booleans(), label="computed weights") else \
        tb.param("w", rand((o, c, kh, kw), seed=5, scale=0.3))
    attrs = {"pads": pads, "dilations": dilations}
    steps = draw(st.sampled_from(STEPS), label="steps")
    plain = tb.conv2d(x, weights, **attrs)
    if not steps and draw(st.booleans(), label="plain"):
        return plain
    residual = (tb.var("r", plain.shape),) if ("add",) in steps else ()
    return tb.fused_conv2d(x, weights, tb.param("b", rand((o,), seed=6)), *residual, epilogue=steps, **attrs)


CHANNEL_BLOCKS = {13: (24, 16, 18, 4), 27: (12, 32, 37, 3)}
"""Row widths of the partial-channel-block examples on 16 lanes, and the (oc_block, ow_block,
c_block, c_tail) each gets: 24 x 1 vector with blocks of 18 channels and a last one of 4 (13 of 16
lanes); 12 x 2 vectors with a block of 37 and a last one of 3 (16 + 11 lanes)."""


def channel_blocks(w: int):
    """40 input channels (in blocks with a partial last one on 16 lanes) convolved 3x3, padded by
    1, over 5 rows of `w` pixels (a partial last vector) into 30 output channels (past one tile),
    then ReLU."""
    x = tb.var("x", (1, 40, 5, w))
    weights, bias = tb.param("w", rand((30, 40, 3, 3), seed=5, scale=0.3)), tb.param("b", rand((30,), seed=6))
    return tb.fused_conv2d(x, weights, bias, pads=(1, 1, 1, 1), epilogue=(("relu",),))


def seven_by_seven(dilations: tuple[int, int], groups: int = 1):
    """A 7x7 kernel (more than `conv.UNROLLED_TAPS`: its taps run a row a loop step), 5 input
    channels a group to 30 outputs a group over a 16 x 40 image padded by 2, dilated as given,
    then ReLU (two groups: tiles of two vectors with 16 lanes)."""
    x = tb.var("x", (1, 5 * groups, 16, 40))
    weights = tb.param("w", rand((30 * groups, 5, 7, 7), seed=5, scale=0.3))
    bias = tb.param("b", rand((30 * groups,), seed=6))
    return tb.fused_conv2d(x, weights, bias, pads=(2, 2, 2, 2), dilations=dilations, groups=groups,
                           epilogue=(("relu",),))


@compiling
@given(term=direct_convs(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
@example(term=channel_blocks(13), isa="avx512", threads=2)
@example(term=channel_blocks(27), isa="avx512", threads=2)
@example(term=seven_by_seven((1, 1)), isa="avx512", threads=2)
@example(term=seven_by_seven((1, 2), groups=2), isa="avx512", threads=2)
@example(term=seven_by_seven((2, 1)), isa="avx2", threads=1)
def test_the_direct_convolution_equals_the_interpreter(term, isa, threads):
    target = targets()[isa]
    blocked = schedule(term, target.lanes)
    assert blocked is not None and kernel_of(blocked) == "blocked"
    mod = check_on(ft.Program({"y": term}), target, threads)
    assert mod.report["backend"]["fast_paths"] == [term.op.value]


@pytest.mark.parametrize("w", sorted(CHANNEL_BLOCKS))
def test_the_examples_reach_a_partial_channel_block_in_both_16_lane_tiles(w):
    """The explicit examples above take the tile and channel blocks `CHANNEL_BLOCKS` names, their
    row one partial tile ending in a partial vector."""
    blocked = schedule(channel_blocks(w), 16)
    assert blocked is not None
    assert tuple(blocked[k] for k in ("oc_block", "ow_block", "c_block", "c_tail")) == CHANNEL_BLOCKS[w]
    assert blocked["ow_tail"] == w and w % 16
