"""The CPU facts and tile geometry that the kernel choice (`cpu_schedules`), the LLVM kernels and
the CPU cost model all size things by: vector registers and lanes, FMA pipes, cache sizes, how a
threaded GEMM's work items split, and which input rows and padded planes a direct convolution's
tiles read. One place for each, so the backend and the price it is given cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from frittata.terms.dtypes import TensorType

FLOAT_BYTES = 4
"""Bytes of a float32."""
CACHE_LINE_BYTES = 64
"""Bytes of one cache line (x86 and the AArch64 cores seen)."""
L1_DATA_BYTES = 32 * 1024
"""A core's L1 data cache: 32 KiB on Zen 3 (48 KiB on Sapphire Rapids; the smaller is assumed)."""
FMA_PORTS = 2
"""Vector FMAs issued per cycle: two FMA pipes on Zen 3 and on Sapphire Rapids (vendor guides)."""
FMA_LATENCY = 4
"""Cycles from one FMA to a dependent one (Zen 3 and Sapphire Rapids: 4)."""
ROW_VECTORS = 2
"""Vectors per row of the pixel GEMM's register block (NR = 2 x lanes; the int8 kernel's: at most)."""
FMA_CHAIN_ROWS = FMA_PORTS * FMA_LATENCY // ROW_VECTORS
"""Rows of ROW_VECTORS accumulators that keep the FMA pipes busy through the FMA latency
(FMA_PORTS x FMA_LATENCY = 8 independent accumulators: 4 rows)."""


X86_ARCHS = ("x86_64", "i686", "i386")
"""The LLVM triple architectures of x86 CPUs (64- and 32-bit)."""


def registers_for(lanes: int) -> int:
    """Architectural vector registers: 32 with AVX-512 (16 lanes), 16 with AVX2 or SSE."""
    return 32 if lanes >= 16 else 16


def block_rows(lanes: int) -> int:
    """Rows of ROW_VECTORS accumulators a register block holds at most, three eighths of the
    register file (6 of 16, 12 of 32), the rest for the row's input vectors and broadcasts: the
    pixel GEMM's largest MR and the int8 kernel's output channels per tile."""
    return 3 * registers_for(lanes) // 8


def vector_lanes(triple: str, features: str) -> int:
    """fp32 lanes of a CPU's widest vector register, from its LLVM triple and feature string:
    16 with AVX-512F, 8 with AVX2, 4 on other x86, AArch64 (NEON) and WebAssembly with SIMD128,
    else 1 (scalar code)."""
    enabled = set(features.split(","))
    arch = triple.split("-", 1)[0]
    if arch in X86_ARCHS:
        return 16 if "+avx512f" in enabled else 8 if "+avx2" in enabled else 4
    if arch in ("aarch64", "arm64") or "+neon" in enabled or "+simd128" in enabled:
        return 4
    return 1


def byte_quads(triple: str, features: str) -> bool:
    """Whether the int8 convolution kernel multiplies quads of bytes (`int8quads`): AVX-512 VNNI's
    vpdpbusd adds 4 unsigned x signed byte products into each int32 lane, twice the multiply-adds
    of vpdpwssd's int16 pairs at the same issue rate (one zmm instruction a cycle each on a Zen 4
    core, 3.66 G/s, 2026-12-05). Also needs AVX512-VL: a row of at most 8 pixels takes 8-lane
    tiles (`int8_schedules.int8_conv_schedule`), whose vpdpbusd is the EVEX-encoded ymm form, which
    LLVM cannot select without VL (it ends the process); every VNNI CPU has VL, so this only
    refuses forced targets. Elsewhere it takes int16 pairs (vpmaddwd, or vpdpwssd with AVX-VNNI,
    whose quads the kernel does not emit; generic IR, which LLVM legalizes at any width)."""
    enabled = set(features.split(","))
    return vector_lanes(triple, features) == 16 and {"+avx512vnni", "+avx512vl"} <= enabled


