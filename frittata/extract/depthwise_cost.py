"""The CPU price of the depthwise convolution kernel (`depthwise_schedules.depthwise_schedule`), counted
from its structure (`frittata.backends.llvm.depthwise`).

Per input channel the kernel fills a ring of padded rows (each padded row the output reads,
once, split into its sw column phases on vectors), then runs tiles of RB output rows by NV
vectors for each of its m = O / C output channels; the cores take the channels from the team's
work counter. Its time is cycles at the clock of the model's FMA peak, over REACHABLE:

    channels per core x (fill + slots + m x tiles)

  tiles  one tile issues RB*NV*taps FMAs and loads each distinct (input row, column tap, vector)
         once; its cycles are the most of the FMAs over FMA_PORTS, the loads over LOAD_PORTS
         (a tile whose weights, accumulators and tap vector overflow the vector registers
         reloads each weight once: one load per tap; see "Spilled tiles" below) and the chain of
         `taps` dependent FMAs of each accumulator (taps x FMA_LATENCY, shared with the next
         tiles' chains up to `CHAINS_IN_FLIGHT` accumulators in all, as many as
         `SCHEDULED_FMAS` hold), plus one cycle per vector stored and `SPILL_CYCLES` per held
         tap vector spilled (see "Spilled tiles" below). The last column tile has the row's
         remaining vectors, the last row block the remaining rows. A row's partial last vector
         is stored whole where its spare lanes land on outputs this thread stores later
         (`depthwise.Spill`), else under a mask at MASKED_STORE_CYCLES (`masked_stores`): the
         plane's last row; and when the row has full column tiles before the partial one, every
         row of a block but its last;
  fill   `FILL_CYCLES_PER_VECTOR` cycles per vector of every padded row read (a load and a
         store each; `STRIDED_FILL_CYCLES_PER_VECTOR` for a strided row, split into phases by
         shuffles);
  slots  a ring that is neither every row the output reads nor a power of two of rows
         (`cpu_geometry.depthwise_ring`, the backend's choice) finds a row's slot by a remainder
         (LLVM's remainder by a constant, `REMAINDER_CYCLES`), once per ring row each block
         reads and once per row filled. MobileNetV2's 96-channel 3x3 stride-2 layer at 112x112
         and EfficientNet-B0's 5x5 stride-2 layer at 56x56 have such rings (1-3% of their tiles
         and fill).

Spilled tiles: a tile whose rows each store a partial last vector under a branch (a row of one
tile that ends in a partial vector) holds the tap vectors its third and later rows share with
earlier rows across those stores (`cpu_geometry.depthwise_held_taps`); where they overflow the
registers, each held tap spilled costs `SPILL_CYCLES`. On one Zen 4 core (AVX-512) tiles of 3-7
rows of such rows ran 1.2-2.4x the 2-row tile's time (672 channels at 14x14 5x5: 4 x 1 and 7 x 1
1.64x and 1.65x 2 x 1, which the model priced 1.0x and 0.66x before it counted held taps; 240 at
28x28 4 x 2 2.06x 2 x 2, priced 0.56x); see tests/extract/test_depthwise_cost.py's
MEASURED_ZEN4. Without them the weight charge matches the emitted code only for tiles of at most
two rows (`depthwise_schedules.DEPTHWISE_SPILL_ROWS`). Counted in AVX2 objdumps (the tile loop): 2 x 4
at 28x28 5x5 reads the stack 28 times per 200 FMAs; a 4 x 2 tile (the default at 14x14 5x5
before that cap) read it 224 times and wrote it 54 (accumulators spilled too) and ran 2.1-2.3x
this price. With 2 x 2 tiles, measured / priced (one core, CPU time, one process, interleaved,
least of 20 rounds of 10 runs, LOADED): 480 and 672 channels at 14x14 5x5 0.95 / 0.90, 256 at
20x20 5x5 (2 x 3) 1.15; 3x3 layers 0.6-1.1, 28x28 5x5 1.3.

Vector width: every count above is in the schedule's vectors (`depthwise_schedules.depthwise_vector`:
8 lanes on a 16-lane host where an output row fits in 8 pixels), each FMA, load and store at
`vector_weight` of a host vector's issue slots: half on Zen 4, which runs a 512-bit instruction
as two 256-bit halves (`CpuModel.throughput_lanes`), so a 7-wide row does a 16-lane vector's work
in half its slots; one on a CPU with full-width 512-bit units and wherever the schedule's vectors
are the host's. One Zen 4 core, 8 lanes against 16 ran 1152 channels at 7x7 5x5 0.81x, 3x3 0.88x,
672 from 14x14 5x5 stride 2 0.75x, 960 at 7x7 3x3 0.77x, 576 from 14x14 stride 2 0.80x; the
model prices them 0.98x, 0.95x, 0.89x, 0.95x, 0.96x (the accumulators' chains, in cycles,
are the same at either width).

The epilogue's steps are priced by the caller as every contraction's are (`CpuModel.compute_seconds`:
its FLOPs at the streaming loops' rate), and so is the memory roofline (`CpuModel.memory_seconds`).

Measured (bench/cost_choices.py: each layer built alone, CPU time, AMD EPYC Zen 3, loaded), the
22 depthwise layers of torchvision's MobileNetV2 and EfficientNet-B0 took, on one core, 0.67-1.82x
this price (10th-90th percentile; 1.32x in all), where every other kernel kind took 1.2-1.9x its
own in the same run; 0.26-0.74x (0.47x in all) the former price, a fitted efficiency of 0.10 of
peak times the tile's throughput relative to the default tile's. On two cores 0.68-2.17x (0.33-1.13x
before). Invariant: seconds >= 0; more channels, rows, columns or taps never cost less;
proportional to the batch.
"""

