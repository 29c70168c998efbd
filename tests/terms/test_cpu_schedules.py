"""Which contractions the LLVM backend's blocked path takes, and with which default schedule and work split."""

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from frittata.terms import builders as tb
from frittata.terms.cpu_geometry import (CACHE_LINE_BYTES, GEMM_ITEMS, GEMM_K_BLOCK_MAX, GEMM_ROW_GROUPS,
                                         gemm_item_sizes, gemm_items, gemm_k_block, gemm_mc, strided_tile_bytes)
from frittata.terms.cpu_schedules import (CHANNEL_GEMM_WIDE_VECTORS, PIXEL_GEMM_WIDE_VECTORS, blocked_schedule,
                                         channel_gemm_schedule, default_conv_schedule, default_dense_schedule,
                                         int8_conv_schedule, pixel_gemm_schedule)
from frittata.terms.depthwise_schedules import (DEPTHWISE_SPILL_ACCUMULATORS, DEPTHWISE_SPILL_ROWS,
                                                DEPTHWISE_STACKED_ROWS, DEPTHWISE_VECTORS, DEPTHWISE_WIDE_ROWS,
                                                depthwise_schedule)
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op


def f32(*shape: int) -> TensorType:
    return TensorType(shape, "float32")


def test_a_matmul_takes_the_blocked_path_with_matrix_or_batched_weights_only():
    """[M, K] x [K, N] and batched [B, M, K] x [B, K, N] are GEMMs (the default dense blocking
    of M x N); a vector right operand or a batch broadcast against unbatched weights is not."""
    lanes = 8
    assert blocked_schedule(Op.MATMUL, (), f32(20, 24), [f32(20, 16), f32(16, 24)], [False, True],
                            lanes) == default_dense_schedule(20, 24, 16, lanes)
    assert blocked_schedule(Op.MATMUL, (), f32(3, 20, 24), [f32(3, 20, 16), f32(3, 16, 24)], [False, False],
                            lanes) == default_dense_schedule(60, 24, 16, lanes)
    assert blocked_schedule(Op.MATMUL, (), f32(20), [f32(20, 16), f32(16)], [False, True], lanes) is None
    assert blocked_schedule(Op.MATMUL, (), f32(3, 20, 24), [f32(3, 20, 16), f32(1, 16, 24)], [False, True],
                            lanes) is None


