"""The CPU price of a bit-serial contraction: word pairs over the host's popcount rate and the
register block's efficiency.

A bit-serial kernel (`backends/llvm/bitserial.py`) ANDs, popcounts and accumulates 64-bit word
pairs. Its compute time is

    pairs / (cores * word_pairs_per_core * tile * lanes)

with `word_pairs_per_core` the host's rate on the default register block (`popcount_rate`),
`tile` the schedule's efficiency relative to it (`tile_efficiency`, in (0, 1.1]) and `lanes` the
busy fraction of the channel blocks (output channels padded to whole tiles). A convolution on
AVX2's table kernel (`bitserial_schedules.uses_tables`) counts one lookup for both activation planes,
or with one plane for two pixels: its lookups are the pairs of one plane (of half the pixels),
at TABLE_EFFICIENCY (PAIR_TABLE_EFFICIENCY), over blocks of 32 channels. With one plane every
lookup is priced as serving two pixels, but a lone pixel takes lookups of its own, paired with a
zero word: one of an odd count of columns left beside the interior's pairs (its border columns
whose window leaves the image and its last, run in pairs: `Emitter.border_columns`), or every
one of them when there are many. Such rows therefore cost a little more than priced.
"""

from __future__ import annotations

import math

from frittata.extract.cost import NodeInfo
from frittata.extract.cpu_work import lane_fraction
from frittata.terms.bitserial_schedules import (MAX_BITSERIAL_BLOCKS, TABLE_CHANNELS, bitserial_schedule,
                                                bitserial_tile_registers, bitserial_weight_bytes, streams_weights,
                                                table_blocks, uses_nibbles, uses_tables)
from frittata.terms.cpu_geometry import registers_for
from frittata.terms.dtypes import TensorType

NIBBLE_PAIRS_PER_CYCLE = 1.9
"""Word pairs per cycle of the AVX2 nibble-lookup kernel on its default tile (1 pixel x 8
blocks): 6.0-6.2 G/s on one Zen 3 core whose FMA peak (101.5 GFLOP/s) puts it at 3.17 GHz
(A1W1 256 -> 256 and 512 -> 512 at 28-56 px, 2026-12). The instruction bound is 2.5 (2 AND,
2 VPSHUFB, 2 byte adds per 4 pairs, 4 vector ALUs)."""
VPOPCNTQ_PAIRS_PER_CYCLE = 4.0
"""Word pairs per cycle with AVX512-VPOPCNTDQ: one VPOPCNTQ (8 pairs) a cycle on one port, its
AND and add on the others, taken at half (an estimate: compiled here, never run on such a host)."""
TABLE_EFFICIENCY = 0.75
"""The table kernel's one-plane pairs per second relative to the nibble kernel's pairs: A2W1 ran
1.39-1.54x faster on it (median 1.51) than on the nibble kernel, whose pairs are twice as many
(bipolar with the requantization, one Zen 3 core, CPU time, 11 rounds, load ~5: 128 -> 256 at
56x56 1.39x, 256 -> 256 at 56x56 1.54x, 512 -> 512 at 28x28 1.51x; 2026-12, its tile of
TABLE_PIXELS by TABLE_BLOCKS)."""
PAIR_TABLE_EFFICIENCY = 0.69
"""The one-plane table kernel's lookups (two pixels each) per second relative to the nibble
kernel's pairs: A1W1 ran 1.29-1.50x faster on it (median 1.38), whose lookups are half as many
(bipolar with the requantization, one Zen 3 core, CPU time, 9 rounds, load ~6.5: 64 -> 128 at
112x112 1.50x, 128 -> 256 at 56x56 1.29x, 256 -> 256 at 56x56 1.34x, 512 -> 512 at 28x28 1.42x;
2026-12, its tile of 2 pixels by PAIR_TABLE_BLOCKS with C / U counters and flushes every 3
words)."""
SCALAR_PAIRS_PER_CYCLE = 1.0
"""Word pairs per cycle of scalar POPCNT (one port on Intel cores; an estimate)."""
NIBBLE_OPS = 6
"""Vector ALU operations per weight vector of a nibble-lookup step: 2 AND, 2 VPSHUFB, 2 adds."""
SPLIT_OPS = 4
"""Operations per activation word and plane: broadcast, shift and two ANDs (the nibble split)."""
CTPOP_OPS = 3
"""Operations per weight vector of a VPOPCNTQ step: AND, VPOPCNTQ, add (the broadcast is a load)."""
STREAMED_WEIGHTS = 0.9
"""Throughput of a nibble-lookup tile whose weights stream from L2 (`streams_weights`) relative
to its operation count: 8 blocks ran at 0.90-0.95 of 6 blocks' speed where the operation count
says 1.03 (A1W1 512 -> 512 at 28x28 and 14x14, one Zen 3 core)."""


