"""Which bit-serial kernel runs a bit-serial contraction on the CPU, and with which schedule.

Beside `cpu_schedules` (the float and int8 kernels), read by the same two readers: the CPU cost
model and the LLVM backend. A bit-serial schedule is a tile of output pixels by channel blocks (a
block: the 64-bit words of one vector, 4 channels with AVX2); AVX2's nibble lookup takes 1 pixel by
as many blocks as its byte counters, split activation nibbles and lookup tables leave room for in 16
registers (at most MAX_BITSERIAL_BLOCKS and the channels' blocks, and fewer while its weights would
stream from L2: `streams_weights`); `llvm.ctpop` kernels BITSERIAL_PIXELS pixels by what is left of
the registers over them; computed weights one channel a block. A convolution of one or two
activation planes and one weight plane with the default schedule runs AVX2's activation-indexed
table kernel instead (`uses_tables`: a fixed tile of 1 pixel by 2 blocks of 32 channels with two
planes, a pixel pair by 2 blocks with one: `table_pixels`, `table_blocks`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from frittata.terms.bitserial import WORD_BITS
from frittata.terms.cpu_geometry import L1_DATA_BYTES, registers_for
from frittata.terms.cpu_schedules import Schedule
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op

BITSERIAL = "bitserial"
BITSERIAL_PIXELS = 4
"""Pixels of a bit-serial tile on the `llvm.ctpop` kernels (one accumulator per pixel and block)."""
MAX_BITSERIAL_BLOCKS = 8
"""Channel blocks of a bit-serial tile at most: on one Zen 3 core, A1W1 256 -> 256 at 56x56 ran
at 6.2-6.4 G word pairs/s with 1 pixel x 8 blocks, 5.7 with 10, 5.4 with 12, 3.3 with 16 (spills),
4.6-5.1 with 4 x 2, 2 x 4 or 3 x 3 (the nibble split of each activation word is shared by fewer
weight vectors)."""


def uses_nibbles(lanes: int, word: str, constant_weights: bool) -> bool:
    """Whether a bit-serial contraction runs the AVX2 nibble-lookup kernel (8 fp32 lanes, 64-bit
    words, weights constant so that their nibbles are split at compile time) rather than
    `llvm.ctpop` of 64-bit lanes (VPOPCNTQ on AVX-512)."""
    return lanes == 8 and word == "int64" and constant_weights


TABLE_SUM_LIMIT = 0xFFFF
"""The largest sum the table kernel's 16-bit counters hold."""
TABLE_CHANNELS = 32
"""Output channels of one block of the table kernel: one byte counter each."""
TABLE_PIXELS, TABLE_BLOCKS = 1, 2
"""The table kernel's register block with two activation planes: 1 pixel by 2 blocks of 32
channels (2 byte counters and a table, beside the tile's 4 vectors of 16-bit sums; each weight
vector serves one lookup, read as its memory operand). With 2 pixels LLVM holds each weight
vector in a register for both pixels' lookups and spills some (about two stack moves a lookup
with 4 blocks). The W1A2 VGG-11-style network, one Zen 3 core, CPU time, modules compiled and
saved, then loaded in one process and run in alternating rounds (15 and 25 rounds, load 4-5,
bit-exact): 2 x 4 37.8 / 41.1 ms, 2 x 2 36.4 / 39.9, 1 x 2 37.4 / 37.1."""


PAIR_TABLE_BLOCKS = 2
"""The table kernel's blocks with one activation plane, chosen by measurement. Its registers are
4 byte counters (C and U of each block), 2 run sums, a table and temporaries, beside the tile's 8
vectors of 16-bit sums, so some of those sums live on the stack (touched at each flush).
A1W1 on one Zen 3 core (CPU time, with the requantization), blocks 4 / 3 / 2 / 5 (15 rounds,
load ~6): 256 -> 256 at 56x56 6.86 / 7.52 / 5.11 / 6.93 ms, 512 -> 512 at 28x28 4.31 / 4.61 /
4.07 / 5.54, 128 -> 256 at 56x56 3.78 / 4.00 / 3.70 / 3.90; 4 -> 2 blocks again (21 rounds):
256 -> 256 at 56x56 4.20 -> 3.94 ms, 64 -> 128 at 112x112 2.90 -> 2.78, 512 -> 512 at 14x14
1.60 -> 1.64."""


PAIR_TABLE_PIXELS = 2
"""The table kernel's pixels with one activation plane: one pair. Two pairs sharing each weight
vector loaded (4 pixels) ran slower, with 2 blocks (spilling its byte counters) or 1 (twice the
table loads a channel): A1W1 on one Zen 3 core, CPU time, 7-9 rounds, load ~5.5, 2x2 -> 4x2 ->
4x1: 256 -> 256 at 56x56 3.85 -> 5.27 ms (4.03 -> 5.07 with 4x1), 512 -> 512 at 28x28 3.73 ->
4.16 (3.79 -> 5.30), 128 -> 256 at 56x56 2.21 -> 2.71 (2.57 -> 3.02). One pair by 1 block: 3.89
-> 4.57, 3.75 -> 4.73 and 2.28 -> 2.56 ms."""


def table_pixels(planes: int) -> int:
    """The table kernel's pixels per tile with `planes` activation planes."""
    return TABLE_PIXELS if planes == 2 else PAIR_TABLE_PIXELS


