"""The depthwise kernel's default tiles (`depthwise_schedule`) and vector width
(`depthwise_vector`): a convolution with one input channel per group, read by
`cpu_schedules.blocked_schedule`, the tuner's depthwise space and the measured costs."""

from __future__ import annotations

import math

from frittata.terms.cpu_geometry import FMA_LATENCY, FMA_PORTS, depthwise_registers, registers_for, row_lanes
from frittata.terms.dtypes import TensorType
from frittata.terms.schedule_kinds import DEPTHWISE, Schedule

DEPTHWISE_VECTORS = 4
"""Vectors of output pixels per depthwise tile: one row of 4 accumulators beside the 9 splat
weights of a 3x3 kernel and a tap vector fit the 16 vector registers of AVX2 (14 of them). The
two-row tile of `DEPTHWISE_WIDE_ROWS` does not (18): LLVM reloads weights from the stack, and
that tile still ran faster where measured."""
DEPTHWISE_WIDE_ROWS = 2
"""Rows of a 3x3 depthwise tile of `DEPTHWISE_VECTORS` vectors whose output row holds more than
one such tile (`depthwise_schedule`), 18 vector registers with AVX2. One Zen 3 core, CPU time,
one process, 15-21 rounds interleaved, loaded, against one row: 32 channels at 112x112 0.92x
(ReLU6) and 0.89x (SiLU), 144 at 56x56 0.95x and 0.96x, 96 from 112x112 stride 2 0.97x, 16 at
224x224 1.01x; a row of one partial tile lost (192 at 28x28: 1.13x), so it keeps one row. With
AVX-512 such tiles take `DEPTHWISE_STACKED_ROWS` rows instead."""
DEPTHWISE_SPILL_ACCUMULATORS = FMA_PORTS * FMA_LATENCY
"""Accumulators at least of a depthwise tile of two or more vectors whose weights do not fit
AVX2's 16 vector registers beside one row's (`depthwise_schedule`): the independent FMA chains
that keep both FMA pipes busy. A tile of one vector keeps `DEPTHWISE_VECTORS` rows (4
accumulators) with AVX2 whatever its kernel (more rows there are unmeasured); with AVX-512, see
`DEPTHWISE_STACKED_ROWS`."""
DEPTHWISE_SPILL_ROWS = 2
"""Rows at most of such a tile: more spill accumulators beside the weights (4 x 2 at 480 channels
14x14 5x5 reads the stack 224 times per 200 FMAs). Zen 3, AVX2, ReLU6, CPU time, loaded: 2 rows ran
0.61-0.72x the time of 4 x 2 or 3 x 3 at 14x14-20x20 5x5 and 7x7; at 28x28 2 x 4 ran 0.83x 4 x 2."""
DEPTHWISE_STACKED_ROWS = 2
"""Rows of a depthwise tile with AVX-512's 32 registers, of two or more vectors, or of one vector
with more than 9 taps on an output of more than 2 x `DEPTHWISE_VECTORS` rows (`depthwise_schedule`).
Zen 4 issues one 512-bit FMA a cycle (its 256-bit pipes take two halves) and one 512-bit load:
a one-row tile, one tap load per FMA, waits on its loads and its chains; a second row reuses
the tap vectors. One Zen 4 core, CPU time, one process, 30 interleaved rounds, loaded, against one
row: 5x5 144 from 56x56 stride 2 with SiLU 0.82x, 240 at 28x28 0.70x; 3x3 192 at 28x28
with ReLU6 0.81x, 144 at 56x56 0.75x (SiLU 0.87x), 96 from 112x112 stride 2 0.98x; 7x7 192 at
28x28 0.65x, 96 at 56x56 0.64x; three or four rows ran slower (LLVM spills taps). One-vector
5x5 tiles: two rows ran 672 at 14x14 0.75x and 480 at 14x14 0.76x the time of four (which
spill taps and weights), but 1152 at 7x7 1.09x (672 from 14x14 stride 2: 1.01x); 3x3 keeps
four (576 at 14x14: two rows 1.05x)."""


