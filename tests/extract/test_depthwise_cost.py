"""The depthwise kernel's price from its structure: whole and masked tail vectors, the strided ring fill,
weights reloaded by a tile that overflows the registers, channels over the cores, and the price
of MobileNetV2's layers against their measured times (one Zen 3 core)."""

from dataclasses import replace

import numpy as np
import pytest

from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo
from frittata.extract.cpu_work import work
from frittata.extract.depthwise_cost import (MASKED_STORE_CYCLES, REMAINDER_CYCLES, STORE_CYCLES, depthwise_seconds,
                                             depthwise_tile_efficiency, fill_cycles, masked_stores, slot_cycles,
                                             tiles_cycles, vector_weight)
from frittata.terms.depthwise_schedules import depthwise_schedule

AVX2 = CpuModel(vector_lanes=8, fp32_flops_per_core=CpuModel.fp32_flops_per_core / 2)


def _depthwise(channels: int, size: int, k: int = 3, stride: int = 1, relu6: bool = True,
               width: int | None = None) -> NodeInfo:
    x = T.var("x", (1, channels, size, width or size))
    w = T.param("w", np.ones((channels, 1, k, k), np.float32))
    b = T.param("b", np.ones(channels, np.float32))
    epilogue = (("clip", 0.0, 6.0),) if relu6 else ()
    term = T.fused_conv2d(x, w, b, strides=stride, pads=k // 2, groups=channels, epilogue=epilogue)
    return NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args), False, (False, True, True))


def _seconds(info: NodeInfo, model: CpuModel = AVX2) -> float:
    s = depthwise_schedule(info.type, info.operands[1].shape[2] * info.operands[1].shape[3], model.vector_lanes)
    return depthwise_seconds(info, s, model)


def test_a_partial_last_vector_costs_a_whole_vector_but_in_the_plane_s_last_row():
    """A row that is one tile stores its partial last vector whole onto the next row's first
    columns: the tiles of rows of 13 columns cost what rows of 16 do (two vectors) but for the
    plane's last row, stored under a mask; 17 columns cost a third vector more."""
    tiles = {}
    for width in (13, 16, 17):
        info = _depthwise(32, 28, width=width)
        tiles[width] = tiles_cycles(info, depthwise_schedule(info.type, 9, 8), 8)
    assert tiles[13] == tiles[16] + MASKED_STORE_CYCLES - STORE_CYCLES
    assert tiles[13] < tiles[17]


def test_rows_with_full_tiles_before_a_partial_one_mask_it_in_all_but_a_block_s_last_row():
    """41 columns on AVX2: a full tile of 32 and a tail of 9 (a partial vector of 1), blocks of
    2 rows (`depthwise_schedule`): the first row of each of the 14 blocks and the plane's last
    row store it under a mask (`depthwise.Spill`)."""
    info = _depthwise(32, 28, width=41)
    s = depthwise_schedule(info.type, 9, 8)
    assert (s["oh_block"], s["ow_block"]) == (2, 32)
    assert masked_stores(info, s) == 14 + 1
    assert masked_stores(_depthwise(32, 28, width=40), s) == 0


def test_a_strided_fill_splits_rows_into_phases_at_a_higher_price_per_vector():
    """A stride-2 layer fills as many padded rows as its output reads, each split into its two
    column phases: more cycles per vector of the row than a stride-1 copy."""
    one, two = _depthwise(96, 112), _depthwise(96, 112, stride=2)
    assert fill_cycles(two, 8) / 113 > fill_cycles(one, 8) / 114


def test_a_5x5_tile_that_overflows_the_registers_is_charged_a_load_per_tap():
    """AVX2's 16 registers do not hold a 5x5 tile's 25 weights beside its accumulators: the model
    charges the tile of 2 rows by 2 vectors (`depthwise_schedule`: more rows spill accumulators
    too) 25 weight loads beside its 60 tap loads, under the 25-FMA chain of each of its 4
    accumulators (4 cycles each) plus 4 stores: the 480-channel layer measured 0.95x its price."""
    info = _depthwise(480, 14, k=5)
    s = depthwise_schedule(info.type, 25, 8)
    assert (s["oh_block"], s["ow_block"]) == (2, 16)
    assert depthwise_tile_efficiency(info, s, 8) == pytest.approx(100 / 2 / (25 * 4 + 4))


def test_two_cores_split_the_channels():
    info = _depthwise(144, 56)
    one = _seconds(info, CpuModel(vector_lanes=8, cores=1, fp32_flops_per_core=AVX2.fp32_flops_per_core))
    assert _seconds(info) == pytest.approx(one / 2)
    assert _seconds(_depthwise(3, 56)) > _seconds(_depthwise(2, 56))


MEASURED_US = {(144, 56, 1): 160.8, (32, 112, 1): 158.4, (96, 112, 2): 229.4, (384, 14, 1): 43.1,
               (192, 28, 1): 116.2, (576, 14, 1): 85.0, (960, 7, 1): 39.5, (144, 56, 2): 94.5,
               (192, 28, 2): 39.2, (576, 14, 2): 33.5}
