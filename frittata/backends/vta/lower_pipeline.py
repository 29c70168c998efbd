"""The tile pipeline of lowered VTA kernels, with one or two virtual threads, and the ALU epilogue.

Like `schedule.run_tiles`, an operator is cut into output tiles reduced over steps, but the
number of SRAM halves is a parameter: with `threads=2` INP / WGT tiles alternate between two
buffers and ACC tiles between two regions (loads of step s+1 overlap compute of step s, stores of
tile t overlap compute of tile t+1); with `threads=1` every module waits for the previous one.
Tokens: l2g per step, g2l from step s to s+threads, g2s per tile, s2g from tile t to t+threads.

The accumulator holds the per-channel bias rows at the top (`AccLayout.bias_rows`, one row
per output channel block, loaded once with LOAD ACC); the tile regions follow (an operator
that is one tile may use every row past the bias, `AccLayout.capacity`).  The last tile's
epilogue and store run part by part, so only its last part's store is left after compute
ends.  The epilogue is the `vta_ops` epilogue as ALU instructions: ADD bias rows, then per
step a rounding shift (SHR s-1, ADD 1, SHR 1 — exactly floor((v + 2^(s-1)) / 2^s) with no
overflowing immediate; a first shift whose 2^(s-1) the lowering folded into the bias is one
SHR s, "floor_shift"), MAX 0 (relu), MIN hi / MAX lo (clip), a MIN or MAX after one of its
kind merged into it, a MAX lo <= 0 on rows already non-negative left out;
the final cast is the truncating STORE.

An int32 output (an epilogue without the cast) is stored in `planes` = 4 byte planes: STORE
keeps the low 8 bits, so the tile is stored, shifted right by 8 (arithmetic, so the top byte
keeps the two's complement sign), stored again, and so on; each shift waits (s2g) for the
store before it, and the tiles' ACC regions are not double-buffered (one region), so every
s2g token is popped in the order it was pushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from frittata.backends.vta.hw.emitter import Emitter
from frittata.backends.vta.hw.isa import AluOp, Stage, Uop
from frittata.backends.vta.hw.kernel import AluKernel, UopLoop, rows_kernel

LOAD, COMPUTE, STORE = Stage.LOAD, Stage.COMPUTE, Stage.STORE
MIN_PART_ROWS = 32
"""ACC rows per part of the last tile's drain at least: each of the part's ALU passes then
takes >= 32 cycles against its 4-cycle issue latency, and its store moves >= 512 bytes against
the DMA's 32-cycle setup (the cycle model's defaults)."""


@dataclass(frozen=True, slots=True)
class AccLayout:
    """Where things live in the accumulator: `bias_rows` rows at 0, then `regions` regions of
    `region` rows each (`threads` of them, or one when tiles are stored in several `planes`).
    `threads` is also the number of INP / WGT buffers."""

    bias_rows: int
    threads: int
    depth: int
    planes: int = 1

    @property
    def regions(self) -> int:
        return acc_threads(self.threads, self.planes)

    @property
    def region(self) -> int:
        return (self.depth - self.bias_rows) // self.regions

    def base(self, half: int) -> int:
        return self.bias_rows + half * self.region

    def capacity(self, tiles: int) -> int:
        """ACC rows one of `tiles` tiles may use: a region, or every row past the bias rows when
        the operator is a single tile (no next tile's compute to overlap with its store)."""
        return self.depth - self.bias_rows if tiles == 1 else self.region


class TileOps(Protocol):
    """What an operator supplies; `buf` / `half` select an SRAM buffer / ACC region.  A tile's
    ACC rows are `units` units of equal size along its outer output axis (output-channel
    blocks of a conv, batch rows of a dense layer); `store` writes units [first, first + count)
    of one byte plane."""

    def load(self, tile, step, buf: int) -> None: ...
    def reset(self, tile, half: int) -> None: ...
    def gemm(self, tile, step, buf: int, half: int) -> None: ...
    def bias(self, tile, half: int) -> AluKernel: ...
    def store(self, tile, half: int, plane: int, first: int, count: int) -> None: ...
    def acc_rows(self, tile, half: int) -> tuple[int, int]: ...
    def units(self, tile) -> int: ...


def acc_threads(threads: int, planes: int) -> int:
    """ACC regions to alternate between: one when a tile is stored in several byte planes."""
    return threads if planes == 1 else 1


def epilogue_kernels(epilogue: tuple, base: int, count: int) -> list[AluKernel]:
    """ALU kernels over ACC rows [base, base + count) computing the epilogue steps; a MIN or
    MAX right after one of its kind is merged into it (MAX lo then MAX 0, a clip then a relu,
    is MAX max(lo, 0)), one ALU pass fewer, and a MAX lo <= 0 on rows already non-negative
    (after a relu, through shifts, ADD 1 and MIN hi >= 0: a relu then a clip) is left out."""
    steps: list[tuple[AluOp, int]] = []
    for step in epilogue:
        match step:
            case ("shift", 0) | ("cast", _):
                pass
            case ("floor_shift", s):
                steps.append((AluOp.SHR, s))
            case ("shift", s):
                steps += [(AluOp.SHR, s - 1)] if s > 1 else []
                steps += [(AluOp.ADD, 1), (AluOp.SHR, 1)]
            case ("relu",):
                steps.append((AluOp.MAX, 0))
            case ("clip", lo, hi):
                steps += [(AluOp.MIN, hi), (AluOp.MAX, lo)]
            case _:
                raise AssertionError(f"epilogue step {step} is not a VTA step")
    merged: list[tuple[AluOp, int]] = []
    nonnegative = False
    for op, imm in steps:
        if op == AluOp.MAX and imm <= 0 and nonnegative:
            continue
        if merged and op in (AluOp.MIN, AluOp.MAX) and merged[-1][0] == op:
            merged[-1] = (op, (max if op == AluOp.MAX else min)(merged[-1][1], imm))
        else:
            merged.append((op, imm))
        nonnegative = (op == AluOp.MAX and imm >= 0) or (nonnegative and (op != AluOp.MIN or imm >= 0))
    return [rows_kernel(op, base, count, imm=imm) for op, imm in merged]


def bias_kernel(dst: int, src: int, outer: UopLoop, inner: UopLoop) -> AluKernel:
    """ACC[dst...] += ACC[bias row src...] in two loops (factors set by the operator)."""
    return AluKernel(AluOp.ADD, (Uop(dst, src),), (outer, inner))


def run_pipeline(em: Emitter, tiles: Sequence[tuple[object, Sequence[object]]], ops: TileOps,
                 epilogue: tuple, acc: AccLayout) -> None:
    """Emit the whole pipeline for `tiles`, a sequence of (tile, reduction steps), storing
    each tile in `acc.planes` byte planes (1 for int8 outputs, 4 for int32)."""
    total = sum(len(steps) for _, steps in tiles)
    threads, planes, regions = acc.threads, acc.planes, acc.regions
    step_no = 0
    for t, (tile, steps) in enumerate(tiles):
        half = t % regions
        if t >= regions:
            em.dep_pop(STORE, COMPUTE)
        ops.reset(tile, half)
        for step in steps:
            _step(em, ops, tile, step, step_no, half, total, threads)
            step_no += 1
        em.alu(ops.bias(tile, half))
        if t + 1 == len(tiles) and planes == 1:
            _drain_in_parts(em, ops, tile, half, epilogue)
            continue
        for kernel in epilogue_kernels(epilogue, *ops.acc_rows(tile, half)):
            em.alu(kernel)
        _store_planes(em, ops, tile, half, planes)
        if t + regions < len(tiles):
            em.dep_push(STORE, COMPUTE)


def _drain_in_parts(em: Emitter, ops: TileOps, tile, half: int, epilogue: tuple) -> None:
    """The last tile's epilogue and store, part by part: the store module writes part p while
    compute runs the epilogue of part p + 1, so what is left after compute ends is the last
    part's store, not the whole tile's (the store of every other tile overlaps the next
    tile's compute).  A part is as many units as make `MIN_PART_ROWS` ACC rows; the parts'
    ALU micro-ops arrive in one LOAD UOP."""
    base, rows = ops.acc_rows(tile, half)
    units = ops.units(tile)
    per_part = min(units, -(-MIN_PART_ROWS * units // rows))
    parts = [(first, min(per_part, units - first)) for first in range(0, units, per_part)]
    kernels = [epilogue_kernels(epilogue, base + first * rows // units, count * rows // units)
               for first, count in parts]
    em.preload([k for part in kernels for k in part])
    for (first, count), part in zip(parts, kernels):
        for kernel in part:
            em.alu(kernel)
        em.dep_push(COMPUTE, STORE)
        em.dep_pop(COMPUTE, STORE)
        ops.store(tile, half, 0, first, count)


def _store_planes(em: Emitter, ops: TileOps, tile, half: int, planes: int) -> None:
    """STORE the tile's low byte, then per further plane: wait for the store, SHR 8, STORE."""
    for plane in range(planes):
        if plane:
            em.dep_pop(STORE, COMPUTE)
            em.alu(rows_kernel(AluOp.SHR, *ops.acc_rows(tile, half), imm=8))
        em.dep_push(COMPUTE, STORE)
        em.dep_pop(COMPUTE, STORE)
        ops.store(tile, half, plane, 0, ops.units(tile))
        if plane + 1 < planes:
            em.dep_push(STORE, COMPUTE)


def _step(em: Emitter, ops: TileOps, tile, step, step_no: int, half: int, total: int,
          threads: int) -> None:
    buf = step_no % threads
    if step_no >= threads:
        em.dep_pop(COMPUTE, LOAD)
    ops.load(tile, step, buf)
    em.dep_push(LOAD, COMPUTE)
    em.dep_pop(LOAD, COMPUTE)
    ops.gemm(tile, step, buf, half)
    if step_no + threads < total:
        em.dep_push(COMPUTE, LOAD)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
