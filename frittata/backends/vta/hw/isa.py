"""VTA instructions and micro-ops as immutable values.

Five instruction kinds form the closed union `Instruction`: `Load`, `Store`, `Gemm`, `Alu` and
`Finish`.  Each carries its dependency-token flags in a `Deps`.  Field values are plain ints in
the units the hardware uses (SRAM and DRAM addresses in *elements* of the memory type); their
ranges are checked by the encoder against a `VtaConfig`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import assert_never


class Opcode(IntEnum):
    LOAD = 0
    STORE = 1
    GEMM = 2
    FINISH = 3
    ALU = 4


class MemType(IntEnum):
    """The SRAM (and DRAM element unit) a LOAD / STORE addresses."""

    UOP = 0
    WGT = 1
    INP = 2
    ACC = 3
    OUT = 4
    ACC_8BIT = 5


class AluOp(IntEnum):
    MIN = 0
    MAX = 1
    ADD = 2
    SHR = 3
    MUL = 4


class Stage(IntEnum):
    """The three execution modules, in pipeline order (prev / next are relative to these)."""

    LOAD = 1
    COMPUTE = 2
    STORE = 3


class Queue(IntEnum):
    """The four dependency-token queues, named producer-to-consumer."""

    L2G = 0
    G2L = 1
    S2G = 2
    G2S = 3


_POPS = {Stage.LOAD: (None, Queue.G2L), Stage.COMPUTE: (Queue.L2G, Queue.S2G),
         Stage.STORE: (Queue.G2S, None)}
_PUSHES = {Stage.LOAD: (None, Queue.L2G), Stage.COMPUTE: (Queue.G2L, Queue.G2S),
           Stage.STORE: (Queue.S2G, None)}


@dataclass(frozen=True, slots=True)
class Deps:
    """Token flags: pops happen before the instruction executes, pushes after it completes.
    `prev` / `next` name the neighbouring stage in load -> compute -> store order."""

    pop_prev: bool = False
    pop_next: bool = False
    push_prev: bool = False
    push_next: bool = False

    def moves(self, stage: Stage) -> tuple[tuple[Queue | None, ...], tuple[Queue | None, ...]]:
        """The queues this instruction pops and pushes when `stage` executes it; `None` marks
        a set flag that is meaningless there (a LOAD-stage pop_prev, a STORE-stage push_next)."""
        pops = tuple(q for flag, q in zip((self.pop_prev, self.pop_next), _POPS[stage]) if flag)
        pushes = tuple(q for flag, q in zip((self.push_prev, self.push_next), _PUSHES[stage])
                       if flag)
        return pops, pushes


@dataclass(frozen=True, slots=True)
class Load:
    """2-D DMA from DRAM into SRAM `mem`: rows `y` of `x_size` elements from
    `dram_base + y * x_stride`, written densely with zero padding around them at `sram_base`.
    `x_size == 0` is a no-op that only moves tokens.  LOAD UOP copies `x_size` micro-ops."""

    mem: MemType
    sram_base: int
    dram_base: int
    y_size: int
    x_size: int
    x_stride: int
    y_pad0: int = 0
    y_pad1: int = 0
    x_pad0: int = 0
    x_pad1: int = 0
    deps: Deps = Deps()


@dataclass(frozen=True, slots=True)
class Store:
    """2-D DMA from the OUT buffer (rows contiguous from `sram_base`) to DRAM rows at
    `dram_base + y * x_stride`; every lane keeps its low 8 bits.  `x_size == 0` is a no-op."""

    sram_base: int
    dram_base: int
    y_size: int
    x_size: int
    x_stride: int
    deps: Deps = Deps()


@dataclass(frozen=True, slots=True)
class Gemm:
    """For i < iter_out, j < iter_in, u in [uop_bgn, uop_end):
    ACC[dst] += INP[src] @ WGT[wgt]^T (wrapping int32), or ACC[dst] := 0 when `reset`,
    where each index is the uop's plus i * factor_out + j * factor_in."""

    uop_bgn: int
    uop_end: int
    iter_out: int = 1
    iter_in: int = 1
    dst_factor_out: int = 0
    dst_factor_in: int = 0
    src_factor_out: int = 0
    src_factor_in: int = 0
    wgt_factor_out: int = 0
    wgt_factor_in: int = 0
    reset: bool = False
    deps: Deps = Deps()


@dataclass(frozen=True, slots=True)
class Alu:
    """Same loop as `Gemm` over ACC indices: ACC[dst] := op(ACC[dst], imm or ACC[src]) per lane.
    `imm` is a signed 16-bit immediate; `reset` is encoded but ignored by the hardware."""

    op: AluOp
    uop_bgn: int
    uop_end: int
    iter_out: int = 1
    iter_in: int = 1
    dst_factor_out: int = 0
    dst_factor_in: int = 0
    src_factor_out: int = 0
    src_factor_in: int = 0
    use_imm: bool = False
    imm: int = 0
    reset: bool = False
    deps: Deps = Deps()


@dataclass(frozen=True, slots=True)
class Finish:
    """Signals the host that the stream is done; executed by the compute module."""

    deps: Deps = Deps()


Instruction = Load | Store | Gemm | Alu | Finish


@dataclass(frozen=True, slots=True)
class Uop:
    """A micro-op: an ACC row `dst`, a `src` row (INP for GEMM, ACC for ALU), a WGT tile `wgt`."""

    dst: int
    src: int
    wgt: int = 0


def opcode_of(insn: Instruction) -> Opcode:
    match insn:
        case Load():
            return Opcode.LOAD
        case Store():
            return Opcode.STORE
        case Gemm():
            return Opcode.GEMM
        case Alu():
            return Opcode.ALU
        case Finish():
            return Opcode.FINISH
        case _:
            assert_never(insn)


def stage_of(insn: Instruction) -> Stage:
    """The module that executes `insn` (the fetch unit's routing)."""
    match insn:
        case Load(mem=MemType.INP | MemType.WGT):
            return Stage.LOAD
        case Store():
            return Stage.STORE
        case Load() | Gemm() | Alu() | Finish():
            return Stage.COMPUTE
        case _:
            assert_never(insn)