"""MobileNetV2's depthwise 3x3 layers with ReLU6 (channels, input size, stride): microseconds
on one Zen 3 core, each built alone and timed by bench/cost_choices.py (the least CPU time of
16 runs alternated with the layer's other candidates, loaded machine, 2026-12). The price
before this model (a fitted efficiency of 0.10) was 0.21-0.68 of them."""


@pytest.mark.parametrize("layer", sorted(MEASURED_US))
def test_mobilenet_v2s_depthwise_layers_are_priced_near_their_measured_times(layer):
    """Each within 0.6-1.5x of its time on one core (the whole layer: tiles, fill, epilogue and
    the memory roofline of `CpuModel.node_cost`)."""
    channels, size, stride = layer
    model = CpuModel.for_machine("x86_64-unknown-linux-gnu", "+avx2,+fma", cores=1)
    seconds = model.node_cost(_depthwise(channels, size, stride=stride))
    assert 0.6 < MEASURED_US[layer] * 1e-6 / seconds < 1.5


def test_each_output_channel_of_a_multiplier_runs_the_tiles_over_one_filled_ring():
    """A channel multiplier m > 1 (O = m x C) runs the tiles m times per input channel over the
    ring filled once: m x the tiles, one fill."""
    x = T.var("x", (1, 32, 28, 28))
    w = T.param("w", np.ones((96, 1, 3, 3), np.float32))
    term = T.fused_conv2d(x, w, T.param("b", np.ones(96, np.float32)), strides=1, pads=1, groups=32)
    three = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args), False, (False, True, True))
    one = _depthwise(32, 28, relu6=False)
    s = depthwise_schedule(one.type, 9, 8)
    assert depthwise_schedule(three.type, 9, 8) == s
    tiles, fill = tiles_cycles(one, s, 8), fill_cycles(one, 8)
    assert _seconds(three) / _seconds(one) == pytest.approx((fill + 3 * tiles) / (fill + tiles))


def test_a_depthwise_layers_activations_stream_from_the_last_level_cache_on_every_core():
    """96 channels at 112x112 stride 2 move 6 MB (input and output): past the model's L2, within
    the last-level cache, at `llc_bandwidth` per core, the cores' rates added, not at DRAM's."""
    info = _depthwise(96, 112, stride=2)
    done = work(info, 20.0, 8)
    one, two = (replace(AVX2, cores=cores) for cores in (1, 2))
    assert AVX2.cache_bytes < done.bytes <= AVX2.last_level_cache_bytes
    assert two.memory_seconds(done) == pytest.approx(one.memory_seconds(done) / 2)
    assert one.memory_seconds(done) == pytest.approx(done.bytes / AVX2.llc_bandwidth)
    assert one.memory_seconds(done) < done.bytes / AVX2.dram_bandwidth


def test_a_ring_of_neither_every_row_nor_a_power_of_two_pays_a_remainder_per_slot():
    """96 channels at 112x112 stride 2 (AVX2): 2-row blocks read 5 ring rows each, 28 blocks, and
    113 padded rows are filled, each slot a remainder; 32 channels at 112x112 stride 1 has a ring
    of a power of two rows (its slots are low bits), so pays none."""
    wide = _depthwise(96, 112, stride=2)
    s = depthwise_schedule(wide.type, 9, 8)
    assert s["oh_block"] == 2
    assert slot_cycles(wide, s, 8) == (28 * 5 + 113) * REMAINDER_CYCLES
    narrow = _depthwise(32, 112)
    assert slot_cycles(narrow, depthwise_schedule(narrow.type, 9, 8), 8) == 0


MEASURED_ZEN4 = {
    (144, 56, 5, 2): {"2x2": 1.0, "1x2": 1.03, "3x2": 1.39, "4x2": 1.50, "7x2": 1.71, "2x1": 1.13, "4x1": 1.14},
    (240, 28, 5, 1): {"2x2": 1.0, "1x2": 1.46, "3x2": 1.67, "4x2": 2.06, "7x2": 2.27, "2x1": 1.15, "4x1": 1.18},
    (192, 28, 3, 1): {"2x2": 1.0, "1x2": 1.27, "4x2": 1.22, "7x2": 1.34, "2x1": 1.07, "4x1": 1.02},
    (144, 56, 3, 1): {"2x4": 1.0, "1x4": 1.36, "4x4": 1.57, "2x2": 1.02, "4x2": 1.02},
    (192, 28, 7, 1): {"2x2": 1.0, "1x2": 1.55, "4x2": 1.91, "2x1": 1.31, "4x1": 1.02},
    (96, 56, 7, 1): {"2x4": 1.0, "1x4": 1.60, "4x4": 2.38, "2x2": 1.17},
    (672, 14, 5, 1): {"2x1": 1.0, "1x1": 1.26, "3x1": 1.62, "4x1": 1.64, "7x1": 1.65, "8x1": 0.91},
    (480, 14, 3, 1): {"4x1": 1.0, "1x1": 1.32, "2x1": 1.09, "7x1": 1.04},
    (1152, 7, 5, 1): {"4x1": 1.0, "1x1": 1.23, "2x1": 1.05, "7x1": 1.04},
}
"""Depthwise layers with ReLU6 (channels, input size, k, stride) on one AMD EPYC Zen 4 core
(AVX-512, 16 lanes): each tile's time (rows x vectors) over the layer's fastest, the median of 15
interleaved rounds of 10 runs, CPU time, one process, machine loaded (load ~12, 2026-12-05).
672 at 14x14 in 8 x 1 is one block of 8 rows and one of 6, each at a row known at compile time,
whose store branches LLVM folds: no held taps, no spill (timed against 2 x 1 in a second run)."""
ONE_ROW_MISSES = {(192, 28, 3, 1): "1x2", (672, 14, 5, 1): "1x1", (480, 14, 3, 1): "1x1", (1152, 7, 5, 1): "1x1"}
"""Tiles of one row of one or two vectors the model prices at most the fastest's price,
measured 1.23-1.32x its time: it lets the chains of consecutive tiles overlap
(`CHAINS_IN_FLIGHT`), which Zen 4 does less than that."""


