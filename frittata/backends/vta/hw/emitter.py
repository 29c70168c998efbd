"""A runtime-like builder of VTA instruction streams (the role of TVM's VTA runtime).

Typical use, by hand or from a lowering pass:

    em = Emitter(cfg, dram)
    em.load_2d(MemType.INP, 0, x_buf, 0, y_size=4, x_size=2, x_stride=2)
    em.load_2d(MemType.WGT, 0, w_buf, 0, y_size=1, x_size=2, x_stride=2)
    em.dep_push(Stage.LOAD, Stage.COMPUTE)
    em.dep_pop(Stage.LOAD, Stage.COMPUTE)
    em.gemm(GemmKernel(uops, loops))
    ...
    program = em.synchronize()          # appends the final handshake and FINISH
    Simulator(cfg, dram).run(program.image())

Token semantics follow the runtime: `dep_pop` records a pending pop that the next instruction of
the receiving module carries; `dep_push` sets the push flag on the last instruction if the
pushing module issued it, otherwise appends a no-op that carries it.  Kernels are cached in the
micro-op SRAM (a ring, forgotten at every `synchronize`); a kernel that is not resident is copied
in by a LOAD UOP emitted just before its GEMM / ALU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, assert_never

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram, DramBuffer
from frittata.backends.vta.hw.encode import encode, encode_stream, encode_uop
from frittata.backends.vta.hw.errors import EmitError
from frittata.backends.vta.hw.isa import (
    Alu, Deps, Finish, Gemm, Instruction, Load, MemType, Stage, Store, Uop, stage_of)
from frittata.backends.vta.hw.kernel import AluKernel, GemmKernel, Kernel, UopLoop
from frittata.backends.vta.hw.listing import listing


@dataclass(frozen=True, slots=True)
class InstructionStream:
    """A finished stream: its instructions and the DRAM buffer holding its micro-ops."""

    cfg: VtaConfig
    instructions: tuple[Instruction, ...]
    uops: DramBuffer | None

    def image(self) -> bytes:
        """The encoded stream the simulator fetches."""
        return encode_stream(self.instructions, self.cfg)

    def listing(self) -> str:
        return listing(self.instructions)


def _nop(stage: Stage) -> Instruction:
    match stage:
        case Stage.LOAD:
            return Load(MemType.INP, 0, 0, 0, 0, 0)
        case Stage.COMPUTE:
            return Load(MemType.UOP, 0, 0, 0, 0, 0)
        case Stage.STORE:
            return Store(0, 0, 0, 0, 0)
        case _:
            assert_never(stage)


def _loop_fields(loops: tuple[UopLoop, ...], alu: bool) -> dict[str, Any]:
    """Map kernel loops onto (iter_out, iter_in); an ALU kernel's single loop is the inner one."""
    if alu and len(loops) == 1:
        loops = (UopLoop(1),) + loops
    outer, inner = (tuple(loops) + (UopLoop(1), UopLoop(1)))[:2]
    fields = dict(iter_out=outer.extent, iter_in=inner.extent,
                  dst_factor_out=outer.dst_factor, dst_factor_in=inner.dst_factor,
                  src_factor_out=outer.src_factor, src_factor_in=inner.src_factor)
    if not alu:
        fields.update(wgt_factor_out=outer.wgt_factor, wgt_factor_in=inner.wgt_factor)
    return fields


def _check_pair(src: Stage, dst: Stage) -> None:
    if abs(src - dst) != 1:
        raise EmitError(f"dependency {src.name} -> {dst.name}: expected neighbouring modules "
                        f"(load <-> compute or compute <-> store)")