HALF_RATE_512_CPUS = frozenset({"znver4"})
"""LLVM's names of the CPUs that run a 512-bit vector instruction as two halves on 256-bit units
(AMD Zen 4): their AVX-512 kernels use 16 lanes and 32 registers, at 8 lanes' throughput a cycle.
Measured on the Zen 4 EPYC (znver4, 2026-12-05): 116 GFLOP/s of zmm FMAs per core
(`peak.fma_flops`), Zen 3's rate with ymm, half of Sapphire Rapids' (two 512-bit FMA pipes)."""


def throughput_lanes(triple: str, features: str, cpu: str) -> int:
    """fp32 lanes a CPU's vector units complete per instruction slot: `vector_lanes`, or 8 on a
    CPU of HALF_RATE_512_CPUS with AVX-512."""
    lanes = vector_lanes(triple, features)
    return 8 if lanes == 16 and cpu in HALF_RATE_512_CPUS else lanes


GEMM_MC = 96
"""Rows of A per cache block of the blocked GEMM (its MC), rounded down to whole MR blocks (`gemm_mc`)."""
GEMM_K_BLOCK_MAX = 512
"""Reduction steps of one K block of the blocked GEMM at most (`gemm_k_block`). Longer blocks ran
faster than blocks of 256 (AMD EPYC znver3, CPU time, one process, interleaved, loaded: whole-K
blocks 0.97x the time at matmul 512, 0.955x at matmul 1024), though the K x NR panel of B then
leaves L1: a block's end loads and stores the C tile again, and each micro-kernel call starts its
MR rows of A (not packed) as new streams, which a longer block keeps going; the packed panel
streams from L2 (or L3) well enough. But each block sums an output in one float32 FMA chain, so a
long one loses accuracy: [64, 4096] x [4096, 64] N(0, 1), max error against float64 over 4 seeds
1.1e-4 in blocks of 256, 1.4e-4 of 512, 2.0e-4 of 1024, 6.7e-4 of 4096 (numpy 8.9e-5). 512 keeps
the error within 1.3x of blocks of 256 and most of the speed (matmul 1024, one thread: 1.023x the
time of whole K, blocks of 256 1.052x; matmul 512 is one block either way)."""
GEMM_ROW_GROUPS = 4
GEMM_ITEMS = 16
"""A threaded GEMM's work items (`gemm_items`): up to GEMM_ROW_GROUPS groups of whole MC-row blocks
times enough panel groups to make about GEMM_ITEMS items, taken from the team's work counter.
Each item reads its rows of A and its panels of B about as often as a static half did (a row
block sweeps the item's panels; 16 items of matmul 1024 read A 4 times and B 4 times, where
chunks of 2 or 8 panels read all of A 32 or 8 times: 5-20% more CPU time at two threads, AMD
EPYC znver3), and 16 items leave the last ones small enough to balance two threads."""