def _tile(info: NodeInfo, tile: str) -> dict:
    rows, vectors = map(int, tile.split("x"))
    oh, ow = info.type.shape[2:]
    return {"kernel": "depthwise", "vec": 16, "oh_block": rows, "oh_tail": oh % rows, "ow_block": 16 * vectors,
            "ow_tail": ow % (16 * vectors), "parallel": "channel"}


@pytest.mark.parametrize("layer", sorted(MEASURED_ZEN4))
def test_the_model_prices_the_tiles_measured_much_slower_above_the_fastest(layer):
    """On AVX-512 every tile measured more than 1.2x the fastest's time is priced above it (but
    `ONE_ROW_MISSES`): the stacked tiles of three or more rows whose stores branch, whose held
    taps spill (`depthwise_held_taps`), priced 1.04-5.3x; one-row tiles of 5x5 and 7x7, whose
    chains fill the FP scheduler (`SCHEDULED_FMAS`). The model priced 4 x 2 and 7 x 2 at 0.54-0.72x
    the 2 x 2 tile before it counted the held taps, and 7 x 1 at 0.66x 2 x 1 at 14x14."""
    channels, size, k, stride = layer
    info = _depthwise(channels, size, k=k, stride=stride)
    model = CpuModel(vector_lanes=16)
    measured = MEASURED_ZEN4[layer]
    fastest = min(measured, key=measured.__getitem__)
    price = {tile: depthwise_seconds(info, _tile(info, tile), model) for tile in measured}
    slow = {tile for tile in measured if measured[tile] > 1.2 * measured[fastest]} - {ONE_ROW_MISSES.get(layer)}
    assert all(price[tile] > price[fastest] for tile in slow), {t: price[t] / price[fastest] for t in slow}


ZEN4_TRIPLE, ZEN4_FEATURES = "x86_64-unknown-linux-gnu", "+avx2,+fma,+avx512f,+avx512bw,+avx512dq,+avx512vl"


@pytest.mark.parametrize("layer", [(1152, 7, 5, 1), (1152, 7, 3, 1), (672, 14, 5, 2), (960, 7, 3, 1),
                                   (576, 14, 3, 2)])
def test_rows_of_at_most_8_pixels_in_8_lane_vectors_are_priced_below_16_lane_ones_on_zen_4(layer):
    """One Zen 4 core, 8 lanes against 16 (`depthwise_vector`) ran these layers 0.75-0.88x: a ymm
    FMA takes half a zmm's slots there, so 7 of 8 lanes busy do a 16-lane vector's work in half
    its slots. On AVX2 both schedules are the same 8-lane one."""
    channels, size, k, stride = layer
    info = _depthwise(channels, size, k, stride)
    zen4 = CpuModel.for_machine(ZEN4_TRIPLE, ZEN4_FEATURES, "znver4")
    s = depthwise_schedule(info.type, k * k, 16)
    assert s["vec"] == 8
    wide = {**s, "vec": 16, "ow_block": s["ow_block"] * 2}
    assert depthwise_seconds(info, s, zen4) < depthwise_seconds(info, wide, zen4)
    full_rate = CpuModel.for_machine(ZEN4_TRIPLE, ZEN4_FEATURES, "sapphirerapids")
    assert depthwise_seconds(info, s, full_rate) >= depthwise_seconds(info, wide, full_rate)
    avx2 = CpuModel.for_machine(ZEN4_TRIPLE, "+avx2,+fma", "znver3")
    narrow = depthwise_schedule(info.type, k * k, 8)
    assert narrow["vec"] == 8 and vector_weight(8, 8, avx2.throughput_lanes) == 1.0
    assert depthwise_seconds(info, narrow, avx2) == depthwise_seconds(info, narrow, replace(avx2, throughput_lanes=4))
