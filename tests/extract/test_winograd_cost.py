"""The Winograd cost model: the static contiguous shares of transformed tile blocks per core
that `blocks_started` assumes, checked by hand (the kernel takes dynamic chunks from the work
counter, which the model approximates by these shares; see its docstring), and a layer's price
per image."""

import math

import numpy as np
import pytest

from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo
from frittata.extract import winograd_cost
from frittata.extract.winograd_cost import blocks_started, input_transform_ops, sandwich_ops, winograd_seconds
from frittata.terms.cpu_schedules import blocked_schedule, is_winograd
from frittata.terms.winograd import shares_v


def _by_hand(blocks: int, groups: int, cores: int) -> int:
    """The blocks x groups items split into contiguous block-major shares; a core transforms
    every block one of its items belongs to: the most distinct blocks any share touches."""
    items = blocks * groups
    shares = [range(items * t // cores, items * (t + 1) // cores) for t in range(cores)]
    return max(len({i // groups for i in share}) for share in shares)


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("groups", [1, 2, 3, 4])
@pytest.mark.parametrize("blocks", [1, 2, 5, 7, 16])
def test_blocks_started_counts_the_blocks_of_the_largest_share(blocks, groups, cores):
    assert blocks_started(blocks, groups, cores) == _by_hand(blocks, groups, cores)


def _winograd(batch: int, out_channels: int) -> NodeInfo:
    x = T.var("x", (batch, 32, 28, 28))
    w = T.param("w", np.ones((out_channels, 32, 3, 3), np.float32))
    term = T.winograd_conv2d(x, w, T.param("b", np.ones(out_channels, np.float32)), pads=(1, 1, 1, 1), tile=4)
    return NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))


def test_a_winograd_layer_is_priced_per_image_and_grows_with_its_output_channels():
    """32 -> 64 channels at 28x28, F(4x4, 3x3) with its default schedule on AVX2: two images
    cost twice one; 128 output channels (more GEMM work and transformed outputs) cost more."""
    model = CpuModel(vector_lanes=8)
    one = _winograd(1, 64)
    s = blocked_schedule(one.op, one.attrs, one.type, one.operands, (False, True, True), 8)
    assert s is not None and is_winograd(s) and s["tile"] == 4
    seconds = winograd_seconds(one, s, model)
    assert 0 < seconds < math.inf
    assert winograd_seconds(_winograd(2, 64), s, model) == pytest.approx(2 * seconds)
    assert winograd_seconds(_winograd(1, 128), s, model) > seconds


def test_transformed_weights_beyond_the_last_level_cache_stream_from_dram():
    """512 -> 512 channels at 7x7, F(4x4, 3x3): U is 36 x 512 x 512 floats (37.7 MB), and a
    GEMM of 4 tiles per channel pair is bound by reading it. Past the last-level cache it is
    read at DRAM bandwidth, so F(2x2, 3x3) (U of 16.8 MB, still cached) becomes the cheaper."""
    x = T.var("x", (1, 512, 7, 7))
    w = T.param("w", np.ones((512, 512, 3, 3), np.float32))
    b = T.param("b", np.ones(512, np.float32))
    prices = {}
    for cache_mib in (32, 64):
        model = CpuModel(vector_lanes=8, last_level_cache_bytes=cache_mib << 20)
        for tile in (2, 4):
            term = T.winograd_conv2d(x, w, b, pads=(1, 1, 1, 1), tile=tile)
            info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
            s = blocked_schedule(info.op, info.attrs, info.type, info.operands, (False, True, True), 8)
            prices[cache_mib, tile] = winograd_seconds(info, s, model)
    assert prices[32, 2] == prices[64, 2]
    assert prices[32, 4] > prices[64, 4]
    assert prices[32, 2] < prices[32, 4]


def test_a_single_block_of_several_groups_transforms_its_inputs_once_for_the_team(monkeypatch):
    """256 -> 256 channels at 14x14, F(4x4, 3x3) on AVX2: one block of 16 tiles in channel
    groups, whose V the team computes once (the kernel's `shared_v`). With the transforms made
    the whole price (a rate of one operation a second), two cores take half of one core's time:
    each transforms half of V and half of the outputs. Priced as before, every core that held a
    group transformed the whole block, and two cores took 0.77 of one core's time."""
    monkeypatch.setattr(winograd_cost, "TRANSFORM_OPS", 1.0)
    x = T.var("x", (1, 256, 14, 14))
    w = T.param("w", np.ones((256, 256, 3, 3), np.float32))
    term = T.winograd_conv2d(x, w, T.param("b", np.ones(256, np.float32)), pads=(1, 1, 1, 1), tile=4)
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
    s = blocked_schedule(info.op, info.attrs, info.type, info.operands, (False, True, True), 8)
    assert s is not None and s["tile_block"] == 16 and s["oc_groups"] > 1
    one, two = (winograd_seconds(info, s, CpuModel(vector_lanes=8, cores=cores)) for cores in (1, 2))
    assert two == pytest.approx(one / 2, rel=0.01)


@pytest.mark.parametrize("blocks, groups, cores, shared, whole_blocks", [
    (1, 1, 2, False, 1),  # one block, one group: the core with the item transforms all of it
    (1, 2, 2, True, 0.5),  # one block of two groups: V shared, each core transforms half
    (1, 4, 2, True, 0.5),
    (2, 2, 2, False, 1),  # two blocks of two groups: each core's items are one block's
    (3, 2, 2, False, 2),  # three blocks: a core's share (3 items) touches two of them
    (1, 3, 1, True, 1),  # one core shares V with no one
])
def test_the_input_transform_shares_v_for_a_single_block_of_several_groups_only(blocks, groups, cores, shared,
                                                                                 whole_blocks):
    """At the edges of the kernel's `shared_v`: 16 tiles per block, 32 vectors of channels."""
    assert shares_v(blocks, groups) == shared
    ops = input_transform_ops(16, 32, blocks, groups, 4, cores)
    assert ops == whole_blocks * 16 * 32 * sandwich_ops(4, "input")
