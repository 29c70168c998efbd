"""Which CPU kernel runs a contraction, and with which loop schedule: one decision, two readers.

It lives with the terms (beside the schedule vocabulary of `tiled`) because both the CPU cost
model and the LLVM backend read it, and a saved module loads without the compiler's stages.
The LLVM backend runs a float32 contraction on its register-blocked GEMM / direct-convolution
path when this module gives it a schedule, and on generic loop nests otherwise; the CPU cost
model prices the same schedule (`schedule_cost`), or the generic loops, so the extractor sees
what the backend will do. The schedule is a `tiled_*` term's own; an untiled contraction gets
the default below. A contraction takes the blocked path when

  * the target has vectors of at least 4 fp32 lanes (SSE, NEON, AVX2, AVX-512), and every operand
    and the result are float32;
  * its epilogue steps are ones a float register block applies (add, relu, clip);
  * dense / fused_dense / tiled_dense: the bias is a compile-time constant; the weights are packed
    into panels at compile time when constant, by each thread at run time otherwise (training);
  * matmul: the right operand is a matrix (packed at compile time when constant, by each thread
    at run time otherwise), or a batch of matrices with the left operand's batch axes
    (attention: one blocked GEMM per batch item);
  * conv2d / fused_conv2d / tiled_conv2d: the bias a compile-time constant, the weights packed at
    compile time when constant, by the kernel at run time otherwise; a grouped
    convolution with several input channels per group runs the blocked loops once per group;
  * conv2d / fused_conv2d / tiled_conv2d with one input channel per group (depthwise, groups =
    C > 1, any channel multiplier O / C): the vectorized depthwise kernel (`depthwise_schedule`,
    or the tiled op's own), weights and bias constant or not;
  * conv2d / fused_conv2d of int8 x int8 with one group, constant weights and bias, and an
    integer epilogue (`int8_schedules.INT_STEPS`; a cast only as the last step, to an
    `int8_schedules.INT8_OUTPUTS` dtype):
    the int8 kernel (`int8_conv_schedule`; int16 pairs into int32 lanes, exact);
  * winograd_conv2d: the Winograd kernel (`winograd_schedule`) when its weights and bias are
    compile-time constants (the weight transform is done at compile time), else the generic loops.

`constant[i]` says operand i is a compile-time constant: a constant e-class for the cost model
(folded into a parameter before the backend runs), a parameter for the backend.

Default schedules (the tiled vocabulary of `frittata.terms.tiled`, tails included):
  dense, matmul  MR x 2 vectors: MR = 8 rows with 32 vector registers (16 lanes), 6 with 16;
                 K in one block up to `GEMM_K_BLOCK_MAX` steps (`gemm_k_block`); threads split
                 the column panels.
  conv2d         (per group) one vector of pixels when the output row fits in it, else two, even
                 where two pad the row more (6 x 2 vectors ran 3x3 64 -> 64 at 56x56 in 2.95 ms,
                 12 x 1 in 3.42; a `pointwise` convolution's row is the whole image), but one
                 with 32 vector registers where two pad the row more (`row_vectors`); MR = 12
                 output channels with one vector, 6 with two, doubled with 32 vector registers;
                 as many input channels per block as keep one tile's weights in
                 `WEIGHT_BLOCK_BYTES`; threads split the output-channel blocks when the weights
                 outweigh the padded input (they then stay in cache), else the pixel tiles.
                 A strided one with more than one tap splits items of pixel tiles
                 (`pixel_item_tiles`) with channel blocks whose tile input rows fill L1
                 (`strided_tile_bytes`), unless its weights swept once per item outweigh its
                 input swept once per output-channel block (one Zen 3 core, ResNet-50's 3x3
                 stride-2 128 -> 128 at 56x56 and 256 -> 256 at 28x28: ~1.2x faster than the
                 split the rule above chose, single-tile items and output-channel blocks, with
                 blocks of 75 channels; 512 -> 512 at 14x14, 7 tiles, keeps its output-channel
                 blocks). A 1x1 tile reads one input row per channel, strided or not.
  strided        (`takes_lanes_conv`: a stride above 1, several taps, a reduction of at least
                 `LANES_MIN_DEPTH` steps, constant weights) the channels-in-lanes kernel of
                 `lanes_conv_schedule`: `block_rows` output pixels by ROW_VECTORS vectors of
                 output channels per register block, each input float broadcast against the
                 weight vectors, so the stride costs nothing (one Zen 3 core, CPU time, one
                 process, loaded: ResNet-50's 3x3 stride-2 128 -> 128 from 56x56 0.77x the
                 phase-split direct kernel's time, 256 -> 256 from 28x28 0.87x). Its schedule
                 says so: `"kernel": "lanes_conv"`.
  pointwise      (small images: `takes_pixel_gemm`) the pixel GEMM of `pixel_gemm_schedule`: the
                 output pixels are the GEMM's rows, MR to a block, the output channels its
                 columns (panels of 2 vectors, of 1 with 32 vector registers where that pads
                 fewer channels); threads split the panels. Its schedule says so:
                 `"kernel": "pixel_gemm"`. A pointwise `tiled_conv2d` whose schedule spells the
                 pixel GEMM's blocks (`tiled.PIXEL_GEMM_KEYS`) runs it too, at any image size,
                 when its weights are constant (else the generic loops).
                 (expanding: `takes_channel_gemm`) the channel GEMM of `channel_gemm_schedule`:
                 the weights times each image's input, the output channels the GEMM's rows (MR
                 to a block), the pixels its columns (the input packed into panels of 2 vectors,
                 1 with 32 vector registers, at run time); dense's blocking, threads take items
                 of row groups x panels. Its
                 schedule says so: `"kernel": "channel_gemm"`. A pointwise `tiled_conv2d` whose
                 schedule spells its blocks (`tiled.CHANNEL_GEMM_KEYS`) runs it too, at any
                 size, when its weights are constant (else the generic loops).
  depthwise      tiles of up to `DEPTHWISE_VECTORS` vectors of pixels of one output row (of two
                 where a 3x3 row holds more tiles or the weights spill AVX2's 16 registers, and
                 with AVX-512 wherever the tile has two or more vectors), or of
                 `DEPTHWISE_VECTORS` rows of one vector (two for a larger kernel on a larger
                 plane with AVX-512; a `tiled_conv2d` with groups = C says its own); threads
                 split the input channels. `"kernel": "depthwise"`.
  bit-serial     `frittata.terms.bitserial_schedules` (its own kernels and schedules).
  winograd       when the transformed weights U outweigh the transformed input V of an image
                 (few tiles, many channels: ResNet's 3x3 layers from 28x28 on): all tiles in one
                 block and the output channels in up to `WINOGRAD_MIN_ITEMS` groups of whole
                 panels (of `WINOGRAD_ITEM_OUTPUTS` tiles x channels at least), so U is read
                 once and the threads split it (every block re-reads all of U: one block ran
                 128 channels at 28x28 in 0.83 ms, seven in 1.12 ms, one thread); else one
                 group and as few blocks of output tiles as keep a block's transformed inputs
                 and products in `WINOGRAD_BLOCK_BYTES`, at least `WINOGRAD_MIN_ITEMS` when the
                 image has that many micro-tiles of MR tiles (a smaller block's GEMM computes MR
                 rows anyway), the tiles shared evenly in whole MR-row micro-tiles where that
                 computes fewer rows (`winograd_tile_block`; the last block's spare tiles are
                 computed and dropped: 24 tiles per block for 49 ran 20% slower than 25); the
                 GEMMs over a block as dense's (MR x 2 vectors, K blocks of 256); threads split
                 the (block, group) items. Its schedule says so: `"kernel": "winograd"`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast, get_args

from frittata.terms.cpu_geometry import (FLOAT_BYTES, FMA_CHAIN_ROWS, L1_DATA_BYTES,
                                         ROW_VECTORS, block_rows, gemm_k_block, padded_plane,
                                         pixel_item_tiles, pixel_rows, pointwise, registers_for, round_up,
                                         strided_tile_bytes)
from frittata.terms.depthwise_schedules import depthwise_schedule
from frittata.terms.dtypes import TensorType
from frittata.terms.int8_schedules import int8_conv_schedule, int8_winograd_schedule
from frittata.terms.ops import Op
from frittata.terms.schedule_kinds import (BLOCKED, CHANNEL_GEMM, DEPTHWISE, INT8, LANES_CONV,
                                           PIXEL_GEMM, WINOGRAD, BlockedKernel, Schedule)
from frittata.terms.winograd import block_count, tile_count


FLOAT_STEPS = frozenset({"add", "relu", "clip", "sigmoid", "silu", "hard_swish"})
"""Epilogue steps the blocked float paths apply in registers (no shift, no cast)."""
DEFAULT_K_BLOCK = 256
"""Reduction depth of one cache block of the Winograd kernel's GEMMs over channels (GotoBLAS's KC
for a 32 KiB L1d; the dense GEMM's blocks are `gemm_k_block`'s)."""
WEIGHT_BLOCK_BYTES = 16 * 1024
"""Weights of one convolution tile's channel block: half of a 32 KiB L1d (Zen 3), the other
half for the input stream and the output tile (the BLIS convention)."""

LANES_ITEM_PIXELS = 64
"""Output pixels per work item of the channels-in-lanes kernel (whole tiles): 5 to 22 tiles of
6 ran ResNet-50's 3x3 stride-2 128 -> 128 from 56x56 within 2% of each other (one Zen 3 core)."""
LANES_MIN_DEPTH = 256
"""Reduction steps (input channels x taps) at least for the channels-in-lanes kernel: its tile
stores NB x NP outputs one float at a time, the cost of about L reduction steps. One Zen 3 core,
CPU time, one process against onnxruntime, loaded: 3x3 stride 2 from 56x56 32 -> 64 (288 steps)
1.02x against the phase-split kernel's 1.26x, 16 -> 32 (144) 1.09x against 1.14x; the stems
3 -> 32 3x3 (27) 1.27x against 1.00x and 3 -> 64 7x7 (147) 1.05x against 0.93x. A rule, not a
cost: the store priced at L reduction steps per tile (as `pixel_gemm_seconds` prices the pixel
GEMM's) models the 3 -> 32 stem at 0.87x the phase-split kernel's time, not the 1.27x measured,
and the two 144-147 step layers differ in sign; `lanes_conv_seconds` leaves the store out."""