def gemm_mc(mr: int) -> int:
    """Rows per cache block of A: `GEMM_MC` rounded down to whole blocks of `mr` rows, at least one."""
    return max(mr, GEMM_MC // mr * mr)


def gemm_k_block(k: int) -> int:
    """Reduction steps per K block of a GEMM of depth `k`: all of them, or an even split into as
    few blocks of at most `GEMM_K_BLOCK_MAX` as it takes (none much shorter than the others)."""
    blocks = max(1, -(-k // GEMM_K_BLOCK_MAX))
    return max(1, -(-k // blocks))


def gemm_items(m: int, panels: int, mr: int) -> tuple[int, int]:
    """(row groups, panel groups) of a GEMM whose threads split "n": the items are their
    products, a row group whole MC-row blocks (`gemm_mc`), a panel group consecutive panels,
    each shared out as evenly as integer division does (see `GEMM_ITEMS`)."""
    blocks = max(1, -(-m // gemm_mc(mr)))
    row_groups = min(blocks, GEMM_ROW_GROUPS)
    return row_groups, max(1, min(panels, -(-GEMM_ITEMS // row_groups)))


def gemm_item_sizes(m: int, panels: int, mr: int) -> list[int]:
    """Rows times panels of each item of a GEMM whose threads split "n", in the kernel's order
    (`gemm_items`; item i is row group i mod G of the panel group i // G, group g of G over B
    holding [g B / G, (g + 1) B / G)): panel group by panel group, so a thread taking the front
    or the back items reads mostly the panels it packed."""
    mc, (row_groups, panel_groups) = gemm_mc(mr), gemm_items(m, panels, mr)
    blocks = max(1, -(-m // mc))
    rows = [min(m, (g + 1) * blocks // row_groups * mc) - min(m, g * blocks // row_groups * mc)
            for g in range(row_groups)]
    cols = [(g + 1) * panels // panel_groups - g * panels // panel_groups for g in range(panel_groups)]
    return [r * c for c in cols for r in rows]


PIXEL_ITEM_PIXELS = 64
"""Output pixels per item of a direct convolution whose threads split the pixels (whole tiles,
`pixel_item_tiles`): the item's tiles share each channel block's weights of every output
channel, read once per item instead of once per tile."""
PIXEL_ITEMS = 4
"""Items of a pixel-split direct convolution at least where the image has that many tiles, for
two cores' balance."""


def pointwise(kernel: Sequence[int], attrs: dict[str, Any]) -> bool:
    """A 1x1 convolution of stride 1 without padding: its output pixels are its input pixels, so
    the direct kernel runs each image as one row of OH x OW pixels, read in place (no padded copy)."""
    return tuple(kernel) == (1, 1) and tuple(attrs["strides"]) == (1, 1) and not any(attrs["pads"])


def pixel_rows(out: TensorType, kernel: Sequence[int], attrs: dict[str, Any]) -> tuple[int, int]:
    """(rows, pixels per row) the direct convolution kernel tiles: one row of OH x OW pixels for a
    `pointwise` convolution, else the output's OH rows of OW."""
    oh, ow = out.shape[2], out.shape[3]
    return (1, oh * ow) if pointwise(kernel, attrs) else (oh, ow)


def pixel_item_tiles(tiles: int, nr: int, channel_blocks: int) -> int:
    """Consecutive pixel tiles (of `nr` pixels; `tiles` in the image) per item of a direct
    convolution whose threads split the pixels: with one channel block, one (its tiles share
    nothing beyond the one pass over the weights); else enough for `PIXEL_ITEM_PIXELS` pixels,
    fewer when the image has under `PIXEL_ITEMS` items of that many, at least one."""
    if channel_blocks <= 1:
        return 1
    return max(1, min(-(-PIXEL_ITEM_PIXELS // nr), tiles // PIXEL_ITEMS))


def phase_plane(h: int, w: int, strides: Sequence[int], pads: Sequence[int]) -> tuple[int, int]:
    """Rows and columns (hq, wq) of one stride phase of an h x w input zero-padded by `pads`
    (top, left, bottom, right): the padded input split into sh x sw phases, phase (ph, pw)
    holding the pixels at rows ph, ph + sh, ... and columns pw, pw + sw, ... ."""
    (sh, sw), (top, left, bottom, right) = strides, pads
    return -(-(h + top + bottom) // sh), -(-(w + left + right) // sw)


def padded_plane(h: int, w: int, strides: Sequence[int], pads: Sequence[int]) -> int:
    """Floats of one channel of a strided direct convolution's padded, phase-split input: its
    sh x sw phases of `phase_plane` (the padded plane rounded up to whole strides)."""
    hq, wq = phase_plane(h, w, strides, pads)
    return strides[0] * strides[1] * hq * wq


def strided_tile_bytes(kh: int, kw: int, sw: int, nr: int, dw: int = 1) -> int:
    """Bytes of cache lines one input channel of a strided convolution's tile reads: in each of
    its kh rows, a row of NR taps plus the window's reach ((kw - 1) dw // sw) in each column
    phase its taps touch (the distinct s dw mod sw, at most min(sw, kw)), one line more for a
    row that starts mid-line."""
    phases = len({s * dw % sw for s in range(kw)})
    row = (-(-(nr + (kw - 1) * dw // sw) * 4 // CACHE_LINE_BYTES) + 1) * CACHE_LINE_BYTES
    return kh * phases * row


def depthwise_registers(taps: int, rows: int, nv: int, held: int = 0) -> int:
    """Vector registers a depthwise tile of `rows` by `nv` vectors holds: its accumulators, the
    splat weights of its `taps`, one tap vector, and the `held` tap vectors its rows' stores
    keep live (`depthwise_held_taps`)."""
    return taps + rows * nv + 1 + held


def depthwise_held_taps(kernel: Sequence[int], stride: int, dilation: int, rows: int, nv: int) -> int:
    """Tap vectors a depthwise tile of `rows` by `nv` vectors of a `kernel` (kh, kw) holds across
    its rows' stores when each row stores its partial last vector under a branch (whole, or
    masked at the plane's end: `depthwise.Spill`; in a loop over blocks, where the row is known
    only at run time): LLVM computes the first two rows before the
    first store and each later row after the stores before it, so every tap vector a row from
    the third on reads that an earlier row read stays live, kw x nv per ring row. Counted in the
    object code (AVX-512 and AVX2, tiles of 1-7 rows by 1-4 vectors, 3x3-7x7, strides 1 and 2):
    the tiles that need more registers than the ISA has with them spill (672 channels at 14x14
    5x5 in 4 x 1: 25 weights, 4 accumulators, a tap and 25 held, 131 stack accesses; 2 x 1 none),
    and without them (the same tiles on a row of whole vectors) they mostly do not."""
    kh, kw = kernel
    seen = {i * stride + r * dilation for i in range(min(rows, 2)) for r in range(kh)}
    held: set[int] = set()
    for i in range(2, rows):
        reads = {i * stride + r * dilation for r in range(kh)}
        held |= reads & seen
        seen |= reads
    return len(held) * kw * nv


DEPTHWISE_RING_BYTES = 4096
"""A depthwise channel's ring of padded rows, unless the rows one block reads plus the rows filled
ahead of it (at least a block's) need more: rows are filled this far ahead of their first reader,
so its loads do not wait on the stores that filled them (filled just before, a 14x14 plane ran at
half the speed), and the ring stays in L1."""


def depthwise_phase_floats(w: int, ow: int, lanes: int, sw: int, left: int, kw: int, dw: int) -> int:
    """Floats of one column phase of a depthwise ring row: the image with its left pad, or the
    last output vector's reach if longer."""
    vectors = -(-ow // lanes)
    chunks = -(-w // (sw * lanes))
    return max(chunks * lanes + (sw - 1 + left) // sw, vectors * lanes + (kw - 1) * dw // sw)


def depthwise_lead(block_reads: int, step: int, row_floats: int) -> int:
    """Rows a depthwise ring would fill ahead of the block that first reads them: one block's
    step of rows (`step`: RB x sh), or as many more as keep the ring within
    `DEPTHWISE_RING_BYTES` beside the block's `block_reads` rows of `row_floats` floats."""
    return max(step, DEPTHWISE_RING_BYTES // (FLOAT_BYTES * row_floats) - block_reads)


def depthwise_ring(last: int, block_reads: int, step: int, row_floats: int) -> int:
    """Rows of a depthwise ring: every padded row the output reads (`last`) when one block's
    rows and the wanted lead (`depthwise_lead`) reach them; else a power of two, so that a row's
    slot is its index's low bits rather than a remainder (LLVM's remainder by a constant took 8
    instructions per ring row a tile reads): the largest power of two of at most those rows that
    still holds a block's rows and the next block's, or those rows."""
    wanted, least = block_reads + depthwise_lead(block_reads, step, row_floats), block_reads + step
    if wanted >= last:
        return last
    rows = 1 << (wanted.bit_length() - 1)
    return rows if rows >= least else wanted


def round_up(n: int, m: int) -> int:
    """`n` rounded up to a multiple of `m`."""
    return -(-n // m) * m


def row_lanes(width: int, lanes: int) -> int:
    """Lanes of the vectors a kernel runs rows of `width` values on, on a host of `lanes`: half of
    AVX-512's 16 where a row fits in 8 (on Zen 4 a 512-bit instruction is two 256-bit halves, so
    a 7-wide row runs 7 of 8 lanes at the same cost a vector instead of 7 of 16; measured for the
    depthwise kernel, `depthwise_schedules.depthwise_vector`, the int8 convolution and the max
    pool of small planes: GoogLeNet's 832 7x7 planes 23.2 -> 16.0 us on one core), else the host's."""
    return lanes // 2 if lanes == 16 and width <= lanes // 2 else lanes