def depthwise_schedule(out: TensorType, taps: int, lanes: int) -> Schedule:
    """The depthwise kernel's default tiling of a convolution with one input channel per group
    and `taps` (kh x kw) weights (the tiled form's keys, `tiled.DEPTHWISE_KEYS`): up to
    `DEPTHWISE_VECTORS` vectors of one output row; `DEPTHWISE_VECTORS` rows of one vector where a
    row fits in one, so that as many accumulators hide the FMA latency (one Zen 3 core: 672
    channels 14x14 5x5 stride 2 with SiLU ran in 136 us instead of 175, 1152 at 7x7 5x5 in 221
    instead of 265-291; rows of two vectors gained nothing from two rows).

    With AVX2's 16 vector registers, where the weights, one row's accumulators and a tap vector
    overflow them (5x5 and 7x7: the weights are reloaded from the stack whatever the tile), rows
    of NV vectors that make `DEPTHWISE_SPILL_ACCUMULATORS`, at most `DEPTHWISE_SPILL_ROWS`,
    instead, so each tap vector loaded feeds several rows (one Zen 3 core, CPU time, 5x5 without
    epilogue: 240 channels at 28x28 in 2 x 4 vectors ran 0.77x one row's time, 144 from 56x56
    stride 2 in 2 x 4 0.86x; with ReLU6, 480 channels at 14x14 in 2 x 2 0.89x one row's time,
    where 4 x 2 ran 1.37x). A 3x3 row wider than one tile of 4 vectors takes
    `DEPTHWISE_WIDE_ROWS` rows per tile (3x3 with ReLU6 gained nothing from more rows where the
    row is one tile, and three rows of two vectors ran 576 channels at 14x14 1.4x slower).

    With AVX-512's 32 registers, `DEPTHWISE_STACKED_ROWS` rows instead, whatever the kernel, in
    tiles of two or more vectors, and in tiles of one vector with more than 9 taps on outputs
    of more than 2 x `DEPTHWISE_VECTORS` rows (measured on Zen 4, see there)."""
    oh, ow = out.shape[2:]
    vec = depthwise_vector(ow, lanes)
    nv = min(DEPTHWISE_VECTORS, max(1, math.ceil(ow / vec)))
    spills = depthwise_registers(taps, 1, nv) > registers_for(lanes)
    rows = 1
    if registers_for(lanes) == 32 and (nv > 1 or (taps > 9 and oh > 2 * DEPTHWISE_VECTORS)):
        rows = DEPTHWISE_STACKED_ROWS
    elif nv == 1:
        rows = DEPTHWISE_VECTORS
    elif spills:
        rows = min(DEPTHWISE_SPILL_ROWS, -(-DEPTHWISE_SPILL_ACCUMULATORS // nv))
    elif taps <= 9 and ow > nv * lanes:
        rows = DEPTHWISE_WIDE_ROWS
    rows = max(1, min(rows, oh))
    return {"kernel": DEPTHWISE, "vec": vec, "oh_block": rows, "oh_tail": oh % rows, "ow_block": nv * vec,
            "ow_tail": ow % (nv * vec), "parallel": "channel"}


def depthwise_vector(ow: int, lanes: int) -> int:
    """Lanes of the depthwise kernel's vectors for output rows of `ow` pixels: half the host's
    16 where a row fits in 8 (AVX-512's 256-bit registers), else the host's. One Zen 4 core, CPU
    time, one process, interleaved, loaded, with SiLU, 8 lanes against 16 (7 of them used): 1152
    channels at 7x7 5x5 0.83x, 3x3 0.86x, 672 from 14x14 5x5 stride 2 0.75x, 960 at 7x7 3x3
    0.88x."""
    return row_lanes(ow, lanes)
