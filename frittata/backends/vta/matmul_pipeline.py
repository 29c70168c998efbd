"""The double-buffered tile pipeline of the hand-written VTA matmul (`matmul.py`).

An operator is cut into output tiles, each accumulated over reduction steps.  INP / WGT tiles
alternate between the two halves of their SRAMs and ACC tiles between the two halves of the
accumulator, so the load module fetches step s+1 while compute runs step s, and the store module
drains tile t while compute works on tile t+1.  Tokens: l2g per step (data ready), g2l from step
s to step s+2 (a buffer half is free again), g2s per tile (results ready), s2g from tile t to
tile t+2 (an accumulator half is free again).  Every push is matched by exactly one pop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from frittata.backends.vta.hw.emitter import Emitter
from frittata.backends.vta.hw.isa import AluOp, Stage
from frittata.backends.vta.hw.kernel import rows_kernel

LOAD, COMPUTE, STORE = Stage.LOAD, Stage.COMPUTE, Stage.STORE


@dataclass(frozen=True, slots=True)
class Requant:
    """The int32 -> int8 epilogue: arithmetic shift right by `shift`, clip to [lo, hi]."""

    shift: int = 8
    lo: int = 0
    hi: int = 127

    def reference(self, acc):
        """The same epilogue on a numpy int32 array."""
        return (acc >> self.shift).clip(self.lo, self.hi).astype("int8")


class TileOps(Protocol):
    """What an operator supplies to `run_tiles`; `half` / `buf` select an SRAM half (0 or 1)."""

    def load(self, tile, step, buf: int) -> None: ...
    def reset(self, tile, half: int) -> None: ...
    def gemm(self, tile, step, buf: int, half: int) -> None: ...
    def store(self, tile, half: int) -> None: ...
    def acc_rows(self, tile, half: int) -> tuple[int, int]: ...


def requantize(em: Emitter, base: int, count: int, requant: Requant) -> None:
    """Emit SHR, MIN, MAX over ACC rows [base, base + count)."""
    em.alu(rows_kernel(AluOp.SHR, base, count, imm=requant.shift))
    em.alu(rows_kernel(AluOp.MIN, base, count, imm=requant.hi))
    em.alu(rows_kernel(AluOp.MAX, base, count, imm=requant.lo))


def run_tiles(em: Emitter, tiles: Sequence[tuple[object, Sequence[object]]], ops: TileOps,
              requant: Requant) -> None:
    """Emit the whole pipeline for `tiles`, a sequence of (tile, reduction steps)."""
    total = sum(len(steps) for _, steps in tiles)
    step_no = 0
    for t, (tile, steps) in enumerate(tiles):
        half = t % 2
        if t >= 2:
            em.dep_pop(STORE, COMPUTE)
        ops.reset(tile, half)
        for step in steps:
            buf = step_no % 2
            if step_no >= 2:
                em.dep_pop(COMPUTE, LOAD)
            ops.load(tile, step, buf)
            em.dep_push(LOAD, COMPUTE)
            em.dep_pop(LOAD, COMPUTE)
            ops.gemm(tile, step, buf, half)
            if step_no + 2 < total:
                em.dep_push(COMPUTE, LOAD)
            step_no += 1
        requantize(em, *ops.acc_rows(tile, half), requant)
        em.dep_push(COMPUTE, STORE)
        em.dep_pop(COMPUTE, STORE)
        ops.store(tile, half)
        if t + 2 < len(tiles):
            em.dep_push(STORE, COMPUTE)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