from __future__ import annotations

import math

from frittata.extract.cost import NodeInfo
from frittata.extract.schedule_cost import LOAD_PORTS, REACHABLE, balance
from frittata.terms.cpu_geometry import (FMA_LATENCY, FMA_PORTS, depthwise_held_taps, depthwise_phase_floats,
                                         depthwise_registers, depthwise_ring, registers_for)
from frittata.terms.cpu_schedules import Schedule

STORE_CYCLES = 1.0
"""Cycles per vector stored (Zen 3: one 256-bit store a cycle)."""
REMAINDER_CYCLES = 0.5
"""Cycles of one ring slot found by a remainder by a constant (a multiply-high, shifts, a
multiply and a subtract: ~8 integer instructions, which issue beside the tiles' FMAs). One Zen
4 core, CPU time, one process, 40 interleaved rounds, loaded: EfficientNet-B0's 5x5 stride-2
layer (144 channels from 56x56, a ring of 15 of its 59 rows) with a ring of all 59 rows (no
remainder) ran 0.996x (ReLU6) and 0.995x (SiLU) with AVX-512 (2 x 2 tiles), 0.967x and
0.981x with AVX2 (2 x 4): 1-3%, where 2 cycles priced 10%. A ring of 16 rows (a power of two)
ran 1.059x and 0.966x with AVX-512, 0.963x and 0.979x with AVX2: no gain beyond noise."""
MASKED_STORE_CYCLES = 4.0
"""Cycles per partial vector stored under a mask (vmaskmovps): the whole store's cycle and ~3
more, from the kernel's own measurement of whole against masked tail stores (one Zen 3 core,
loaded: 960 channels at 7x7 took 0.70x the masked kernel's time, one masked store a row, 576 at
14x14 0.78x): 0.3 x ~70 cycles over 7 rows, 0.22 x ~220 over 14."""
FILL_CYCLES_PER_VECTOR = 2.0
"""Cycles per vector of a padded ring row filled at stride 1: its load and its store at one store
a cycle, and the row's loop and pad (estimate)."""
STRIDED_FILL_CYCLES_PER_VECTOR = 4.0
"""Cycles per vector of a strided padded row: the loads and stores of stride 1 and the
shuffles that split each vector's lanes into the column phases (`masked.split_row_phases`:
about two per vector; estimate)."""


