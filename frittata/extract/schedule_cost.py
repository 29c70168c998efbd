"""The CPU price of a loop schedule: how fast a contraction runs with its register blocks.

A contraction on the CPU's blocked path (`cpu_schedules.blocked_schedule`: a `tiled_conv2d` /
`tiled_dense` with its own schedule, or an untiled one with the default) runs as register blocks of MR rows by
NV vectors of L lanes. Its compute time is

    flops / (cores * peak * REACHABLE * registers * lanes * balance * depth)

and the kernel is bound by the larger of that and the time to re-stream the operand that the
inner loop sweeps (`stream_seconds`). The factors, each in (0, 1]:

  registers  FMA throughput of one k step of the micro-kernel: MR*NV FMAs against the loads
             (NV vector loads + MR broadcasts, which AVX-512 folds into the FMAs of a one-vector
             block: `folded_broadcasts`) and the FMA latency chain; averaged over the full
             blocks and the remainder block (a tail of few rows has few independent accumulators);
             a block needing more vector registers than the host has spills;
  lanes      busy lanes: a vector narrower than the host's wastes the rest; one wider than the
             host's is split into several host vectors; partial column tiles compute whole tiles;
  balance    the parallel loop's units over the cores (ceil(units / cores) per core); a GEMM
             whose threads split "n" takes items of rows by panels (`cpu_geometry.gemm_items`)
             from a work counter, balanced as the cores take them (`taken_balance`: even ones
             from the front, odd ones from the back);
  depth      the C block is loaded and stored once per reduction block (dense: KC; conv: CB
             input channels times the taps);
  cache      a convolution's block re-read every k step (MR x CB channels x taps of weights)
             fits in half of L1 (the other half holds the streamed operand and C, the BLIS
             convention), or streams from L2; a GEMM's KC x NR packed panel of B streams from
             L2 at no measured cost (`cpu_geometry.GEMM_K_BLOCK_MAX`);
  strided    a strided convolution's tile input (row slices of several phases per channel)
             stays in L1 across the output-channel blocks (pixel split, a channel block's rows
             fitting L1: `_strided_input_in_l1`), or streams from L2.

A strided convolution also pays its pad pass, which copies the input into its stride phases
before the tiles run (`phase_split_seconds`), added to the time above. The kernel copies a
stride-1 convolution's input into its padded plane too (contiguous rows, vectorized); that copy
is not charged (an A/B of charging it has not been measured), nor the int8 kernel's copy.

An int8 convolution (`int8_schedules.int8_conv_schedule`) runs at `INT8_PEAK_SCALE` of the fp32
peak, times its busy lanes and its tiles' balance.
A small pointwise convolution's pixel GEMM (`cpu_schedules.pixel_gemm_schedule`) is priced as a
dense layer over its pixels, with its transposed store (`pixel_gemm_seconds`); an expanding
one's channel GEMM (`cpu_schedules.channel_gemm_schedule`) as a dense layer over its output
channels (`gemm_efficiency`, `gemm_stream_seconds`), sped up by its packed panels' locality
(`PANEL_LOCALITY`, measured; `channel_gemm_seconds`).
A depthwise convolution is priced by `depthwise_cost` (its tiles' and ring's cycles), a
Winograd one by `winograd_cost`.

Invariant: seconds >= 0; for a fixed schedule, proportional to FLOPs except the pad pass
(proportional to the input's bytes); only the schedule's
attributes and the operand shapes matter. The host figures are the model's `vector_lanes`,
`cores`, `fp32_flops_per_core`, `cache_bytes` and `dram_bandwidth`.
"""

from __future__ import annotations

import math
from functools import cache
from typing import assert_never

from llvmlite import binding as llvm

from frittata.extract.cost import NodeInfo
from frittata.extract.cpu_work import Kind, Work
from frittata.terms.cpu_geometry import (FMA_LATENCY, FMA_PORTS, L1_DATA_BYTES, gemm_item_sizes,
                                         gemm_mc, padded_plane, pixel_item_tiles, pixel_rows, registers_for,
                                         strided_tile_bytes, vector_lanes)
from frittata.terms.cpu_schedules import CONV_OPS, Schedule, kernel_of
from frittata.terms.ops import Op

KIB = 1024