class Emitter:
    """Builds one instruction stream at a time; `synchronize` returns it as an `InstructionStream`."""

    def __init__(self, cfg: VtaConfig, dram: Dram) -> None:
        self.cfg, self.dram = cfg, dram
        self._reset()

    def _reset(self) -> None:
        self._insns: list[Instruction] = []
        self._pending: dict[Stage, Deps] = {}
        self._uop_words: list[int] = []
        self._uop_loads: list[int] = []
        self._resident: dict[tuple[Uop, ...], int] = {}
        self._uop_top = 0

    # ---- data movement --------------------------------------------------------------------------
    def load_2d(self, mem: MemType, sram: int, src: DramBuffer, elem_offset: int, y_size: int,
                x_size: int, x_stride: int, y_pad: tuple[int, int] = (0, 0),
                x_pad: tuple[int, int] = (0, 0)) -> None:
        """LOAD `y_size` rows of `x_size` elements of `mem`, row r starting at element
        `elem_offset + r * x_stride` of `src`, into SRAM rows from `sram` with zero padding
        (`y_pad` rows before / after, `x_pad` elements before / after each row)."""
        if mem == MemType.UOP:
            raise EmitError("load_2d of UOP: expected INP, WGT, ACC or ACC_8BIT; micro-ops "
                            "are loaded by gemm() / alu() through the kernel cache")
        base = src.elem_offset(self.cfg.elem_bytes(mem)) + elem_offset
        self._append(Load(mem, sram, base, y_size, x_size, x_stride, *y_pad, *x_pad))

    def store_2d(self, sram: int, dst: DramBuffer, elem_offset: int, y_size: int,
                 x_size: int, x_stride: int) -> None:
        """STORE `y_size` x `x_size` OUT rows from `sram` (contiguous) to `dst` rows starting at
        element `elem_offset + r * x_stride`; lanes are truncated to 8 bits."""
        base = dst.elem_offset(self.cfg.out_elem_bytes) + elem_offset
        self._append(Store(sram, base, y_size, x_size, x_stride))

    # ---- compute --------------------------------------------------------------------------------
    def gemm(self, kernel: GemmKernel) -> None:
        """Emit one GEMM running `kernel` (after a LOAD UOP if it is not cached)."""
        bgn = self._cache(kernel)
        fields = _loop_fields(kernel.loops, alu=False)
        self._append(Gemm(bgn, bgn + len(kernel.uops), reset=kernel.reset, **fields))

    def alu(self, kernel: AluKernel) -> None:
        """Emit one ALU instruction running `kernel`."""
        bgn = self._cache(kernel)
        fields = _loop_fields(kernel.loops, alu=True)
        imm = 0 if kernel.imm is None else kernel.imm
        self._append(Alu(kernel.op, bgn, bgn + len(kernel.uops), use_imm=kernel.imm is not None,
                         imm=imm, **fields))

    def preload(self, kernels: Sequence[Kernel]) -> None:
        """Make `kernels` resident with one LOAD UOP for the micro-ops of those that are not
        (one DMA setup instead of one per kernel)."""
        missing = list(dict.fromkeys(k.uops for k in kernels if k.uops not in self._resident))
        if missing:
            self._load_uops(missing)

    def _cache(self, kernel: Kernel) -> int:
        """The uop SRAM offset of `kernel`'s micro-ops, loading them when not resident.
        Kernels with equal micro-ops share one copy."""
        if kernel.uops not in self._resident:
            self._load_uops([kernel.uops])
        return self._resident[kernel.uops]

    def _load_uops(self, groups: list[tuple[Uop, ...]]) -> None:
        """One LOAD UOP of `groups` side by side, evicting the kernels they overwrite."""
        n, depth = sum(len(uops) for uops in groups), self.cfg.uop_depth
        if n > depth:
            raise EmitError(f"kernels of {n} micro-ops: expected at most the uop buffer "
                            f"depth {depth}; split them")
        if self._uop_top + n > depth:
            self._uop_top = 0
        lo, hi = self._uop_top, self._uop_top + n
        for uops in [u for u, b in self._resident.items() if b < hi and b + len(u) > lo]:
            del self._resident[uops]
        offset = len(self._uop_words)
        self._uop_words.extend(encode_uop(uop, self.cfg) for uops in groups for uop in uops)
        self._uop_loads.append(len(self._insns))
        self._append(Load(MemType.UOP, lo, offset, 1, n, n))
        for uops in groups:
            self._resident[uops], lo = lo, lo + len(uops)
        self._uop_top = hi

    # ---- dependency tokens ----------------------------------------------------------------------
    def dep_push(self, src: Stage, dst: Stage) -> None:
        """Module `src` sends a token to `dst` once everything it issued so far is done."""
        _check_pair(src, dst)
        self._commit(src)
        flag = "push_next" if src < dst else "push_prev"
        last = self._insns[-1] if self._insns else None
        if last is not None and stage_of(last) == src and not getattr(last.deps, flag):
            self._insns[-1] = replace(last, deps=replace(last.deps, **{flag: True}))
        else:
            self._append(_nop(src), Deps(**{flag: True}))

    def dep_pop(self, src: Stage, dst: Stage) -> None:
        """The next instruction of module `dst` waits for a token from `src`."""
        _check_pair(src, dst)
        flag = "pop_prev" if src < dst else "pop_next"
        if getattr(self._pending.get(dst, Deps()), flag):
            self._commit(dst)
        self._pending[dst] = replace(self._pending.get(dst, Deps()), **{flag: True})

    def synchronize(self) -> InstructionStream:
        """Close the stream: drain the store and load modules into compute, then FINISH.
        Returns the program (micro-ops written to DRAM) and starts a new, empty stream."""
        for stage in Stage:
            self._commit(stage)
        self.dep_push(Stage.STORE, Stage.COMPUTE)
        self.dep_push(Stage.LOAD, Stage.COMPUTE)
        self.dep_pop(Stage.STORE, Stage.COMPUTE)
        self.dep_pop(Stage.LOAD, Stage.COMPUTE)
        self._commit(Stage.COMPUTE)
        self._insns.append(Finish())
        uops = self._uop_buffer()
        program = InstructionStream(self.cfg, self._relocated(uops), uops)
        self._reset()
        return program

    # ---- internals ------------------------------------------------------------------------------
    def _commit(self, stage: Stage) -> None:
        """Turn pending pops of `stage` into a no-op that carries them."""
        if stage in self._pending:
            self._append(_nop(stage))

    def _append(self, insn: Instruction, extra: Deps = Deps()) -> None:
        """Append `insn` carrying `extra` flags plus its module's pending pops; validate fields."""
        pops = self._pending.pop(stage_of(insn), Deps())
        deps = Deps(pops.pop_prev, pops.pop_next, extra.push_prev, extra.push_next)
        insn = replace(insn, deps=deps)
        encode(insn, self.cfg)
        self._insns.append(insn)

    def _uop_buffer(self) -> DramBuffer | None:
        if not self._uop_words:
            return None
        return self.dram.put(np.array(self._uop_words, dtype=np.uint32))

    def _relocated(self, uops: DramBuffer | None) -> tuple[Instruction, ...]:
        """Instructions with LOAD UOP addresses made absolute (uops go to DRAM last)."""
        insns = list(self._insns)
        if uops is not None:
            base = uops.elem_offset(self.cfg.uop_elem_bytes)
            for i in self._uop_loads:
                load = insns[i]
                assert isinstance(load, Load)
                insns[i] = replace(load, dram_base=load.dram_base + base)
        return tuple(insns)