PIXEL_GEMM_WIDE_VECTORS = 1
"""Vectors of output channels per panel of the pixel GEMM with 32 vector registers (AVX-512),
up to 24 rows, where panels of one vector pad fewer output channels than panels of two (112 or
48 channels; not 64 or 96). AMD EPYC znver4, one thread, CPU time, one process interleaved with
onnxruntime, loaded (load 12-18), with bias and ReLU, 24 x 1 over 12 x 2: GoogLeNet's 512 -> 112
at 14x14 0.86 (0.226 against onnxruntime's 0.220 ms), 832 -> 48 at 7x7 (22 x 1) 0.86. Where two
pad nothing one was no better in the whole model (ResNet-50's 512 -> 128 at 28x28 0.99 and 1024
-> 256 at 14x14 1.01 alone, MobileNetV2's 576 -> 96 at 14x14 1.03; GoogLeNet 1.010 and
MobileNetV2 1.024 the time with one vector everywhere, CPU time, load 20)."""
PIXEL_GEMM_PIXELS = 8 * 8
"""Output pixels of a pointwise convolution at most for the pixel GEMM (any channel counts)."""
PIXEL_GEMM_NARROWING_CHANNELS = 256
"""Input channels at least for the pixel GEMM up to PIXEL_GEMM_NARROWING_PIXELS: at 14x14,
192 -> 64 ran 82 us against the direct kernel's 78 (few channels amortize the packing less)."""
PIXEL_GEMM_NARROWING_PIXELS = 14 * 14
"""Output pixels at most for the pixel GEMM when the convolution narrows the channels (O < C)
from at least PIXEL_GEMM_NARROWING_CHANNELS. One thread, AMD EPYC znver3 (CPU time, shared machine), pixel GEMM
against the direct kernel: 7x7 160 -> 960 198 / 251 us, 960 -> 160 206 / 278, 320 -> 1280
475 / 645; 14x14 1024 -> 256 1587 / 2539, 384 -> 96 221 / 237, 384 -> 64 139 / 148, 576 -> 96
296 / 322; but 14x14 64 -> 384 155 / 135, 96 -> 576 304 / 291, 256 -> 1024 1464 / 1420,
192 -> 64 82 / 78 (fewer channels amortize the packing and the transposed store less), and
28x28 192 -> 32 160 / 141, 56x56 144 -> 24 674 / 348 (the direct kernel's pixel vectors win)."""
PIXEL_GEMM_DEEP_CHANNELS = 512
"""Input channels at least for the pixel GEMM up to PIXEL_GEMM_DEEP_PIXELS when the convolution
narrows the channels: a deep reduction amortizes the packing and the transposed store."""
PIXEL_GEMM_DEEP_PIXELS = 28 * 28
"""Output pixels at most for the pixel GEMM when the convolution narrows the channels from at
least PIXEL_GEMM_DEEP_CHANNELS. One thread, AMD EPYC znver3, CPU time, one process, 15 rounds
interleaved, loaded (load 6): 28x28 512 -> 128 1.96 / 2.31 ms, 512 -> 256 3.15 / 3.37, and
1152 -> 128 (ResNet-50's 3x3 stride-2 128 -> 128 from 56x56 through im2col) 3.80 / 4.77; but
56x56 256 -> 64 1.86 / 1.69 and 256 -> 128 3.81 / 3.64 (fewer channels, more pixels: direct)."""
CHANNEL_GEMM_EXPANSION = 4
"""Output channels per input channel at least for the channel GEMM of a pointwise convolution
(`takes_channel_gemm`). One Zen 3 core, CPU time, one process, interleaved, loaded (load 6-10),
with bias and ReLU, the channel GEMM's time over the direct kernel's: ResNet-50's 64 -> 256 at
56x56 0.91, 128 -> 512 at 28x28 0.99, 256 -> 1024 at 14x14 0.88 (with its residual; 0.91
without); with a residual, the 2x expansions 64 -> 128 at 56x56 0.92 but 256 -> 512 at 28x28
1.01 and 128 -> 256 at 28x28 1.04; as plain GEMMs of the same sizes against the direct kernel,
128 -> 128 at 28x28 ~1.08 and narrowing 256 -> 64 at 56x56 ~1.1 (the direct kernel reads a
narrower output's input rows longer; the pixel GEMM takes the other narrowing layers)."""
CHANNEL_GEMM_SMALL_PIXELS = 14 * 14
"""Output pixels at most for the channel GEMM to take `CHANNEL_GEMM_SMALL_EXPANSION`: the direct
kernel's tiles of a 14x14 image read rows of 196 floats in place (same setting: 512 -> 1024 at
14x14 with a residual, ResNet-50's stride-2 downsampling layer once sliced, 0.83; 256 -> 256 as a
plain GEMM ~0.94)."""
CHANNEL_GEMM_SMALL_EXPANSION = 2
"""Output channels per input channel at least for the channel GEMM up to CHANNEL_GEMM_SMALL_PIXELS."""
CHANNEL_GEMM_WIDE_VECTORS = 1
"""Vectors of pixels per panel of the channel GEMM with 32 vector registers (AVX-512), MR 8
rows: one vector wastes less of a 14x14 image's last panel (196 pixels in 13 panels of 16, not
7 of 32) and ran faster even where neither wastes any. AMD EPYC znver4, one thread, CPU time,
one process interleaved with onnxruntime, loaded (load 6-12), with bias and ReLU, 8 x 1 over
8 x 2 vectors: ResNet-50's 256 -> 1024 at 14x14 0.91-0.92 (onnxruntime 0.99 of 8 x 1's time),
512 -> 1024 at 14x14 0.93, 128 -> 512 at 28x28 0.96, 64 -> 256 at 56x56 0.95; 8 x 3 1.05-1.08,
16 x 1 and 24 x 1 between. (A plain matmul 1024 ran 8 x 1 as fast as 8 x 2; its rows of A, 4 KiB
apart, alias in L1 beyond 8 rows: 12 x 1 ran 1.3x slower, 16 x 1 2x.)"""
CHANNEL_GEMM_MIN_CHANNELS = 64
"""Input channels at least for the channel GEMM: a shallower reduction leaves a register block's
call, its epilogue and the packing less to amortize (same setting: MobileNetV2's 16 -> 96 at
112x112 1.04, 24 -> 144 at 56x56 1.13, 32 -> 192 at 28x28 1.0; 64 -> 384 at 14x14 ~0.96 and
96 -> 576 ~1.0, as plain GEMMs)."""
WINOGRAD_BLOCK_BYTES = 256 * 1024
"""A Winograd tile block's transformed inputs and products: half of a 512 KiB L2 (Zen 3), so
they stay in L2 from the input transform through the GEMMs to the output transform."""
WINOGRAD_MIN_ITEMS = 16
"""(Tile block, output-channel group) items per image at least, when it has that many MR-tile
blocks (or panels; groups stop at WINOGRAD_ITEM_OUTPUTS: ResNet-18's F(4x4) layers get 8 at 14x14,
4 at 7x7): 8 for each of 2 threads, so a descheduled thread holding one holds up a sixteenth of the
layer, not a quarter (4 items: ResNet-18's 3x3 layers at 28x28 and below)."""
WINOGRAD_ITEM_OUTPUTS = 512
"""Tiles x output channels of one group's GEMMs at least (one block): 256 channels at 14x14 in 16
groups of 16 channels (16 x 16) ran 8% slower than in 4 (one thread, Zen 3); 16 tiles x 32 and
49 x 16 ran as fast as 4 groups."""

