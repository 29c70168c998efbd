"""The functional core of the simulator: VTA's SRAMs as numpy arrays and the bit-exact meaning
of LOAD, STORE, GEMM and ALU on them (FINISH has no data effect).

Semantics follow VTA's ISA: GEMM and ALU wrap at 32 bits; every GEMM / ALU write also
refreshes the OUT buffer with the low 8 bits of the row (as the HLS hardware does), and STORE
copies from OUT, so a store of freshly loaded ACC data needs an ALU op in between.
"""

from __future__ import annotations

from typing import assert_never

import numpy as np

from frittata.backends.vta.hw.alu import alu_apply, alu_sequential, vectorisable
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.encode import split_uops
from frittata.backends.vta.hw.errors import AddressError, HazardError, StreamError
from frittata.backends.vta.hw.gemm_core import gemm_accumulate
from frittata.backends.vta.hw.isa import Alu, Gemm, Load, MemType, Store


class Machine:
    """The on-chip state of one VTA and the DRAM it reads and writes."""

    def __init__(self, cfg: VtaConfig, dram: Dram) -> None:
        self.cfg, self.dram = cfg, dram
        b, bi, bo = cfg.batch, cfg.block_in, cfg.block_out
        self.uop = np.zeros(cfg.uop_depth, dtype=np.uint32)
        self.inp = np.zeros((cfg.inp_depth, b, bi), dtype=np.int8)
        self.wgt = np.zeros((cfg.wgt_depth, bo, bi), dtype=np.int8)
        self.acc = np.zeros((cfg.acc_depth, b, bo), dtype=np.int32)
        self.out = np.zeros((cfg.out_depth, b, bo), dtype=np.int8)

    # ---- DMA ------------------------------------------------------------------------------------
    def load(self, insn: Load, where: str) -> None:
        """2-D DMA into the SRAM named by `insn.mem`, zero-filling the padding."""
        if insn.x_size == 0:
            return
        if insn.mem == MemType.UOP:
            rows = self._dram_rows(insn.dram_base, 1, insn.x_size, insn.x_size, 4, where)
            _check_range("UOP", insn.sram_base, insn.x_size, self.cfg.uop_depth, where)
            self.uop[insn.sram_base:insn.sram_base + insn.x_size] = rows.view(np.uint32)[0]
            return
        sram, unit, dtype = self._load_target(insn, where)
        pads = (insn.y_pad0, insn.y_pad1, insn.x_pad0, insn.x_pad1)
        if insn.mem == MemType.WGT and any(pads):
            raise StreamError(f"{where}: expected no padding on a weight load (the hardware "
                              f"ignores it), got pads y={pads[:2]} x={pads[2:]}")
        ny, nx = insn.y_size + pads[0] + pads[1], insn.x_size + pads[2] + pads[3]
        _check_range(insn.mem.name, insn.sram_base, ny * nx, sram.shape[0], where)
        rows = self._dram_rows(insn.dram_base, insn.y_size, insn.x_size, insn.x_stride,
                               unit, where)
        block = sram[insn.sram_base:insn.sram_base + ny * nx].reshape(ny, nx, -1)
        block[...] = 0
        data: np.ndarray = rows.view(dtype).reshape(insn.y_size, insn.x_size, -1)
        block[pads[0]:pads[0] + insn.y_size, pads[2]:pads[2] + insn.x_size] = data

    def _load_target(self, insn: Load, where: str) -> tuple[np.ndarray, int, type]:
        """(SRAM array, DRAM element bytes, DRAM lane dtype) for a data load."""
        cfg = self.cfg
        match insn.mem:
            case MemType.INP:
                return self.inp, cfg.inp_elem_bytes, np.int8
            case MemType.WGT:
                return self.wgt, cfg.wgt_elem_bytes, np.int8
            case MemType.ACC:
                return self.acc, cfg.acc_elem_bytes, np.int32
            case MemType.ACC_8BIT:
                return self.acc, cfg.acc_elem_bytes // 4, np.int8
            case MemType.OUT | MemType.UOP:
                raise StreamError(f"{where}: expected LOAD of UOP, INP, WGT, ACC or ACC_8BIT, "
                                  f"got LOAD {insn.mem.name}")
            case _:
                assert_never(insn.mem)

    def store(self, insn: Store, where: str) -> None:
        """2-D DMA from OUT to DRAM; OUT already holds the truncated 8-bit lanes."""
        if insn.x_size == 0:
            return
        n = insn.y_size * insn.x_size
        _check_range("OUT", insn.sram_base, n, self.cfg.out_depth, where)
        unit = self.cfg.out_elem_bytes
        rows = self._dram_rows(insn.dram_base, insn.y_size, insn.x_size, insn.x_stride,
                               unit, where)
        src = self.out[insn.sram_base:insn.sram_base + n]
        rows[...] = src.reshape(insn.y_size, insn.x_size * unit).view(np.uint8)

    def _dram_rows(self, base: int, ny: int, nx: int, stride: int, unit: int,
                   where: str) -> np.ndarray:
        try:
            return self.dram.rows(base * unit, ny, nx * unit, stride * unit)
        except AddressError as err:
            raise AddressError(f"{where}: {err}") from None

    # ---- compute --------------------------------------------------------------------------------
    def gemm(self, insn: Gemm, where: str, check_hazards: bool) -> None:
        """ACC[dst] += INP[src] @ WGT[wgt]^T over the expanded loop, or reset to zero."""
        dst, src, wgt = self._expand(insn, where)
        _check_indices("ACC", dst, self.cfg.acc_depth, where)
        if insn.reset:
            self.acc[dst] = 0
            self.out[dst] = 0
            return
        _check_indices("INP", src, self.cfg.inp_depth, where)
        _check_indices("WGT", wgt, self.cfg.wgt_depth, where)
        if check_hazards:
            _check_hazard(dst, self.cfg.hazard_window, where)
        rows = gemm_accumulate(self.acc, self.inp, self.wgt, dst, src, wgt)
        self.out[rows] = self.acc[rows].astype(np.int8)

    def alu(self, insn: Alu, where: str) -> None:
        """ACC[dst] := op(ACC[dst], imm or ACC[src]) over the expanded loop, in order."""
        dst, src, _ = self._expand(insn, where)
        _check_indices("ACC", dst, self.cfg.acc_depth, where)
        if not insn.use_imm:
            _check_indices("ACC (ALU source)", src, self.cfg.acc_depth, where)
        if vectorisable(dst, src, insn.use_imm):
            operand = np.int64(insn.imm) if insn.use_imm else self.acc[src].astype(np.int64)
            self.acc[dst] = alu_apply(insn.op, self.acc[dst].astype(np.int64), operand)
        else:
            alu_sequential(self.acc, insn, dst, src)
        self.out[dst] = self.acc[dst].astype(np.int8)

    def _expand(self, insn: Gemm | Alu, where: str) -> tuple[np.ndarray, ...]:
        """The (dst, src, wgt) index of every uop execution, in execution order."""
        if not 0 <= insn.uop_bgn <= insn.uop_end <= self.cfg.uop_depth:
            raise AddressError(f"{where}: expected 0 <= uop_bgn <= uop_end <= "
                               f"{self.cfg.uop_depth}, got [{insn.uop_bgn}, {insn.uop_end})")
        fields = split_uops(self.uop[insn.uop_bgn:insn.uop_end], self.cfg)
        i = np.arange(insn.iter_out, dtype=np.int64)[:, None, None]
        j = np.arange(insn.iter_in, dtype=np.int64)[None, :, None]
        wgt_factors = ((insn.wgt_factor_out, insn.wgt_factor_in) if isinstance(insn, Gemm)
                       else (0, 0))
        factors = ((insn.dst_factor_out, insn.dst_factor_in),
                   (insn.src_factor_out, insn.src_factor_in), wgt_factors)
        return tuple((base[None, None, :] + i * fo + j * fi).reshape(-1)
                     for base, (fo, fi) in zip(fields, factors))


def _check_range(name: str, base: int, count: int, depth: int, where: str) -> None:
    if base + count > depth:
        raise AddressError(f"{where}: {name} SRAM rows [{base}, {base + count}) overflow the "
                           f"buffer; expected an end <= its depth {depth}")


def _check_indices(name: str, idx: np.ndarray, depth: int, where: str) -> None:
    if idx.size and int(idx.max()) >= depth:
        raise AddressError(f"{where}: {name} index {int(idx.max())} out of range; expected "
                           f"< {depth} (the buffer depth)")


def _check_hazard(dst: np.ndarray, window: int, where: str) -> None:
    """Reject a GEMM that writes one ACC row twice within `window` consecutive uop executions
    (the configuration's `hazard_window`: the pipeline has no read-after-write check on the
    accumulator)."""
    for gap in range(1, window + 1):
        clash = np.flatnonzero(dst[gap:] == dst[:-gap])
        if clash.size:
            k = int(clash[0])
            raise HazardError(f"{where}: uop executions {k} and {k + gap} both accumulate into "
                              f"ACC row {int(dst[k])}; expected at least {window} other writes "
                              f"between two writes of a row with a hazard window of {window} "
                              f"(put an output axis innermost)")