@given(m=st.integers(1, 2000), panels=st.integers(1, 80), mr=st.integers(1, 12))
def test_a_threaded_gemms_items_cover_its_rows_and_panels_once(m, panels, mr):
    """The items of a GEMM split "n" (row groups of whole MC blocks times panel groups, as the
    kernel bounds them) add up to every row of every panel, none empty, at most GEMM_ITEMS-ish
    (GEMM_ROW_GROUPS x ceil(GEMM_ITEMS / row groups))."""
    row_groups, panel_groups = gemm_items(m, panels, mr)
    sizes = gemm_item_sizes(m, panels, mr)
    assert len(sizes) == row_groups * panel_groups <= GEMM_ITEMS + GEMM_ROW_GROUPS
    assert sum(sizes) == m * panels
    assert all(size > 0 for size in sizes)
    assert row_groups <= -(-m // gemm_mc(mr)) and panel_groups <= panels


@given(st.integers(1, 5 * GEMM_K_BLOCK_MAX))
def test_a_gemms_k_blocks_are_as_few_and_even_as_the_cap_allows(k):
    """K in one block up to GEMM_K_BLOCK_MAX steps; deeper, the fewest blocks within the cap,
    of ceil(K / blocks) steps, so the last is short by fewer steps than there are blocks."""
    kc = gemm_k_block(k)
    blocks = -(-k // kc)
    assert 1 <= kc <= GEMM_K_BLOCK_MAX and gemm_k_block(0) == 1
    assert kc == k if k <= GEMM_K_BLOCK_MAX else blocks == -(-k // GEMM_K_BLOCK_MAX)
    assert k - (blocks - 1) * kc > kc - blocks


def test_the_default_dense_schedule_takes_the_capped_k_block():
    """The dense default's k_block is `gemm_k_block`'s: K = 1000 in two blocks of 500, 5000 in ten
    of 500; K = 64 in one."""
    assert [default_dense_schedule(64, 64, k, 8)["k_block"] for k in (64, 1000, 5000)] == [64, 500, 500]


def test_strided_tile_bytes_counts_the_column_phases_and_reach_of_a_dilated_window():
    """3x3 stride 2: undilated, taps 0, 1, 2 fall in two column phases with a reach of 1; with
    dilation 2 all three fall in phase 0 (columns 0, 2, 4) with a reach of 2: one phase's lines.
    A row of 16 taps plus its reach is 17 or 18 floats: two lines, three with the mid-line start."""
    assert strided_tile_bytes(3, 3, 2, 16) == 3 * 2 * 3 * CACHE_LINE_BYTES
    assert strided_tile_bytes(3, 3, 2, 16, dw=2) == 3 * 1 * 3 * CACHE_LINE_BYTES


def test_the_depthwise_schedule_covers_a_row_with_up_to_four_vectors_or_stacks_rows_of_one():
    """A row wider than one vector gets up to `DEPTHWISE_VECTORS` vectors of it (3x3: one row per
    tile, `DEPTHWISE_WIDE_ROWS` where the row holds more than one tile); a row that fits one
    vector gets that many rows instead; tails are the remainders, and the depthwise form of
    `tiled_conv2d` accepts each schedule."""
    def schedule(oh: int, ow: int, lanes: int) -> dict:
        return depthwise_schedule(f32(1, 6, oh, ow), 9, lanes)

    assert schedule(14, 14, 8) == {"kernel": "depthwise", "vec": 8, "oh_block": 1, "oh_tail": 0,
                                   "ow_block": 16, "ow_tail": 14, "parallel": "channel"}
    wide, narrow = schedule(56, 56, 8), schedule(7, 7, 8)
    assert (wide["ow_block"], wide["oh_block"]) == (8 * DEPTHWISE_VECTORS, DEPTHWISE_WIDE_ROWS)
    assert schedule(28, 28, 8)["oh_block"] == 1  # one tile per row: one row
    assert schedule(56, 56, 16)["oh_block"] == DEPTHWISE_STACKED_ROWS  # AVX-512: two rows of 4 vectors
    assert schedule(28, 28, 16)["oh_block"] == DEPTHWISE_STACKED_ROWS
    assert schedule(14, 14, 16)["oh_block"] == DEPTHWISE_VECTORS  # 3x3 in one vector: 4 rows
    assert (narrow["ow_block"], narrow["oh_block"], narrow["oh_tail"]) == (8, 4, 3)
    assert schedule(7, 7, 16) == narrow  # AVX-512: half-width vectors for a row of at most 8
    assert (schedule(9, 9, 16)["vec"], schedule(9, 9, 4)["vec"]) == (16, 4)
    assert (schedule(3, 5, 16)["oh_block"], schedule(3, 5, 16)["oh_tail"]) == (3, 0)
    w, b = tb.param("w", np.zeros((6, 1, 3, 3), np.float32)), tb.var("b", (6,))
    keys = ("vec", "oh_block", "oh_tail", "ow_block", "ow_tail", "parallel")
    for (oh, ow), lanes in itertools.product([(14, 14), (56, 56), (7, 7), (3, 5)], (4, 8, 16)):
        pairs = tuple((k, schedule(oh, ow, lanes)[k]) for k in keys)
        conv = tb.tiled_conv2d(tb.var("x", (1, 6, oh, ow)), w, b, pads=(1, 1, 1, 1), groups=6, schedule=pairs)
        assert conv.shape == (1, 6, oh, ow)


def test_a_depthwise_schedule_whose_weights_spill_stacks_rows_of_its_vectors():
    """5x5 or 7x7 weights, one row's accumulators and a tap overflow AVX2's 16 vector registers:
    rows of NV vectors make DEPTHWISE_SPILL_ACCUMULATORS accumulators, at most
    DEPTHWISE_SPILL_ROWS rows (no more rows than the output has). With AVX-512's 32, tiles of
    DEPTHWISE_STACKED_ROWS rows, of one vector too on outputs of more than 8 rows (4 rows on
    smaller ones)."""
    def rows(oh: int, ow: int, lanes: int, taps: int = 25) -> tuple[int, int]:
        s = depthwise_schedule(f32(1, 6, oh, ow), taps, lanes)
        return s["oh_block"], s["ow_block"] // lanes

    assert (DEPTHWISE_SPILL_ACCUMULATORS, DEPTHWISE_SPILL_ROWS) == (8, 2)
    assert rows(28, 28, 8) == (2, 4)
    assert rows(14, 14, 8) == (2, 2)
    assert rows(20, 20, 8) == (2, 3)
    assert rows(1, 28, 8) == (1, 4)
    assert rows(7, 7, 8) == (4, 1)
    assert rows(28, 28, 16) == (2, 2)
    assert rows(56, 56, 16) == (2, 4)
    assert rows(14, 14, 16) == (2, 1)
    assert rows(1, 28, 16) == (1, 2)
    assert rows(56, 56, 8, taps=49) == (2, 4)
    assert rows(56, 56, 16, taps=49) == (2, 4)
    assert depthwise_schedule(f32(1, 6, 7, 7), 49, 16)["oh_block"] == 4


def test_an_avx512_one_vector_depthwise_tile_of_more_than_9_taps_stacks_2_rows_past_8_output_rows():
    """With 16 lanes a tile of one vector takes DEPTHWISE_STACKED_ROWS rows for a 5x5 or 7x7
    kernel on an output of more than 2 x DEPTHWISE_VECTORS = 8 rows, DEPTHWISE_VECTORS rows on 8
    or fewer and for a 3x3 kernel (9 taps) whatever the output."""
    def rows(oh: int, ow: int, taps: int) -> tuple[int, int]:
        s = depthwise_schedule(f32(1, 6, oh, ow), taps, 16)
        return s["oh_block"], s["ow_block"] // 16

    assert 2 * DEPTHWISE_VECTORS == 8
    for taps in (25, 49):
        assert rows(9, 14, taps) == (DEPTHWISE_STACKED_ROWS, 1)
        assert rows(8, 14, taps) == (DEPTHWISE_VECTORS, 1)
        assert rows(14, 16, taps) == (DEPTHWISE_STACKED_ROWS, 1)
        assert rows(28, 12, taps) == (DEPTHWISE_STACKED_ROWS, 1)
    assert rows(9, 14, 9) == rows(14, 14, 9) == (DEPTHWISE_VECTORS, 1)
    assert rows(9, 14, 10) == (DEPTHWISE_STACKED_ROWS, 1)


def test_a_grouped_convolution_blocks_its_outputs_by_a_divisor_of_the_group():
    """Blocks of a divisor of the group's outputs, when one is at least half the register block,
    so no group has a tail block: RegNetY's 8 per group run as 2 x 4 with two vectors, 1 x 8
    with one; a group without such a divisor keeps the register block and its tail."""
    def schedule(c: int, o: int, groups: int, size: int) -> dict:
        x, w, out = f32(1, c, size, size), f32(o, c // groups, 3, 3), f32(1, o, size, size)
        attrs = {"strides": (1, 1), "pads": (1, 1, 1, 1), "dilations": (1, 1), "groups": groups}
        return default_conv_schedule(x, w, out, attrs, 8)

    assert (schedule(104, 104, 13, 28)["oc_block"], schedule(104, 104, 13, 28)["oc_tail"]) == (4, 0)
    assert (schedule(48, 48, 6, 7)["oc_block"], schedule(48, 48, 6, 7)["oc_tail"]) == (8, 0)
    assert (schedule(14, 14, 2, 28)["oc_block"], schedule(14, 14, 2, 28)["oc_tail"]) == (6, 1)
    assert schedule(64, 64, 1, 28)["oc_block"] == 6


def test_a_convolution_takes_one_vector_where_two_pad_more():
    """With AVX-512's 32 vector registers a convolution tiles one vector of pixels, MR 24 (a
    group's divisor if grouped), where one vector computes fewer columns (112 against 128: the
    stems, 3x3 at 112x112; a pointwise one's row is the whole image: 176 against 192 at 13x13,
    784 against 800 at 28x28); else, many taps too (`row_vectors`: the kernel rows a loop, two
    vectors spill no more), and any on AVX2, two vectors where the row is wider."""
    def blocks(c: int, o: int, k: tuple[int, int], stride: int, size: int, lanes: int,
               groups: int = 1) -> tuple[int, int]:
        out = -(-size // stride)
        x, w, y = f32(1, c, size, size), f32(o, c // groups, *k), f32(1, o, out, out)
        pads = (k[0] // 2, k[1] // 2, (k[0] - 1) // 2, (k[1] - 1) // 2)
        attrs = {"strides": (stride, stride), "pads": pads, "dilations": (1, 1), "groups": groups}
        s = default_conv_schedule(x, w, y, attrs, lanes)
        return s["oc_block"], s["ow_block"] // lanes

    assert blocks(3, 64, (7, 7), 2, 224, 16) == (24, 1)
    assert blocks(3, 32, (3, 3), 2, 224, 16) == (24, 1)
    assert blocks(32, 64, (3, 3), 1, 112, 16) == (24, 1)
    assert blocks(3, 96, (7, 7), 2, 224, 16) == (24, 1)
    assert blocks(3, 64, (7, 7), 2, 256, 16) == (12, 2)
    assert blocks(64, 64, (5, 5), 1, 28, 16) == blocks(64, 64, (3, 4), 1, 28, 16) == (12, 2)
    assert blocks(64, 64, (7, 7), 1, 28, 16) == (12, 2)
    assert blocks(64, 64, (3, 3), 1, 56, 16) == blocks(64, 64, (1, 11), 1, 28, 16) == (12, 2)
    assert blocks(3, 64, (7, 7), 2, 224, 8) == (6, 2)
    assert blocks(64, 64, (1, 1), 1, 56, 16) == blocks(256, 32, (1, 1), 1, 27, 16) == (12, 2)
    assert blocks(512, 1000, (1, 1), 1, 13, 16) == blocks(256, 256, (1, 1), 1, 14, 16) == (24, 1)
    assert blocks(32, 192, (1, 1), 1, 28, 16) == blocks(192, 32, (1, 1), 1, 28, 16) == (24, 1)
    assert blocks(512, 1000, (1, 1), 1, 13, 8) == (6, 2)
    assert blocks(104, 104, (3, 3), 1, 28, 16, groups=13) == (8, 2)
    assert blocks(104, 104, (5, 5), 1, 28, 16, groups=13) == (8, 2)
    assert blocks(128, 128, (5, 5), 1, 28, 16, groups=2) == (8, 2)
    assert blocks(96, 96, (3, 3), 1, 112, 16, groups=2) == (24, 1)


def test_the_channel_gemm_takes_panels_of_one_vector_with_32_registers():
    """ResNet-50's 256 -> 1024 at 14x14: panels of CHANNEL_GEMM_WIDE_VECTORS vector of pixels
    (13 of 16 for 196 pixels) with AVX-512's 32 registers, of two with AVX2's 16; MR 8 and 6."""
    out, w = f32(1, 1024, 14, 14), f32(1024, 256, 1, 1)
    wide, narrow = channel_gemm_schedule(out, w, 16), channel_gemm_schedule(out, w, 8)
    assert CHANNEL_GEMM_WIDE_VECTORS == 1
    assert (wide["m_block"], wide["n_block"], wide["n_tail"]) == (8, 16, 196 % 16)
    assert (narrow["m_block"], narrow["n_block"], narrow["n_tail"]) == (6, 16, 196 % 16)


def test_the_pixel_gemm_takes_panels_of_one_vector_where_they_pad_fewer_channels():
    """With AVX-512's 32 registers GoogLeNet's 512 -> 112 at 14x14 takes panels of
    PIXEL_GEMM_WIDE_VECTORS vector (112 channels, not 128) and up to 24 rows; 64 or 96 channels
    keep two vectors of 12 rows; AVX2 keeps two vectors of 6 rows. 49 pixels: 2 x 22 + 5 rows."""
    def blocks(channels: int, size: int, lanes: int) -> tuple[int, int]:
        s = pixel_gemm_schedule(f32(1, channels, size, size), lanes)
        return s["m_block"], s["n_block"] // lanes

    assert PIXEL_GEMM_WIDE_VECTORS == 1
    assert blocks(112, 14, 16) == (24, 1)
    assert blocks(48, 7, 16) == (22, 1)
    assert blocks(64, 14, 16) == (12, 2)
    assert blocks(96, 14, 16) == (12, 2)
    assert blocks(112, 14, 8) == (6, 2)


def test_the_int8_kernel_takes_half_width_vectors_by_the_row_it_runs():
    """8-lane tiles on a 16-lane machine for a row of at most 8 pixels: the output's row, or a
    pointwise convolution's one row of all its pixels (49 at 7x7: 16 lanes)."""
    def vec(kernel: int, side: int, lanes: int) -> int:
        out = TensorType((1, 32, side, side), "int32")
        operands = (TensorType((1, 16, side, side), "int8"), TensorType((32, 16, kernel, kernel), "int8"))
        attrs = {"groups": 1, "strides": (1, 1), "pads": (kernel // 2,) * 4, "dilations": (1, 1)}
        schedule = int8_conv_schedule(out, operands, attrs, (False, True, True), lanes)
        assert schedule is not None
        return schedule["vec"]

    assert (vec(3, 7, 16), vec(3, 9, 16), vec(3, 7, 8)) == (8, 16, 8)
    assert (vec(1, 7, 16), vec(1, 2, 16), vec(1, 7, 8)) == (16, 8, 8)