DENSE_OPS = frozenset({Op.DENSE, Op.FUSED_DENSE, Op.TILED_DENSE})
CONV_OPS = frozenset({Op.CONV2D, Op.FUSED_CONV2D, Op.TILED_CONV2D})
EPILOGUE_OPS = frozenset({Op.FUSED_DENSE, Op.FUSED_CONV2D, Op.TILED_DENSE, Op.TILED_CONV2D})
TILED_OPS = frozenset({Op.TILED_DENSE, Op.TILED_CONV2D})


def blocked_schedule(op: Op, attrs: Sequence[tuple[str, Any]], out: TensorType, operands: Sequence[TensorType],
                     constant: Sequence[bool], lanes: int) -> Schedule | None:
    """The schedule the blocked path runs this contraction with, or None for the generic loops."""
    values = dict(attrs)
    if op in (Op.CONV2D, Op.FUSED_CONV2D) and len(operands) >= 2 and operands[0].dtype == operands[1].dtype == "int8":
        return int8_conv_schedule(out, operands, values, constant, lanes)
    if op == Op.WINOGRAD_CONV2D and operands and operands[0].dtype == "int8":
        return int8_winograd_schedule(out, operands, values, constant, lanes)
    if lanes < 4 or out.dtype != "float32" or any(t.dtype != "float32" for t in operands):
        return None
    if op in EPILOGUE_OPS and any(step[0] not in FLOAT_STEPS for step in values["epilogue"]):
        return None
    if op in CONV_OPS and 1 < values.get("groups", 1) == operands[0].shape[1]:
        return {"kernel": DEPTHWISE, **dict(values["schedule"])} if op in TILED_OPS else depthwise_schedule(
            out, math.prod(operands[1].shape[2:]), lanes)
    if op == Op.WINOGRAD_CONV2D:
        return winograd_schedule(operands[0], out, values, lanes) if all(constant[1:3]) else None
    if op in CONV_OPS or op in DENSE_OPS:
        if not all(constant[2:3]):
            return None
    elif op == Op.MATMUL:
        a, b = operands
        if b.rank < 2 or (b.rank > 2 and not a.shape[:-2] == b.shape[:-2] == out.shape[:-2]):
            return None
    else:
        return None
    if op in TILED_OPS:
        tiled = dict(values["schedule"])
        if "m_block" in tiled and op == Op.TILED_CONV2D:
            kernel = CHANNEL_GEMM if "k_block" in tiled else PIXEL_GEMM
            return {"kernel": kernel, **tiled} if constant[1] else None
        return tiled
    if op in CONV_OPS:
        if takes_pixel_gemm(operands[1], out, values, constant[1]):
            return pixel_gemm_schedule(out, lanes)
        if takes_channel_gemm(operands[1], out, values, constant[1]):
            return channel_gemm_schedule(out, operands[1], lanes)
        if takes_lanes_conv(operands[1], values, constant[1]):
            return lanes_conv_schedule(operands[1], lanes)
        return default_conv_schedule(operands[0], operands[1], out, values, lanes)
    n = out.shape[-1]
    return default_dense_schedule(out.size // n if n else 0, n, operands[0].shape[-1], lanes)


def default_dense_schedule(m: int, n: int, k: int, lanes: int) -> Schedule:
    """The default blocking of an [M, K] x [K, N] GEMM (see the module docstring)."""
    mr, nr = (8 if lanes >= 16 else 6), 2 * lanes
    return {"vec": lanes, "m_block": mr, "m_tail": m % mr, "n_block": nr, "n_tail": n % nr,
            "k_block": gemm_k_block(k), "parallel": "n"}


def takes_pixel_gemm(w: TensorType, out: TensorType, attrs: dict[str, Any], constant_weights: bool) -> bool:
    """Whether an untiled convolution runs the pixel GEMM (`pixel_gemm_schedule`): one group, a
    `pointwise` kernel, constant weights, and at most `PIXEL_GEMM_PIXELS` output pixels, or,
    when it has fewer output channels than input channels, at most
    `PIXEL_GEMM_NARROWING_PIXELS` from `PIXEL_GEMM_NARROWING_CHANNELS` input channels on and at
    most `PIXEL_GEMM_DEEP_PIXELS` from `PIXEL_GEMM_DEEP_CHANNELS` on."""
    if attrs.get("groups", 1) != 1 or not pointwise(w.shape[2:], attrs) or not constant_weights:
        return False
    pixels, (o, c) = out.shape[2] * out.shape[3], w.shape[:2]
    if pixels <= PIXEL_GEMM_PIXELS:
        return True
    if o >= c:
        return False
    return ((c >= PIXEL_GEMM_NARROWING_CHANNELS and pixels <= PIXEL_GEMM_NARROWING_PIXELS)
            or (c >= PIXEL_GEMM_DEEP_CHANNELS and pixels <= PIXEL_GEMM_DEEP_PIXELS))


def takes_channel_gemm(w: TensorType, out: TensorType, attrs: dict[str, Any], constant_weights: bool) -> bool:
    """Whether an untiled convolution runs the channel GEMM (`channel_gemm_schedule`): one group,
    a `pointwise` kernel, constant weights, more than `PIXEL_GEMM_PIXELS` output pixels (fewer
    take the pixel GEMM), at least `CHANNEL_GEMM_MIN_CHANNELS` input channels and at least
    `CHANNEL_GEMM_EXPANSION` times as many output channels (`CHANNEL_GEMM_SMALL_EXPANSION` up to
    `CHANNEL_GEMM_SMALL_PIXELS` pixels)."""
    (o, c), pixels = w.shape[:2], out.shape[2] * out.shape[3]
    expansion = CHANNEL_GEMM_SMALL_EXPANSION if pixels <= CHANNEL_GEMM_SMALL_PIXELS else CHANNEL_GEMM_EXPANSION
    return (attrs.get("groups", 1) == 1 and pointwise(w.shape[2:], attrs) and constant_weights
            and pixels > PIXEL_GEMM_PIXELS and c >= CHANNEL_GEMM_MIN_CHANNELS and o >= expansion * c)


def channel_gemm_schedule(out: TensorType, w: TensorType, lanes: int) -> Schedule:
    """The channel GEMM's blocking: dense's (`default_dense_schedule`) over O rows (output
    channels) by P columns (pixels), threads splitting the column panels' items ("n"); panels
    of `CHANNEL_GEMM_WIDE_VECTORS` vectors with 32 vector registers."""
    pixels = out.shape[2] * out.shape[3]
    dense = default_dense_schedule(w.shape[0], pixels, w.shape[1], lanes)
    if registers_for(lanes) == 32:
        nr = CHANNEL_GEMM_WIDE_VECTORS * lanes
        dense |= {"n_block": nr, "n_tail": pixels % nr}
    return {"kernel": CHANNEL_GEMM, **dense}


def pixel_gemm_schedule(out: TensorType, lanes: int) -> Schedule:
    """The pixel GEMM's blocking: MR pixels by 2 vectors of output channels (by
    `PIXEL_GEMM_WIDE_VECTORS` with 32 vector registers where that pads fewer channels), MR the
    row count (from FMA_CHAIN_ROWS up to the accumulators of `block_rows` rows of 2 vectors: 6
    rows with 16 vector registers, 12 with 32, 24 of one vector) whose blocks take the fewest
    FMA-latency-bound cycles per input channel, a block of t rows costing max(t,
    FMA_CHAIN_ROWS) cycles; the larger MR on a tie. 49 pixels on AVX2: 9 blocks of 5 and one of
    4 (49 cycles) rather than 8 of 6 and one of 1 (52); on AVX-512 4 of 11 and one of 5 with two
    vectors, 2 of 22 and one of 5 with one."""
    pixels, channels = out.shape[2] * out.shape[3], out.shape[1]
    wide = PIXEL_GEMM_WIDE_VECTORS * lanes
    pads_less = -(-channels // wide) * wide < -(-channels // (ROW_VECTORS * lanes)) * ROW_VECTORS * lanes
    nv = PIXEL_GEMM_WIDE_VECTORS if registers_for(lanes) == 32 and pads_less else ROW_VECTORS

    def cycles(mr: int) -> int:
        full, tail = divmod(pixels, mr)
        return full * mr + (max(tail, FMA_CHAIN_ROWS) if tail else 0)

    mr = min(range(block_rows(lanes) * ROW_VECTORS // nv, FMA_CHAIN_ROWS - 1, -1), key=cycles)
    nr = nv * lanes
    return {"kernel": PIXEL_GEMM, "vec": lanes, "m_block": mr, "m_tail": pixels % mr, "n_block": nr,
            "n_tail": out.shape[1] % nr, "parallel": "n"}


def default_conv_schedule(x: TensorType, w: TensorType, out: TensorType, attrs: dict[str, Any],
                          lanes: int) -> Schedule:
    """The default blocking of one group of a direct convolution (see the module docstring)."""
    h, width = x.shape[2:]
    o, c, kh, kw = w.shape
    o //= attrs.get("groups", 1)
    oh, ow = pixel_rows(out, (kh, kw), attrs)
    nv = row_vectors(ow, lanes)
    mr = (12 if nv == 1 else 6) * (2 if lanes >= 16 else 1)
    if attrs.get("groups", 1) > 1:
        mr = group_block(o, mr)
    sh, sw = attrs["strides"]
    padded = padded_plane(h, width, attrs["strides"], attrs["pads"])
    tiles = oh * math.ceil(ow / (nv * lanes))
    strided_cb = max(1, min(c, L1_DATA_BYTES // strided_tile_bytes(kh, kw, sw, nv * lanes,
                                                                   attrs["dilations"][1])))
    items = math.ceil(tiles / pixel_item_tiles(tiles, nv * lanes, math.ceil(c / strided_cb)))
    if (sh, sw) != (1, 1) and kh * kw > 1 and o * kh * kw * items <= padded * math.ceil(o / mr):
        cb, parallel = strided_cb, "pixel"
    else:
        cb = max(1, min(c, WEIGHT_BLOCK_BYTES // (mr * kh * kw * 4)))
        parallel = "oc" if o * c * kh * kw > c * padded else "pixel"
    return {"vec": lanes, "oc_block": mr, "oc_tail": o % mr, "ow_block": nv * lanes,
            "ow_tail": out.shape[3] % (nv * lanes), "c_block": cb, "c_tail": c % cb, "parallel": parallel}


def row_vectors(ow: int, lanes: int) -> int:
    """Vectors of pixels per direct-convolution tile of a row of `ow` output pixels: one when the
    row fits in one, else two, but one with 32 vector registers where one computes fewer
    columns (the tiles of a row compute whole vectors; a `pointwise` row is the whole image).
    AMD EPYC znver4, one thread, CPU time, one process, interleaved rounds, loaded, one vector
    over two: MobileNetV2's 3x3 stride-2 stem 3 -> 32 to 112x112 0.86 (0.285 -> 0.246 ms), 3x3
    32 -> 64 at 112x112 0.89 and 96 in 2 groups 0.98 (112 columns against 128), ResNet's 7x7
    stride-2 stem 3 -> 64 and SqueezeNet's 3 -> 96 0.88 (2.17 against 2.50 ms; 3.43 against
    3.91); at equal columns 3x3 64 -> 64 at 56x56 1.02, 3 -> 64 at 224x224 1.02. Many taps
    take two vectors too: before the kernel rows ran as a loop (`conv.TapLoop`), 12 taps or
    more unrolled in one block spilled a two-vector tile (115 zmm stack accesses in a 4 x 2 7x7
    stem tile) and one vector ran 0.54-0.83 its time; with the loop, 24 x 1 over 12 x 2 at
    64 -> 64 28x28 (32 columns either way; zmm stack accesses 80 against 14): 3x4 1.05, 2x7
    1.05, 5x5 1.08, 7x7 1.06; 5x5 at 28x28 128 in 2 groups (16 x 1 against 8 x 2; 32 against
    0) 1.04; the 7x7 stride-2 stem 3 -> 64 from 256x256 (128 columns either way) 1.00.
    Pointwise ones that run the direct kernel (neither GEMM takes them; same machine and
    method): SqueezeNet's 512 -> 1000 at 13x13 0.91 (1.76 against 2.00 ms; 176 columns against
    192), 256 -> 256 at 14x14 0.94, MobileNetV2's 32 -> 192 and 192 -> 32 at 28x28 0.95 (784
    against 800); 256 -> 32 at 27x27 (736 either way) 1.00."""
    if ow <= lanes:
        return 1
    fewer = round_up(ow, lanes) < round_up(ow, 2 * lanes)
    return 1 if fewer and registers_for(lanes) == 32 else 2


def group_block(o: int, mr: int) -> int:
    """The output-channel block of a grouped convolution with `o` outputs per group: the largest
    divisor of o up to `mr` when it is at least mr / 2, so every block of the group is full
    (RegNetY's 8 per group ran 6 + 2 before: one Zen 3 core, CPU time, loaded, 4 x 2 vectors
    ran 104 -> 104 in 13 groups at 28x28 0.88x the time of 6 x 2, stride 2 from 56x56 0.88x;
    8 x 1 48 in 6 groups from 112x112 0.77x); else `mr` (a tail block per group)."""
    divisor = max(d for d in range(1, min(o, mr) + 1) if o % d == 0)
    return divisor if 2 * divisor >= mr or divisor == o else mr


def takes_lanes_conv(w: TensorType, attrs: dict[str, Any], constant_weights: bool) -> bool:
    """Whether an untiled convolution runs the channels-in-lanes kernel (`lanes_conv_schedule`):
    one group, constant weights, a stride above 1, more than one tap, and a reduction of at least
    `LANES_MIN_DEPTH` (input channels x taps)."""
    _, c, kh, kw = w.shape
    return (attrs.get("groups", 1) == 1 and constant_weights and tuple(attrs["strides"]) != (1, 1)
            and kh * kw > 1 and c * kh * kw >= LANES_MIN_DEPTH)


def lanes_conv_schedule(w: TensorType, lanes: int) -> Schedule:
    """The channels-in-lanes kernel's blocking: `block_rows` pixels (6 with 16 vector registers,
    12 with 32) by ROW_VECTORS vectors of output channels; as many input channels per block as
    keep a block's weights in `WEIGHT_BLOCK_BYTES`; items of LANES_ITEM_PIXELS pixels' tiles."""
    _, c, kh, kw = w.shape
    nb, np_ = ROW_VECTORS * lanes, block_rows(lanes)
    cb = max(1, min(c, WEIGHT_BLOCK_BYTES // (nb * kh * kw * FLOAT_BYTES)))
    return {"kernel": LANES_CONV, "vec": lanes, "oc_block": nb, "pixel_block": np_, "c_block": cb,
            "item_tiles": max(1, -(-LANES_ITEM_PIXELS // np_))}


def winograd_schedule(x: TensorType, out: TensorType, attrs: dict[str, Any], lanes: int) -> Schedule:
    """The Winograd kernel's blocking of a `winograd_conv2d` (see the module docstring)."""
    m = attrs["tile"]
    dense = default_dense_schedule(0, 0, 0, lanes)
    mr, nr = dense["m_block"], dense["n_block"]
    c, o = round_up(x.shape[1], lanes), round_up(out.shape[1], nr)
    tiles = tile_count(out.shape[2], out.shape[3], m)
    if o > tiles:
        # U (n² C O floats) outweighs V (n² tiles C floats)
        groups = max(g for g in range(1, WINOGRAD_MIN_ITEMS + 1)
                     if (o // nr) % g == 0 and (g == 1 or tiles * o // g >= WINOGRAD_ITEM_OUTPUTS))
        block = tiles
    else:
        per_tile = (m + 2) ** 2 * (c + o) * 4
        most = max(1, tiles // mr)  # blocks of an MR-row micro-tile at least
        blocks = max(min(WINOGRAD_MIN_ITEMS, most), math.ceil(tiles * per_tile / WINOGRAD_BLOCK_BYTES))
        groups, block = 1, winograd_tile_block(tiles, blocks, mr)
    return {"kernel": WINOGRAD, "tile": m, "vec": lanes, "m_block": mr, "n_block": nr,
            "k_block": DEFAULT_K_BLOCK, "tile_block": block, "oc_groups": groups}


def winograd_tile_block(tiles: int, blocks: int, mr: int) -> int:
    """Tiles per block for at least `blocks` blocks (of `tiles` at most): of tiles // blocks and
    the up to MR - 1 sizes below it, the one whose blocks' GEMMs compute the fewest rows (whole
    MR-row micro-tiles, the last block's spare tiles included), the largest on a tie (196 tiles
    in 16 blocks: 12 x 17 blocks, 204 rows; 13 x 16 blocks, 288 rows, ran 9% slower, one
    thread)."""
    most = max(1, tiles // blocks)

    def rows(block: int) -> int:
        return block_count(tiles, block) * math.ceil(block / mr) * mr

    return min(range(most, max(0, most - mr), -1), key=rows)


def kernel_of(schedule: Schedule) -> BlockedKernel:
    """Which kernel runs a schedule of `blocked_schedule` (dispatch on it with an exhaustive match)."""
    name = schedule.get("kernel", BLOCKED)
    assert name in get_args(BlockedKernel), f"kernel_of: expected one of {get_args(BlockedKernel)}, got {name!r}"
    return cast(BlockedKernel, name)


def has_own_kernel(schedule: Schedule) -> bool:
    """Whether `schedule` runs a kernel of its own (depthwise, Winograd, int8), not the blocked
    GEMM / direct convolution whose schedules the tiled ops spell."""
    return "kernel" in schedule


def is_int8(schedule: Schedule) -> bool:
    """Whether `schedule` runs the int8 convolution kernel."""
    return schedule.get("kernel") == INT8


def is_winograd(schedule: Schedule) -> bool:
    """Whether `schedule` runs the Winograd kernel."""
    return schedule.get("kernel") == WINOGRAD


def is_pixel_gemm(schedule: Schedule) -> bool:
    """Whether `schedule` runs the pixel GEMM of a pointwise convolution (a small one by
    default, `takes_pixel_gemm`; any size when a tiled schedule spells its blocks)."""
    return schedule.get("kernel") == PIXEL_GEMM


def is_depthwise(schedule: Schedule) -> bool:
    """Whether `schedule` runs the depthwise kernel (rather than the blocked GEMM / convolution)."""
    return schedule.get("kernel") == DEPTHWISE