REACHABLE = 0.9
"""Fraction of FMA peak a register-blocked micro-kernel keeps with all factors at 1: loop and
call overhead and the epilogue pass (estimate)."""
LOAD_PORTS = 2
"""Vector loads or load-broadcasts per cycle: 2 x 256-bit on Zen 3 (AMD Zen 3 software optimization
guide); measured here, a 12 x 1-vector 3x3 conv block runs ~12% slower than a 6 x 2 one, as
counting each broadcast against these two ports predicts (13 loads per 12 FMAs)."""
L1_BYTES = L1_DATA_BYTES
"""L1 data cache per core (the smaller of the machines seen, `cpu_geometry.L1_DATA_BYTES`)."""
L2_BANDWIDTH = 96e9
"""Bytes/s one core streams from its L2: 32 bytes/cycle at ~3 GHz (Zen 3 optimization guide)."""
C_BLOCK_STEPS = 8.0
"""k steps' worth of time to load and store one C block at the ends of a reduction block (estimate)."""
INT8_PEAK_SCALE = 0.75
"""Fraction of the fp32 FMA peak (in FLOPs, a multiply-add = 2) the int8 convolution kernel
reaches: a 3x3 64 -> 64 int8 convolution at 56x56 ran in 2.45 ms (94 GOP/s; fastest of 15 on 1
thread, 2026-12, AMD EPYC znver3, shared machine) against a 121 GFLOP/s peak."""
BYTE_QUAD_SPEEDUP = 1.8
"""Speed of the int8 kernel's byte quads (`int8quads`: vpdpbusd, 4 multiply-adds a lane) over its
int16 pairs (vpdpwssd, 2) on the same machine, where the model has them (`CpuModel.byte_quads`):
ResNet-18 int8's stride-2 3x3 layers 1.81, 1.93, 1.97x, its 1x1 ones 1.27, 1.46, 1.76x (the
input's pack weighs more against their 9x fewer multiply-adds), one Zen 4 core, medians of 30
`run_timed`, shared machine, 2026-12-05."""
PANEL_LOCALITY = 1.1
"""Speed of the channel GEMM (`channel_gemm_seconds`) over a dense layer of its blocks: its B is
the input packed into panels, one contiguous stream that stays in L1 across the row blocks, where
the direct kernel reads a pointwise tile's NR pixels of each input channel a row of pixels apart
(two cache lines per channel), and the model prices both alike. One Zen 3 core, CPU time, one
process, interleaved, loaded (load 6-10), with bias and ReLU, the channel GEMM's time over the
direct kernel's: 64 -> 256 at 56x56 0.91, 128 -> 512 at 28x28 0.99, 256 -> 1024 at 14x14 0.88
(0.91 without its residual), 512 -> 1024 at 14x14 0.83, 64 -> 128 at 56x56 0.92: the median 0.91,
its inverse 1.1 (the packing's cost included)."""
L2_RESIDENT = 0.8
"""Efficiency left when the block a convolution's micro-kernel re-reads every k step (its MR rows
of weights) misses L1 and streams from L2 (estimate); also when a strided convolution's tile
input rows do (`_strided_input_in_l1`; one Zen 3 core: ResNet-50's 3x3 stride-2 layers ran ~1.2x
slower so)."""


@cache
def host_vector_lanes() -> int:
    """fp32 lanes of the host's widest vector register (`cpu_geometry.vector_lanes`)."""
    return vector_lanes(llvm.get_process_triple(), llvm.get_host_cpu_features().flatten())


