"""The int8 kernels' blocking (`cpu_schedules.blocked_schedule` reads it): the direct int8
convolution (`int8_conv_schedule`, `frittata.backends.llvm.int8conv`) and the exact int8 Winograd
(`int8_winograd_schedule`, `frittata.backends.llvm.int8winograd`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from frittata.terms.cpu_geometry import ROW_VECTORS, block_rows, pixel_rows, round_up, row_lanes
from frittata.terms.dtypes import TensorType
from frittata.terms.schedule_kinds import INT8, INT8_WINOGRAD, Schedule
from frittata.terms.winograd import tile_count

INT_STEPS = frozenset({"relu", "shift", "clip", "cast"})
"""Epilogue steps the int8 kernel applies to its int32 accumulators in registers."""
INT8_OUTPUTS = frozenset({"int8", "uint8", "int32", "float32"})


def _blocked_int8(out: TensorType, operands: Sequence[TensorType], attrs: dict[str, Any],
                  constant: Sequence[bool]) -> bool:
    """What both int8 kernels need: constant weights and bias, no other operand, and an integer
    epilogue (`INT_STEPS`) with a cast only as its last step, to an `INT8_OUTPUTS` dtype."""
    steps = attrs.get("epilogue", ())
    casts = [i for i, step in enumerate(steps) if step[0] == "cast"]
    return (all(constant[1:3]) and len(operands) <= 3 and all(step[0] in INT_STEPS for step in steps)
            and casts in ([], [len(steps) - 1]) and out.dtype in INT8_OUTPUTS)


def int8_conv_schedule(out: TensorType, operands: Sequence[TensorType], attrs: dict[str, Any],
                       constant: Sequence[bool], lanes: int) -> Schedule | None:
    """The int8 kernel's blocking of an int8 x int8 convolution, or None (generic loops): one
    group, constant weights and bias, an integer epilogue (`INT_STEPS`, a cast only last).

    A row the kernel runs (`pixel_rows`: a pointwise convolution's is all its pixels) of at most
    8 pixels takes 8-lane tiles on a 16-lane machine. Tiles are one vector where the output's rows
    fit in one, two otherwise: pointwise 256 -> 256 and 128 -> 512 at 14x14 (rows of 196) ran
    1.06x slower in two 16-lane vectors than in one (one Zen 4 core, CPU time, one process,
    interleaved, medians of 80, shared machine, 2026-12-05)."""
    if lanes < 8 or attrs["groups"] != 1 or not _blocked_int8(out, operands, attrs, constant):
        return None
    mr = block_rows(lanes)
    ow, row = out.shape[3], pixel_rows(out, operands[1].shape[2:], attrs)[1]
    vec = row_lanes(row, lanes)
    nr = (1 if ow <= vec else ROW_VECTORS) * vec
    return {"kernel": INT8, "vec": vec, "oc_block": mr, "oc_tail": out.shape[1] % mr, "ow_block": nr,
            "ow_tail": ow % nr}


INT8_WINOGRAD_ROWS = 6
"""Tiles per micro-tile of the int8 Winograd GEMM: 6 x 2 int32 accumulators, 2 weight vectors
and a broadcast pair take 15 of AVX2's 16 registers."""
INT8_WINOGRAD_V_BYTES = 384 * 1024
"""A block's transformed inputs V at most: in L2 (512 KiB on Zen 3) beside a panel's M and U."""


def int8_winograd_schedule(out: TensorType, operands: Sequence[TensorType], attrs: dict[str, Any],
                           constant: Sequence[bool], lanes: int) -> Schedule | None:
    """The exact int8 Winograd kernel's blocking (`frittata.backends.llvm.int8winograd`), or None
    (generic loops): constant weights and bias, an integer epilogue with a cast only last.

    More output channels than tiles (U outweighs V): one block of all the tiles and groups of
    panels (`int8_winograd_groups`), so U is read once per image, where blocks of a few tiles
    each re-read all of it (512 -> 512 at 28x28: 13 MB a block). Otherwise blocks of whole
    micro-tiles whose V fits `INT8_WINOGRAD_V_BYTES`, of at least 4 micro-tiles where that fits,
    the size that computes the fewest rows (the last block's spare tiles included), the
    largest on a tie."""
    if lanes < 8 or not _blocked_int8(out, operands, attrs, constant):
        return None
    m, mr, nr = attrs["tile"], INT8_WINOGRAD_ROWS, 2 * lanes
    c_pad = round_up(operands[0].shape[1], 2 * lanes)
    tiles = tile_count(out.shape[2], out.shape[3], m)
    schedule = {"kernel": INT8_WINOGRAD, "tile": m, "vec": lanes, "m_block": mr, "n_block": nr}
    if round_up(out.shape[1], nr) > tiles:
        groups = int8_winograd_groups(round_up(out.shape[1], nr) // nr)
        return {**schedule, "tile_block": round_up(tiles, mr), "oc_groups": groups}
    most = max(mr, INT8_WINOGRAD_V_BYTES // ((m + 2) ** 2 * c_pad * 2) // mr * mr)
    sizes = range(min(most, 4 * mr), most + 1, mr)
    block = min(sizes, key=lambda size: (math.ceil(tiles / size) * size, -size))
    return {**schedule, "tile_block": block, "oc_groups": 0}


def int8_winograd_groups(panels: int) -> int:
    """Groups of panels for the int8 Winograd kernel's one-block form: the most, up to 8, that
    divide the panels and leave each at least 4 (64 channels of 8 lanes)."""
    return max(g for g in range(1, 9) if panels % g == 0 and (g == 1 or panels // g >= 4))
