"""The CPU price of a Winograd convolution (`cpu_schedules.winograd_schedule`).

The kernel (`frittata.backends.llvm.winograd`) runs, per image, a pad pass, then per item (a
block of PB output tiles and a group of O/G output channels) an input transform (when the block
changes), n² GEMMs [PB, C] x [C, O/G] on the micro-kernel, and an output transform (n = m + 2);
the cores split the items. Its time is

    pad + gemm + weights + transforms

  gemm        2 n² PB·blocks C O FLOPs (channels padded to the vectors, tiles to whole blocks)
              at the register block's efficiency (`schedule_cost.rows_efficiency` over PB rows,
              the reduction depth, the blocks' balance over the cores);
  weights     every item reads its group's share of U (n² C O/G floats), from L2 when U fits
              one core's share of it, else at `WEIGHT_STREAM_BANDWIDTH` per core when it fits
              the last-level cache, else from DRAM (the cores share its bandwidth); added to the
              GEMM's time, not hidden under it: each panel of U is loaded by the micro-kernel
              that uses it for only PB rows, so its FMAs wait on the stream (ResNet-18's F(2x2)
              512 -> 512 at 7x7, one core, CPU time: U 16.8 MB from the LLC, 2.33-2.77 ms against
              1.35 priced with the larger of the two, 1.83 with the sum);
  transforms  the vector adds and multiplies of Bᵀ d B per tile and L input channels, on each
              core once per block it starts (a block split into groups is transformed by every
              core that has one of them), except a single block of several groups, whose V the
              team computes once before the items, the cores sharing its (tile, vector) pairs
              (`shared_v_ops`); and of Aᵀ M A per tile and L output channels, plus one
              scalar store per output element, at `TRANSFORM_OPS` per second per core; the pad
              pass one scalar copy per element.

Invariant: seconds >= 0, more tiles, channels or blocks never cost less.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from frittata.extract.cost import NodeInfo
from frittata.extract.schedule_cost import C_BLOCK_STEPS, L2_BANDWIDTH, REACHABLE, balance, rows_efficiency
from frittata.terms.cpu_schedules import Schedule
from frittata.terms.winograd import block_count, integer_transforms, shares_v, tile_count, transforms

TRANSFORM_OPS = 3.0e9
"""Vector adds / multiplies / stores per second per core in the transform loops (they are
load-store bound, about one per cycle at ~3 GHz; estimate, see `calibrate`)."""
WEIGHT_STREAM_BANDWIDTH = 35e9
"""Bytes/s one core re-reads U at when it misses L2 (a sequential read the prefetchers follow,
from L3 on Zen 3): measured here, 256 channels at 14x14 with F(4, 3) reads its 9.4 MB U four
times in 1.13 ms on 1 thread (2026-12, AMD EPYC, shared machine)."""
PAD_OPS = 1.0e9
"""Elements per second per core the scalar pad pass copies (estimate)."""


@cache
def sandwich_ops(m: int, which: str) -> int:
    """Vector operations of `X · d · Xᵀ` on a grid of vectors, X = Bᵀ ("input") or Aᵀ ("output")
    of F(m, 3): one per nonzero coefficient (a multiply unless ±1, an add after the first)."""
    at, _, bt = transforms(m)
    x = bt if which == "input" else at
    per_row = sum(int(np.count_nonzero(row)) + int(np.count_nonzero(np.abs(row[row != 0]) != 1)) - 1 for row in x)
    n = x.shape[1]
    return per_row * n + per_row * x.shape[0]


def blocks_started(blocks: int, groups: int, cores: int) -> int:
    """The most blocks one core transforms: the cores split the blocks x groups items into
    contiguous shares (block-major), and a core transforms each block its share touches. The
    kernel takes the items in chunks from the team's work counter (`Kernel.chunks`), so the
    shares are an approximation: a core that takes more, smaller runs of items starts at most
    one block more per run."""
    items = blocks * groups
    shares = [(items * t // cores, items * (t + 1) // cores) for t in range(cores)]
    return max((hi - 1) // groups - lo // groups + 1 if hi > lo else 0 for lo, hi in shares)


def shared_v_ops(tiles: int, vectors: int, m: int, cores: int) -> float:
    """Vector operations one core spends on the input transform of a single block split into
    groups (the kernel's `shared_v`): the block's `tiles` x `vectors` (tile, L channels) pairs,
    taken by the cores from the team's work counter, so each transforms its share once (priced
    as a whole block per core before, 2x on two cores: ResNet's F(4x4) layers at 14x14 and 7x7)."""
    return math.ceil(tiles * vectors / cores) * sandwich_ops(m, "input")


def input_transform_ops(block: int, vectors: int, blocks: int, groups: int, m: int, cores: int) -> float:
    """Vector operations of the input transform on the busiest core: `blocks` blocks of `block`
    tiles by `vectors` (L channels), in `groups` output-channel groups; the team's share of a
    shared V (`shares_v`), else every block the core's items touch (`blocks_started`)."""
    if shares_v(blocks, groups):
        return shared_v_ops(block, vectors, m, cores)
    return blocks_started(blocks, groups, cores) * block * vectors * sandwich_ops(m, "input")


def weight_stream_seconds(u_bytes: int, blocks: int, groups: int, model) -> float:
    """Seconds the busiest core streams the transformed weights U (`u_bytes`) of a Winograd
    kernel whose items are `blocks` blocks of tiles x `groups` output-channel groups, each item
    reading its group's share of U: from L2 when U fits one core's share of it, else at
    `WEIGHT_STREAM_BANDWIDTH` per core when it fits the last-level cache, else from DRAM (the
    cores share its bandwidth). Added to the GEMM's time, not hidden under it (module docstring)."""
    cores = model.cores
    bandwidth = (L2_BANDWIDTH if u_bytes <= model.cache_bytes / cores
                 else WEIGHT_STREAM_BANDWIDTH if u_bytes <= model.last_level_cache_bytes
                 else model.dram_bandwidth / cores)
    return math.ceil(blocks * groups / cores) * u_bytes / groups / bandwidth


def winograd_seconds(info: NodeInfo, s: Schedule, model) -> float:
    """Seconds of the Winograd convolution `info` with schedule `s` on `model` (a `CpuModel`)."""
    (batch, c, _, _), out = info.operands[0].shape, info.type
    o, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    m, lanes, block, groups = s["tile"], s["vec"], s["tile_block"], s["oc_groups"]
    side = m + 2
    c_pad, o_pad = -(-c // lanes) * lanes, -(-o // s["n_block"]) * s["n_block"]
    tiles = tile_count(oh, ow, m)
    blocks = block_count(tiles, block)
    cores = model.cores
    kc = min(s["k_block"], c_pad)
    efficiency = (REACHABLE * rows_efficiency(block, s["m_block"], s["n_block"] // lanes, lanes, model.vector_lanes)
                  * kc / (kc + C_BLOCK_STEPS) * balance(blocks * groups, cores))
    gemm = 2.0 * side * side * block * blocks * c_pad * o_pad / (cores * model.fp32_flops_per_core * efficiency)
    weights = weight_stream_seconds(side * side * c_pad * o_pad * 4, blocks, groups, model)
    inputs = input_transform_ops(block, c_pad // lanes, blocks, groups, m, cores)
    outputs = ((tiles * (o_pad // lanes) * sandwich_ops(m, "output") + o * oh * ow)
               / (cores * balance(blocks * groups, cores)))
    transform = (inputs + outputs) / TRANSFORM_OPS
    pad = (m * math.ceil(oh / m) + 2) * (m * math.ceil(ow / m) + 2) * c_pad / (cores * PAD_OPS)
    return batch * (pad + gemm + weights + transform)


INT8_WINOGRAD_SCALE = 1.3
"""int8 pair multiply-adds (2 ops each) per second of the int8 Winograd GEMM, as a multiple of the
fp32 FMA peak in FLOPs (pmaddwd does 2L multiply-adds where an FMA does L, at the same issue
rate, less its separate add and broadcasts; estimate)."""
INT8_GROUPS_SLOWDOWN = 1.4
"""Measured time over price of the int8 Winograd kernel in its groups mode (`oc_groups` > 0: one
block of all the tiles, the threads taking groups of panels) relative to its blocks mode: ResNet-18
int8's 3x3 layers on one Zen 4 core, CPU time, a 48 MB stream between runs (the network's other
layers evict the caches), medians of 22, shared machine, 2026-12-05: groups mode 256@14 2.8x its
price, 512@7 2.3x; blocks mode 64@56 1.8x, 128@28 1.7x (the direct int8 kernel 1.5-1.8x). Not
found in the parts of the price (unexplained), so applied to the whole of it: the direct kernel's
byte quads beat this mode at 14x14 and 7x7 (595 against 682 us, 745 against 901), which the price
without it hid (0.60x and 0.98x the direct kernel's). Applied to the 16-lane (AVX-512) kernels
only, where it was measured: with AVX2 kernels (-mcpu=haswell on the Zen 4 host) it moves 128@28
from the groups mode to the blocks mode, and ResNet-18 int8 ran 1.001x and 1.029x (one thread, CPU
time, medians of 30 and 40, two runs) with it, its per-step sum 0.97x: no clear gain or loss."""
INT8_EPILOGUE_OPS = 6
"""Vector operations per output vector after the output transform: the multiply by odd⁻¹, the
shift, the bias, the integer epilogue and the narrowing (estimate)."""


def _integer_sandwich_ops(x: np.ndarray) -> int:
    """Vector operations of X · d · Xᵀ with integer X (`sandwich_ops` for `integer_transforms`)."""
    per_row = sum(int(np.count_nonzero(row)) + int(np.count_nonzero(np.abs(row[row != 0]) != 1)) - 1 for row in x)
    return per_row * x.shape[1] + per_row * x.shape[0]


def int8_winograd_seconds(info: NodeInfo, s: Schedule, model) -> float:
    """Seconds of the exact int8 Winograd convolution (`frittata.backends.llvm.int8winograd`):
    its pad pass, the pair GEMMs of every block (whole micro-tiles, spare tiles included) at
    `INT8_WINOGRAD_SCALE` times the fp32 peak, the stream of U (int16) as the float kernel's
    (`weight_stream_seconds`: every block re-reads all of U, or each of the one block's groups
    its share), and the transforms at `TRANSFORM_OPS` (the input one on 2L int16 lanes, the
    output one on L int32 lanes, with a scalar store per output).
    Invariant: seconds >= 0, more tiles, channels or blocks never cost less."""
    (batch, c, _, _), out = info.operands[0].shape, info.type
    o, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    m, lanes, block = s["tile"], s["vec"], s["tile_block"]
    t, side, cores = integer_transforms(m), m + 2, model.cores
    c_pad, o_pad = -(-c // (2 * lanes)) * 2 * lanes, -(-o // s["n_block"]) * s["n_block"]
    tiles = tile_count(oh, ow, m)
    blocks = block_count(tiles, block)
    share = balance(s["oc_groups"] or blocks, cores)
    gemm = 2.0 * side * side * block * blocks * c_pad * o_pad / (
        cores * model.fp32_flops_per_core * INT8_WINOGRAD_SCALE * share)
    inputs = block * blocks * (c_pad // (2 * lanes)) * _integer_sandwich_ops(t.bt)
    outputs = tiles * (o_pad // lanes) * (_integer_sandwich_ops(t.e) + m * m * INT8_EPILOGUE_OPS) + o * oh * ow
    transform = (inputs + outputs) / (cores * share * TRANSFORM_OPS)
    pad = (m * math.ceil(oh / m) + 2) * (m * math.ceil(ow / m) + 2) * c_pad / (cores * PAD_OPS)
    weights = weight_stream_seconds(side * side * c_pad * o_pad * 2, blocks, s["oc_groups"] or 1, model)
    slowdown = INT8_GROUPS_SLOWDOWN if s["oc_groups"] and model.vector_lanes == 16 else 1.0
    return batch * (pad + gemm + weights + transform) * slowdown