CHAINS_IN_FLIGHT = 4
"""Accumulator chains the core keeps in flight across consecutive tiles (estimate): a tile's
chains do not depend on the previous tile's, so out-of-order issue runs the next tile's FMAs in
the latency of this one's while its scheduler holds them (a 3x3 chain is 9 dependent FMAs, 4
chains 36 of Zen 3's FP scheduler entries). A tile of fewer accumulators waits on its chains
for taps x FMA_LATENCY x accumulators / CHAINS_IN_FLIGHT cycles rather than taps x
FMA_LATENCY: one Zen 3 core, CPU time, loaded, the 2-accumulator tiles of MobileNetV2's and
EfficientNet-B0's 3x3 layers at 14x14 (384, 576, 480 channels; 192 from 28x28 stride 2) ran
0.46-0.79x the price of a full chain per tile, those of 4 or more 1.1-1.3x."""
SCHEDULED_FMAS = 64
"""FMAs waiting on their operands that the core's FP scheduler holds (estimate, of the order of
Zen 3's and Zen 4's FP scheduling queues): the chains of consecutive tiles overlap only as far
as they fit, `SCHEDULED_FMAS` / taps chains of a kernel's taps, at most `CHAINS_IN_FLIGHT`. A
5x5 or 7x7 tile of one or two accumulators waits on its chains (one Zen 4 core, AVX-512: one
row of 2 vectors ran 1.46x and 1.55x two rows' time at 28x28, 5x5 and 7x7); any value from 32
to 64 orders the measured tiles of MEASURED_ZEN4 alike."""
SPILL_CYCLES = 10.0
"""Cycles per held tap vector spilled (`depthwise_held_taps`): its store, its reload and the
reload's latency ahead of the FMAs waiting on it: fitted to MEASURED_ZEN4 (10 to 24 order
its tiles alike, 8 prices 192 channels at 28x28 3x3 in 4 x 2 below 2 x 2)."""


def depthwise_seconds(info: NodeInfo, s: Schedule, model) -> float:
    """Seconds of the depthwise convolution `info` run with tile `s` on `model` (a `CpuModel`),
    without its epilogue (see the module docstring)."""
    x, out = info.operands[0], info.type
    channels, mult = x.shape[1], out.shape[1] // max(x.shape[1], 1)
    lanes, vec = model.vector_lanes, min(s["vec"], model.vector_lanes)
    weight = vector_weight(vec, lanes, model.throughput_lanes)
    per_channel = (weight * fill_cycles(info, vec) + slot_cycles(info, s, lanes)
                   + mult * tiles_cycles(info, s, lanes, weight))
    clock = model.fp32_flops_per_core / (2 * FMA_PORTS * model.vector_lanes)
    return (x.shape[0] * channels * per_channel
            / (model.cores * balance(channels, model.cores) * clock * REACHABLE))


def vector_weight(vec: int, lanes: int, throughput: int) -> float:
    """Issue slots of one `vec`-lane vector instruction in units of one of the host's `lanes`-lane
    vectors, on vector units that complete `throughput` lanes a slot (`CpuModel.throughput_lanes`):
    an 8-lane (256-bit) vector on Zen 4, which runs a 512-bit one as two halves, takes half a
    16-lane one's FMA, load and store slots (the kernel's rows of at most 8 pixels,
    `depthwise_schedules.depthwise_vector`); on a CPU with full-width 512-bit units, or where `vec` is
    the host's width, one."""
    return max(vec, throughput) / lanes if vec < lanes else 1.0


def tile_cycles(info: NodeInfo, rows: int, vectors: int, lanes: int, branched: bool = False,
                weight: float = 1.0) -> float:
    """Cycles of one tile of `rows` output rows by `vectors` vectors of the host's `lanes` registers
    (module docstring), each FMA, load and store at `weight` issue slots (`vector_weight`); a
    `branched` tile stores each row's partial last vector under a branch (`depthwise_held_taps`)."""
    (kh, kw), attrs = info.operands[1].shape[2:], dict(info.attrs)
    (sh, _), (dh, _) = attrs["strides"], attrs["dilations"]
    taps = kh * kw
    fmas = rows * vectors * taps
    loads = len({i * sh + r * dh for i in range(rows) for r in range(kh)}) * kw * vectors
    held = depthwise_held_taps((kh, kw), sh, dh, rows, vectors) if branched else 0
    over = depthwise_registers(taps, rows, vectors, held) - registers_for(lanes)
    if over > 0:
        loads += taps
    in_flight = max(rows * vectors, min(CHAINS_IN_FLIGHT, SCHEDULED_FMAS / taps))
    chains = taps * FMA_LATENCY * rows * vectors / in_flight
    return (max(weight * fmas / FMA_PORTS, weight * loads / LOAD_PORTS, chains)
            + weight * rows * vectors * STORE_CYCLES + max(0, min(held, over)) * SPILL_CYCLES)