def folded_broadcasts(nv: int, vec: int, lanes: int) -> bool:
    """Whether a block's broadcasts are folded into its FMAs: with AVX-512 (16 lanes), a block of
    one host vector a row uses each broadcast in one FMA, and LLVM makes it the FMA's embedded
    `{1to16}` memory operand (`cpu_schedules.WIDE_TAP_VECTORS`), no load against LOAD_PORTS' vector
    loads. AMD EPYC znver4, one thread, CPU time, loaded, the channel GEMM's 8 x 1 panels over
    8 x 2 (`cpu_schedules.CHANNEL_GEMM_WIDE_VECTORS`): 0.91-0.96, where counting its 9 loads per
    8 FMAs priced 8 x 1 at 1.05-1.13x."""
    return lanes >= 16 and nv * max(1, vec // lanes) == 1


def block_efficiency(rows: int, nv: int, vec: int, lanes: int) -> float:
    """FMA throughput of one k step of a rows x nv-vector block (see the module docstring)."""
    split = max(1, vec // lanes)
    fmas = rows * nv * split
    loads = nv * split + (0 if folded_broadcasts(nv, vec, lanes) else rows)
    cycles = max(fmas / FMA_PORTS, loads / LOAD_PORTS, FMA_LATENCY)
    efficiency = fmas / FMA_PORTS / cycles
    needed, available = fmas + nv * split + 1, registers_for(lanes)
    if needed > available:
        efficiency *= (available / needed) ** 2
    return efficiency


def rows_efficiency(total: int, mr: int, nv: int, vec: int, lanes: int) -> float:
    """Time-weighted efficiency over the full row blocks and the remainder block."""
    full, tail = divmod(total, mr)
    seconds = full * mr / block_efficiency(mr, nv, vec, lanes)
    if tail:
        seconds += tail / block_efficiency(tail, nv, vec, lanes)
    return total / seconds if seconds else 1.0


def lane_efficiency(columns: int, nr: int, vec: int, lanes: int) -> float:
    """Busy fraction of the host's lanes: vector width fit times the partial column tiles."""
    width = min(vec, lanes) / lanes
    return width * columns / (math.ceil(columns / nr) * nr) if columns else width


def balance(units: int, cores: int) -> float:
    """Fraction of the cores kept busy when `units` equal pieces are split among them."""
    return units / (cores * math.ceil(units / cores)) if units else 1.0


def taken_balance(sizes: list[int], cores: int) -> float:
    """Fraction of the cores kept busy when items of these sizes are taken from a work counter
    as the kernel's threads take them: even cores the first item left, odd ones the last, each
    item by the core that is free first (one item a chunk: a threaded GEMM has fewer items than
    the chunks a loop is cut into)."""
    loads, front, back = [0] * cores, 0, len(sizes)
    while front < back:
        core = loads.index(min(loads))
        if core % 2 == 0:
            loads[core] += sizes[front]
            front += 1
        else:
            back -= 1
            loads[core] += sizes[back]
    return sum(sizes) / (cores * max(loads)) if sum(sizes) else 1.0


def schedule_efficiency(info: NodeInfo, s: Schedule, lanes: int, cores: int) -> float:
    """The product of the factors of the module docstring, REACHABLE included."""
    rows, cols, units = _geometry(info, s)
    kc, reread = _reduction_block(info, s)
    if info.op not in CONV_OPS:
        return gemm_efficiency(rows, cols, kc, s, lanes, cores)
    mr, nr, vec = s["oc_block"], s["ow_block"], s["vec"]
    efficiency = (REACHABLE * rows_efficiency(rows, mr, nr // vec, vec, lanes)
                  * lane_efficiency(cols, nr, vec, lanes) * balance(units, cores))
    efficiency *= kc / (kc + C_BLOCK_STEPS)
    efficiency *= 1.0 if _strided_input_in_l1(info, s) else L2_RESIDENT
    return efficiency * (1.0 if reread <= L1_BYTES // 2 else L2_RESIDENT)


def gemm_efficiency(rows: int, cols: int, kc: int, s: Schedule, lanes: int, cores: int) -> float:
    """The factors of the module docstring for the blocked GEMM of `rows` x `cols` with reduction
    blocks of `kc` steps (schedule keys m_block, n_block, vec, parallel): REACHABLE, its MR x NR
    blocks, busy lanes, the balance of its items ("n": `gemm_item_sizes` as the cores take them)
    or row blocks ("m"), and the C block per reduction block (its KC x NR panel of B may
    stream from L2: `cpu_geometry.GEMM_K_BLOCK_MAX` says why that is not priced). The dense
    layers and the channel GEMM are priced by it."""
    mr, nr, vec = s["m_block"], s["n_block"], s["vec"]
    shared = (taken_balance(gemm_item_sizes(rows, math.ceil(cols / nr), mr), cores) if s["parallel"] == "n"
              else balance(math.ceil(rows / mr), cores))
    return (REACHABLE * rows_efficiency(rows, mr, nr // vec, vec, lanes)
            * lane_efficiency(cols, nr, vec, lanes) * shared * kc / (kc + C_BLOCK_STEPS))


def _strided_input_in_l1(info: NodeInfo, s: dict) -> bool:
    """Whether a convolution's tiles find their input in L1: always at stride 1 or with one tap;
    a strided tile's input rows (`strided_tile_bytes` per channel) stay there across the output
    channel blocks only when the threads split items of pixel tiles and a channel block's rows
    fit L1, else they stream from L2 (one Zen 3 core: 3x3 stride-2 128 -> 128 at 56x56 and
    256 -> 256 at 28x28 ran ~1.2x slower with blocks of 75 channels than of 28)."""
    if info.op not in CONV_OPS:
        return True
    (_, _, kh, kw), (sh, sw) = info.operands[1].shape, dict(info.attrs)["strides"]
    if (sh, sw) == (1, 1) or kh * kw == 1:
        return True
    cb, dw = min(s["c_block"], max(info.operands[1].shape[1], 1)), dict(info.attrs)["dilations"][1]
    return s["parallel"] == "pixel" and cb * strided_tile_bytes(kh, kw, sw, s["ow_block"], dw) <= L1_BYTES


def _reduction_block(info: NodeInfo, s: dict) -> tuple[int, int]:
    """(k steps per reduction block, bytes of the weight block re-read on every step of it)."""
    x, w = info.operands[0], info.operands[1]
    if info.op not in CONV_OPS:
        kc = min(s["k_block"], max(x.shape[-1], 1))
        return kc, kc * s["n_block"] * 4
    taps = w.shape[2] * w.shape[3]
    kc = min(s["c_block"], max(w.shape[1], 1)) * taps
    return kc, s["oc_block"] * kc * 4


def blocked_compute_seconds(info: NodeInfo, s: Schedule, flops: float, model) -> float:
    """Seconds of a contraction run with schedule `s` on `model` (a `CpuModel`): FMA-bound or
    stream-bound (see the module docstring)."""
    match kernel_of(s):
        case "depthwise":
            raise AssertionError("blocked_compute_seconds: a depthwise schedule is priced by depthwise_cost")
        case "int8":
            return int8_conv_seconds(info, s, flops, model)
        case "pixel_gemm":
            return pixel_gemm_seconds(info, s, flops, model)
        case "lanes_conv":
            return lanes_conv_seconds(info, s, flops, model)
        case "channel_gemm":
            return channel_gemm_seconds(info, s, flops, model)
        case "winograd" | "int8_winograd":
            raise AssertionError("blocked_compute_seconds: a Winograd schedule is priced by winograd_cost")
        case "blocked":
            return _blocked_seconds(info, s, flops, model)
        case unknown:
            assert_never(unknown)


def _blocked_seconds(info: NodeInfo, s: Schedule, flops: float, model) -> float:
    """Seconds of the blocked GEMM / direct convolution: FMA-bound or stream-bound, plus a
    strided convolution's pad pass."""
    efficiency = schedule_efficiency(info, s, model.vector_lanes, model.cores)
    fma = flops / (model.cores * model.fp32_flops_per_core * efficiency)
    l2_share = model.cache_bytes / model.cores
    streamed = stream_seconds(info, s, model.cores, l2_share, model.dram_bandwidth)
    return max(fma, streamed) + phase_split_seconds(info, model)


def phase_split_seconds(info: NodeInfo, model) -> float:
    """Seconds of a strided direct convolution's pad pass, before its tiles: every input
    element copied, one at a time, into the padded input's sh x sw stride phases (a strided
    copy, priced as the model prices one), whichever phases the kernel's taps read. A 1x1
    stride-2 convolution reads one phase in four: on one Zen 3 core, 32 -> 48 at 112x112 ran in
    720 us so, and in 281 us as a slice and a pointwise convolution (64 -> 128 at 56x56: 493 and
    270 us). 0 for a stride-1 convolution or a matmul."""
    if info.op not in CONV_OPS or tuple(dict(info.attrs)["strides"]) == (1, 1):
        return 0.0
    x, attrs = info.operands[0], dict(info.attrs)
    n, c, h, w = x.shape
    phases = padded_plane(h, w, attrs["strides"], attrs["pads"])
    return model.memory_seconds(Work(0.0, float(x.nbytes + n * c * phases * 4), Kind.STRIDED_COPY))


def int8_conv_seconds(info: NodeInfo, s: Schedule, flops: float, model) -> float:
    """Seconds of the int8 convolution kernel: its multiply-adds at `INT8_PEAK_SCALE` times the
    fp32 FMA peak, times busy lanes and the balance of its tiles over the cores. With byte quads
    `BYTE_QUAD_SPEEDUP` faster, and a tile of half-width vectors (rows of at most 8 pixels on a
    16-lane machine, a pointwise convolution's row all its pixels:
    `cpu_geometry.pixel_rows`) at the full rate: VNNI's ymm vpdpbusd issues twice a cycle where the zmm one
    issues once (7.31 against 3.67 G/s on a Zen 4 core, 2026-12-05)."""
    out = info.type
    rows, row = pixel_rows(out, info.operands[1].shape[2:], dict(info.attrs))
    lanes = lane_efficiency(row, s["ow_block"], s["vec"], model.vector_lanes)
    tiles = math.ceil(out.shape[1] / s["oc_block"]) * rows * math.ceil(row / s["ow_block"])
    if model.byte_quads:  # a half-width vector's vpdpbusd issues twice as often (`int8quads`)
        lanes *= BYTE_QUAD_SPEEDUP * model.vector_lanes / min(s["vec"], model.vector_lanes)
    rate = model.cores * model.fp32_flops_per_core * INT8_PEAK_SCALE * lanes * balance(tiles, model.cores)
    return flops / rate


def pixel_gemm_seconds(info: NodeInfo, s: Schedule, flops: float, model) -> float:
    """Seconds of the pixel GEMM of a pointwise convolution: register blocks of MR pixels by NR
    output channels priced as a dense layer's (rows: the pixels; columns: the output channels,
    whose panels the threads split), the whole reduction (C input channels) in one block call,
    and the block's transposed store: element by element through a stack tile (MR x NR scalar
    moves against MR x NV FMAs per k step, about L (lanes) k steps' worth, hence a factor
    C / (C + L)), except that with 8 lanes the whole blocks (MR <= 8, a full panel, 8 pixels
    inside the image) are transposed in registers and stored as vectors: two 8 x 8 transposes
    (24 shuffles each) and 16 vector stores per block of 2 vectors, ~25-30 cycles on Zen 3's two
    shuffle pipes, 5-6 k steps of MR = 5-6 rather than L = 8. The factor stays L for every
    block: the layers of MobileNetV2, EfficientNet-B0 and the ResNets that take the pixel GEMM
    with whole blocks have C >= 160 (7x7) or C >= 256 (14x14), where C / (C + 8) is at most 1.8%
    below C / (C + 5), and the kernel's
    measured time against the direct kernel's (bench/cost_choices.py, one Zen 3 core, CPU time,
    loaded; MobileNetV2, EfficientNet-B0, ResNet-50: 0.70-0.87 at 7x7) is already above the
    model's ratio (0.64-0.70), so a cheaper price would move it the wrong way."""
    out, c = info.type, info.operands[0].shape[1]
    mr, nr, vec, lanes = s["m_block"], s["n_block"], s["vec"], model.vector_lanes
    efficiency = (REACHABLE * rows_efficiency(out.shape[2] * out.shape[3], mr, nr // vec, vec, lanes)
                  * lane_efficiency(out.shape[1], nr, vec, lanes) * balance(math.ceil(out.shape[1] / nr), model.cores)
                  * c / (c + vec))
    return flops / (model.cores * model.fp32_flops_per_core * efficiency)


def channel_gemm_seconds(info: NodeInfo, s: Schedule, flops: float, model) -> float:
    """Seconds of the channel GEMM of an expanding pointwise convolution, per image the GEMM of
    the weights (rows: the output channels) and the input (columns: the pixels, packed into
    panels of NR at run time): a dense layer's price (`gemm_efficiency`, FMA-bound or bound by
    re-streaming the input once per cache block of rows, `gemm_stream_seconds`) sped up by
    `PANEL_LOCALITY`, which the packing's cost is measured inside (it is not charged apart)."""
    out, x = info.type, info.operands[0]
    rows, cols = out.shape[1], out.shape[2] * out.shape[3]
    kc = min(s["k_block"], max(x.shape[1], 1))
    efficiency = gemm_efficiency(rows, cols, kc, s, model.vector_lanes, model.cores) * PANEL_LOCALITY
    fma = flops / (model.cores * model.fp32_flops_per_core * efficiency)
    image = x.nbytes // max(x.shape[0], 1)
    streamed = x.shape[0] * gemm_stream_seconds(rows, image, s, model.cores, model.cache_bytes / model.cores,
                                                model.dram_bandwidth)
    return max(fma, streamed)


def lanes_conv_seconds(info: NodeInfo, s: Schedule, flops: float, model) -> float:
    """Seconds of the channels-in-lanes direct convolution: register blocks of NP pixels by NB
    output channels priced as a GEMM's rows by columns (`rows_efficiency`), busy lanes over the
    output channels, the last tile's spare pixels, the items' balance over the cores, the
    partial sums' load and store per channel block (`C_BLOCK_STEPS`), and the padded copy of
    the input (a contiguous copy) when the convolution pads. The tile's transposed store is not
    priced: the kernel only runs reductions of `cpu_schedules.LANES_MIN_DEPTH` steps or more
    (that gate's docstring says why it is a rule), where L steps more per tile would be 3% at
    256 steps and under 1.4% on ResNet's layers (576 steps and more)."""
    out, x, w = info.type, info.operands[0], info.operands[1]
    np_, nb, vec = s["pixel_block"], s["oc_block"], s["vec"]
    pixels, taps = out.shape[2] * out.shape[3], w.shape[2] * w.shape[3]
    tiles = math.ceil(pixels / np_)
    items = math.ceil(tiles / s["item_tiles"]) * math.ceil(out.shape[1] / nb)
    kc = min(s["c_block"], max(w.shape[1], 1)) * taps
    efficiency = (REACHABLE * rows_efficiency(np_, np_, nb // vec, vec, model.vector_lanes)
                  * lane_efficiency(out.shape[1], nb, vec, model.vector_lanes) * pixels / (tiles * np_)
                  * balance(items, model.cores) * kc / (kc + C_BLOCK_STEPS))
    padded = 0.0
    if any(dict(info.attrs)["pads"]):
        padded = model.memory_seconds(Work(0.0, 2.0 * x.nbytes, Kind.COPY))
    return flops / (model.cores * model.fp32_flops_per_core * efficiency) + padded


def _geometry(info: NodeInfo, s: dict) -> tuple[int, int, int]:
    """(rows, columns, units of the parallel loop) of the blocked iteration space (a convolution's:
    rows and columns of one group, units of every group, which the threads take from one range;
    a GEMM split "n": its column panels, which `gemm_items` groups; a matmul of a batch of right
    matrices: one batch item's, since the kernel runs one GEMM per item)."""
    out = info.type
    if info.op in CONV_OPS:
        o = out.shape[1] // info.attr("groups", 1)
        oh, ow = pixel_rows(out, info.operands[1].shape[2:], dict(info.attrs))
        pixel_tiles = oh * math.ceil(ow / s["ow_block"])
        channel_blocks = math.ceil(info.operands[1].shape[1] / s["c_block"])
        units = (math.ceil(o / s["oc_block"]) if s["parallel"] == "oc"
                 else math.ceil(pixel_tiles / pixel_item_tiles(pixel_tiles, s["ow_block"], channel_blocks)))
        return o, ow, units * info.attr("groups", 1)
    n = out.shape[-1]
    m = out.shape[-2] if info.op == Op.MATMUL and len(info.operands[1].shape) > 2 else out.size // max(n, 1)
    units = math.ceil(n / s["n_block"]) if s["parallel"] == "n" else math.ceil(m / s["m_block"])
    return m, n, units


def stream_seconds(info: NodeInfo, s: Schedule, cores: int, l2_bytes: float, dram_bandwidth: float) -> float:
    """Seconds to re-read the operand the inner loop sweeps, once per outer unit, per core.

    A convolution split over channel blocks sweeps the padded input once per block; one split
    over pixel tiles sweeps all the weights once per item of tiles (`pixel_item_tiles`; a
    grouped one: its group's, per group). A dense layer streams its packed weights (its share
    of them when the threads split the columns) once per cache block of rows (`gemm_mc`). The
    operand streams from L2 if it fits one core's share of L2, else from memory.
    """
    x, w = info.operands[0], info.operands[1]
    swept: float
    if info.op in CONV_OPS:
        groups = info.attr("groups", 1)
        passes = math.ceil(_geometry(info, s)[2] / cores)
        swept = (x.nbytes if s["parallel"] == "oc" else w.nbytes) / groups
    else:
        return gemm_stream_seconds(_geometry(info, s)[0], w.nbytes, s, cores, l2_bytes, dram_bandwidth)
    bandwidth = L2_BANDWIDTH if swept <= l2_bytes else dram_bandwidth / cores
    return passes * swept / bandwidth


def gemm_stream_seconds(rows: int, b_bytes: float, s: Schedule, cores: int, l2_bytes: float,
                        dram_bandwidth: float) -> float:
    """Seconds to re-stream a blocked GEMM's packed B (`b_bytes`; its share of it per core when
    the threads split the columns, "n") once per cache block of rows (`gemm_mc`), from L2 if it
    fits one core's share of L2 (`l2_bytes`), else from memory."""
    blocks = math.ceil(rows / gemm_mc(s["m_block"]))
    passes, swept = ((blocks, b_bytes / cores) if s["parallel"] == "n"
                     else (math.ceil(blocks / cores), b_bytes))
    bandwidth = L2_BANDWIDTH if swept <= l2_bytes else dram_bandwidth / cores
    return passes * swept / bandwidth