def table_blocks(channels: int, planes: int) -> int:
    """The table kernel's channel blocks per tile for `channels` output channels and `planes`
    activation planes: TABLE_BLOCKS (one plane: PAIR_TABLE_BLOCKS), fewer when the channels fill
    fewer blocks."""
    return min(TABLE_BLOCKS if planes == 2 else PAIR_TABLE_BLOCKS, -(-channels // TABLE_CHANNELS))


def table_word_sum(planes: int) -> int:
    """The most one 64-bit activation word of `planes` planes adds to a channel's table-kernel
    sum: its 64 bits times the largest activation, 2^planes - 1 (also what its 16 lookups add to
    a byte counter: 16 nibbles of at most 4 bits each)."""
    return WORD_BITS["int64"] * ((1 << planes) - 1)


def uses_tables(op: Op, attrs: Sequence[tuple[str, Any]], x: TensorType, w: TensorType, constant: bool,
                lanes: int) -> bool:
    """Whether a bit-serial contraction runs AVX2's activation-indexed table kernel: a nibble-lookup
    convolution with the default schedule, one weight plane and one or two activation planes,
    whose window's sums fit its 16-bit counters (its words times `table_word_sum` at most
    TABLE_SUM_LIMIT). With two planes one lookup counts a pixel's two planes, with one plane two
    pixels: either way half the nibble kernel's lookups (measured in
    `frittata.backends.llvm.bitserial_tables`)."""
    if op != Op.BITSERIAL_CONV2D or dict(attrs).get("schedule") or not uses_nibbles(lanes, x.dtype, constant):
        return False
    window_words = math.prod(w.shape[1:3]) * w.shape[-1]
    planes = x.shape[-2]
    return w.shape[-2] == 1 and planes in (1, 2) and window_words * table_word_sum(planes) <= TABLE_SUM_LIMIT


def bitserial_schedule(op: Op, attrs: Sequence[tuple[str, Any]], x: TensorType, w: TensorType, constant: bool,
                       lanes: int) -> Schedule:
    """The kernel schedule of a bit-serial contraction: "vec" the fp32 lanes its channel blocks
    are cut for, "pixels" x "blocks" its register block -- the op's own schedule if it has one,
    else the default (see the module docstring). Computed weights are read in place, one
    channel a block (so one block a tile)."""
    given = dict(dict(attrs).get("schedule", ()))
    if not constant:
        return {"kernel": BITSERIAL, "vec": 2, "pixels": given.get("pixels", BITSERIAL_PIXELS), "blocks": 1}
    if given:
        return {"kernel": BITSERIAL, "vec": lanes, **given}
    a, b = x.shape[-2], w.shape[-2]
    channel_blocks = -(-w.shape[0] // max(1, lanes // 2))
    if not uses_nibbles(lanes, x.dtype, constant):
        blocks = (registers_for(lanes) - bitserial_tile_registers(a, b, 1, 0, False)) // BITSERIAL_PIXELS
        return {"kernel": BITSERIAL, "vec": lanes, "pixels": BITSERIAL_PIXELS,
                "blocks": max(1, min(MAX_BITSERIAL_BLOCKS, channel_blocks, blocks))}
    blocks = (registers_for(lanes) - bitserial_registers(a, b, 1, 0)) // nibble_counters(a, b)
    blocks = max(1, min(MAX_BITSERIAL_BLOCKS, channel_blocks, blocks))
    while blocks > 1 and streams_weights(a, bitserial_weight_bytes(w, blocks, lanes, True)):
        blocks -= 1
    return {"kernel": BITSERIAL, "vec": lanes, "pixels": 1, "blocks": blocks}


def bitserial_weight_bytes(w: TensorType, blocks: int, lanes: int, nibbles: bool) -> int:
    """Bytes of repacked weights a bit-serial tile of `blocks` channel blocks (lanes / 2 channels
    each) reads for one output pixel: its channels' words of every tap and plane, twice over
    when the nibble-lookup kernel stores their low and high nibbles apart."""
    return blocks * max(1, lanes // 2) * (w.nbytes // max(1, w.shape[0])) * (2 if nibbles else 1)


def streams_weights(a: int, weight_bytes: int) -> bool:
    """Whether a nibble-lookup tile reads its weights from L2 at a cost: they do not fit the L1
    data cache, and each weight vector loaded serves one activation plane. One Zen 3 core, A1W1
    512 -> 512: 8 blocks (36 KiB of weights) ran 10% slower than 6 (27 KiB) at 28x28 and 5% at
    14x14; with two activation planes 8 blocks stayed 4% faster than 6."""
    return a == 1 and weight_bytes > L1_DATA_BYTES


def nibble_counters(a: int, b: int) -> int:
    """Byte counters per pixel and block of the nibble-lookup kernel with a activation and b
    weight bit planes: one through tables scaled by 2^(i+j) while a word's counts fit a byte
    (8 (2^a - 1)(2^b - 1) <= 255), else one per class i + j."""
    return 1 if 8 * ((1 << a) - 1) * ((1 << b) - 1) <= 255 else a + b - 1


def bitserial_registers(a: int, b: int, pixels: int, blocks: int) -> int:
    """Vector registers a nibble-lookup tile holds: its byte counters, one activation word's
    split nibbles per plane, the lookup tables, the nibble mask and a temporary (the weights are
    folded into the ANDs as memory operands)."""
    scaled = nibble_counters(a, b) == 1
    return pixels * blocks * nibble_counters(a, b) + 2 * a + (a + b - 1 if scaled else 1) + 2


def bitserial_tile_registers(a: int, b: int, pixels: int, blocks: int, nibbles: bool) -> int:
    """Vector registers a bit-serial tile holds: `bitserial_registers` on the nibble-lookup
    kernel; on `llvm.ctpop` an accumulator per pixel and block, a splat activation word per
    plane and 2 more."""
    return bitserial_registers(a, b, pixels, blocks) if nibbles else pixels * blocks + a + 2
