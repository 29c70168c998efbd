"""Micro-op kernels: the values the emitter turns into GEMM / ALU instructions.

A kernel is a list of micro-ops wrapped in at most two affine loops, uniform in its mode (GEMM
with or without reset, or one ALU opcode with or without an immediate).  Kernels are frozen and
hashable, so equal kernels share one copy in the micro-op cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from frittata.backends.vta.hw.errors import EmitError
from frittata.backends.vta.hw.isa import AluOp, Uop


@dataclass(frozen=True, slots=True)
class UopLoop:
    """One loop of `extent` iterations adding `*_factor` per iteration to each uop index."""

    extent: int
    dst_factor: int = 0
    src_factor: int = 0
    wgt_factor: int = 0

    def __post_init__(self) -> None:
        values = (self.extent, self.dst_factor, self.src_factor, self.wgt_factor)
        if self.extent < 1 or min(values) < 0:
            raise EmitError(f"{self}: expected extent >= 1 and non-negative factors")


def _check(uops: tuple[Uop, ...], loops: tuple[UopLoop, ...], what: str) -> None:
    if not uops:
        raise EmitError(f"{what}: expected at least one micro-op, got none")
    if len(loops) > 2:
        raise EmitError(f"{what}: expected at most 2 loops (the hardware has two), "
                        f"got {len(loops)}; split the kernel or fold a loop into the uops")


@dataclass(frozen=True, slots=True)
class GemmKernel:
    """For loops (outer first) and uops innermost: ACC[dst] += INP[src] @ WGT[wgt]^T, or
    ACC[dst] := 0 when `reset`.  `loops[0]` is the outer loop."""

    uops: tuple[Uop, ...]
    loops: tuple[UopLoop, ...] = ()
    reset: bool = False

    def __post_init__(self) -> None:
        _check(self.uops, self.loops, "GEMM kernel")


@dataclass(frozen=True, slots=True)
class AluKernel:
    """For loops and uops: ACC[dst] := op(ACC[dst], imm) when `imm` is given, else
    op(ACC[dst], ACC[src]).  Loops' wgt factors must be zero."""

    op: AluOp
    uops: tuple[Uop, ...]
    loops: tuple[UopLoop, ...] = ()
    imm: int | None = None

    def __post_init__(self) -> None:
        _check(self.uops, self.loops, f"ALU {self.op.name} kernel")
        if any(loop.wgt_factor for loop in self.loops):
            raise EmitError(f"ALU {self.op.name} kernel: expected zero wgt factors, "
                            f"got loops {self.loops}")


Kernel = GemmKernel | AluKernel


def rows_kernel(op: AluOp, base: int, count: int, imm: int | None = None,
                src_base: int | None = None) -> AluKernel:
    """The common ALU form: rows [base, base + count) combined with an immediate or with the
    rows starting at `src_base`, as one uop in one loop."""
    src = base if src_base is None else src_base
    return AluKernel(op, (Uop(base, src),), (UopLoop(count, 1, 1),), imm)