def popcount_rate(features: str, lanes: int, fp32_flops_per_core: float) -> float:
    """Word pairs per second per core of the host's popcount path: VPOPCNTQ where the CPU has
    AVX512-VPOPCNTDQ, a nibble lookup with AVX2 or AVX-512 (LLVM's own on AVX-512, counted as
    the AVX2 kernel's), scalar POPCNT otherwise; cycles from the FMA peak (2 FMA units x lanes
    x 2 FLOPs a cycle)."""
    enabled = set(features.split(","))
    per_cycle = (VPOPCNTQ_PAIRS_PER_CYCLE if "+avx512vpopcntdq" in enabled and lanes >= 16
                 else NIBBLE_PAIRS_PER_CYCLE if lanes >= 8 else SCALAR_PAIRS_PER_CYCLE)
    return fp32_flops_per_core / (4 * lanes) * per_cycle


def tile_efficiency(w: TensorType, a: int, pixels: int, blocks: int, nibbles: bool, lanes: int) -> float:
    """Throughput of a pixels x blocks tile of the packed weights w [O, ..., B, K] relative to
    the default one: operations per weight vector (the activation split shared by the blocks
    and weight planes) against those of the widest default block; a tile needing more vector
    registers than the host has spills; a nibble-lookup tile whose weights stream from L2
    runs at STREAMED_WEIGHTS."""
    b = w.shape[-2]
    registers, needed = registers_for(lanes), bitserial_tile_registers(a, b, pixels, blocks, nibbles)
    if nibbles:
        ops = NIBBLE_OPS + SPLIT_OPS / (blocks * b)
        best = NIBBLE_OPS + SPLIT_OPS / (MAX_BITSERIAL_BLOCKS * b)
    else:
        ops = CTPOP_OPS + 1 / (blocks * b)
        best = CTPOP_OPS + 1 / (MAX_BITSERIAL_BLOCKS * b)
    efficiency = best / ops
    if nibbles and streams_weights(a, bitserial_weight_bytes(w, blocks, lanes, nibbles)):
        efficiency *= STREAMED_WEIGHTS
    return efficiency * (registers / needed) ** 2 if needed > registers else efficiency


def bitserial_seconds(info: NodeInfo, cores: int, word_pairs_per_core: float, lanes: int) -> float:
    """Compute seconds of a bit-serial contraction on `cores` (see the module docstring)."""
    (x, w), out = info.operands[:2], info.type
    constant = info.operand_constant(1)
    schedule = bitserial_schedule(info.op, info.attrs, x, w, constant, lanes)
    nibbles = uses_nibbles(lanes, x.dtype, constant)
    a = x.shape[-2]
    if uses_tables(info.op, info.attrs, x, w, constant, lanes):
        lookups = out.size * math.prod(w.shape[1:]) / (2 if a == 1 else 1)
        busy = lane_fraction(w.shape[0], TABLE_CHANNELS * table_blocks(w.shape[0], a))
        efficiency = PAIR_TABLE_EFFICIENCY if a == 1 else TABLE_EFFICIENCY
        return lookups / (cores * word_pairs_per_core * efficiency * busy)
    pairs = out.size * a * math.prod(w.shape[1:])
    tile = tile_efficiency(w, a, schedule["pixels"], schedule["blocks"], nibbles, lanes)
    busy = lane_fraction(w.shape[0], schedule["vec"] // 2 * schedule["blocks"])
    return pairs / (cores * word_pairs_per_core * tile * busy)