def depthwise_tile_efficiency(info: NodeInfo, s: Schedule, lanes: int) -> float:
    """FMA throughput of one full tile of `s`, in (0, 1]: its FMA cycles over its cycles."""
    vectors = (s["ow_block"] // s["vec"]) * max(1, s["vec"] // lanes)
    taps = info.operands[1].shape[2] * info.operands[1].shape[3]
    return s["oh_block"] * vectors * taps / FMA_PORTS / tile_cycles(info, s["oh_block"], vectors, lanes)


def tiles_cycles(info: NodeInfo, s: Schedule, lanes: int, weight: float = 1.0) -> float:
    """Cycles of every tile of one output plane, each vector at `weight` issue slots
    (`vector_weight`): the full tiles, the last column tile of the
    row's remaining vectors, the last row block of the remaining rows. The column tile of a row
    that is one tile ending in a partial vector stores under branches (`depthwise_held_taps`)
    in the loop over two or more blocks; a single block, or the last, starts at a row known at
    compile time, where LLVM folds them."""
    oh, ow = info.type.shape[2:]
    split = max(1, s["vec"] // lanes)
    rb, nv = s["oh_block"], s["ow_block"] // s["vec"]
    full_columns, rest = divmod(ow, s["ow_block"])
    tail_vectors = math.ceil(rest / s["vec"])
    blocks, tail_rows = divmod(oh, rb)
    branched = ow % s["vec"] != 0 and full_columns == 0 and blocks > 1
    total = 0.0
    for rows, count, loop in ((rb, blocks, branched), (tail_rows, 1 if tail_rows else 0, False)):
        if count:
            row = full_columns * tile_cycles(info, rows, nv * split, lanes, weight=weight)
            if tail_vectors:
                row += tile_cycles(info, rows, tail_vectors * split, lanes, loop, weight)
            total += count * row
    return total + weight * masked_stores(info, s) * (MASKED_STORE_CYCLES - STORE_CYCLES)


def masked_stores(info: NodeInfo, s: Schedule) -> int:
    """Partial vectors of one output plane stored under a mask (`depthwise.Spill`): none when a
    row ends on a whole vector; else the plane's last row's, and when the row has full column
    tiles before its partial one, every row's but each block's last."""
    oh, ow = info.type.shape[2:]
    if ow % s["vec"] == 0:
        return 0
    if ow < s["ow_block"]:
        return 1
    return oh - math.ceil(oh / s["oh_block"]) + 1


def fill_cycles(info: NodeInfo, lanes: int) -> float:
    """Cycles to fill one channel's ring: every padded row the output reads, in vectors."""
    x, out = info.operands[0], info.type
    attrs = dict(info.attrs)
    (sh, sw), (dh, _), pads = attrs["strides"], attrs["dilations"], attrs["pads"]
    kh = info.operands[1].shape[2]
    rows = (out.shape[2] - 1) * sh + (kh - 1) * dh + 1
    vectors = math.ceil((x.shape[3] + pads[1] + pads[3]) / lanes)
    per_vector = FILL_CYCLES_PER_VECTOR if sw == 1 else STRIDED_FILL_CYCLES_PER_VECTOR
    return rows * vectors * per_vector


def slot_cycles(info: NodeInfo, s: Schedule, lanes: int) -> float:
    """Cycles one channel spends finding ring slots by a remainder: none when the ring holds every
    row the output reads or a power of two of rows (`cpu_geometry.depthwise_ring`); else
    `REMAINDER_CYCLES` per ring row each block reads and per padded row filled."""
    x, out, (kh, kw) = info.operands[0], info.type, info.operands[1].shape[2:]
    attrs = dict(info.attrs)
    (sh, sw), (dh, dw), pads = attrs["strides"], attrs["dilations"], attrs["pads"]
    oh, rb = out.shape[2], s["oh_block"]
    last = (oh - 1) * sh + (kh - 1) * dh + 1
    block_reads = (rb - 1) * sh + (kh - 1) * dh + 1
    row = sw * depthwise_phase_floats(x.shape[3], out.shape[3], min(s["vec"], lanes), sw, pads[1], kw, dw)
    ring = depthwise_ring(last, block_reads, rb * sh, row)
    if ring == last or ring & (ring - 1) == 0:
        return 0.0
    blocks, tail = divmod(oh, rb)
    reads = blocks * len({i * sh + r * dh for i in range(rb) for r in range(kh)})
    if tail:
        reads += len({i * sh + r * dh for i in range(tail) for r in range(kh)})
    return (reads + last) * REMAINDER_CYCLES
