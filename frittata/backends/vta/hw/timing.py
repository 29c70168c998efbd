"""The cycle-approximate cost of each instruction, and the counters a run reports.

Model (latencies are parameters, not measurements): GEMM issues one micro-op per cycle after a
pipeline fill of `gemm_latency` cycles plus one per GEMM datapath stage of the configuration;
ALU one per cycle with an immediate and one per two cycles with a tensor operand (one
register-file read per cycle); LOAD / STORE are 2-D DMAs costing a fixed latency plus, per row,
a burst setup and ceil(row bytes / bus bytes) beats (the bus width is the configuration's),
plus one cycle per zero-padded element written.  Costs are in accelerator clock cycles and are
monotone in the amount of work.  The event loop in `simulator` overlaps the modules as the
tokens allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import assert_never

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.isa import Alu, Finish, Gemm, Instruction, Load, MemType, Stage, Store


@dataclass(frozen=True, slots=True)
class TimingParams:
    """Cycle-model latencies (the bus width and the GEMM pipeline depth are the configuration's).
    `gemm_latency` is the GEMM fill besides its datapath stages: 3 + 1 stage = 4 cycles by default."""

    dma_latency: int = 32
    dma_row_overhead: int = 2
    pad_cycles_per_elem: int = 1
    gemm_latency: int = 3
    alu_latency: int = 4
    alu_imm_cycles: int = 1
    alu_tensor_cycles: int = 2
    nop_cycles: int = 1


def uop_executions(insn: Gemm | Alu) -> int:
    return insn.iter_out * insn.iter_in * max(insn.uop_end - insn.uop_bgn, 0)


def _dma(rows: int, row_bytes: int, p: TimingParams, bus_bytes: int) -> int:
    beats = -(-row_bytes // bus_bytes)
    return p.dma_latency + rows * (p.dma_row_overhead + beats)


def cycles(insn: Instruction, cfg: VtaConfig, p: TimingParams) -> int:
    """Cycles the executing module is busy with `insn`."""
    match insn:
        case Load(x_size=0) | Store(x_size=0) | Finish():
            return p.nop_cycles
        case Load(mem=MemType.UOP):
            return _dma(1, insn.x_size * cfg.uop_elem_bytes, p, cfg.bus_bytes)
        case Load():
            padded = ((insn.y_size + insn.y_pad0 + insn.y_pad1)
                      * (insn.x_size + insn.x_pad0 + insn.x_pad1))
            pad_cycles = (padded - insn.y_size * insn.x_size) * p.pad_cycles_per_elem
            row_bytes = insn.x_size * cfg.elem_bytes(insn.mem)
            return _dma(insn.y_size, row_bytes, p, cfg.bus_bytes) + pad_cycles
        case Store():
            return _dma(insn.y_size, insn.x_size * cfg.out_elem_bytes, p, cfg.bus_bytes)
        case Gemm():
            return p.gemm_latency + cfg.gemm_stages + uop_executions(insn)
        case Alu():
            rate = p.alu_imm_cycles if insn.use_imm else p.alu_tensor_cycles
            return p.alu_latency + rate * uop_executions(insn)
        case _:
            assert_never(insn)


@dataclass(frozen=True, slots=True)
class Report:
    """What one run did.  `cycles` is when the last module went idle; `busy` is per module;
    `gemm_utilization` = non-reset GEMM micro-op executions / cycles (1.0 = peak MACs);
    `bytes_loaded` per memory type excludes padding (as fsim counts); `moved` is the bytes each
    module's instructions transferred between DRAM and SRAM (load: INP and WGT loads; compute:
    ACC and micro-op loads; store: OUT stores); instruction counts are by mnemonic ("LOAD INP",
    "GEMM", ...)."""

    cycles: int
    busy: dict[str, int]
    gemm_uops: int
    alu_uops: int
    bytes_loaded: dict[str, int]
    bytes_stored: int
    instructions: dict[str, int]
    uops_loaded: int
    moved: dict[str, int]

    @property
    def gemm_utilization(self) -> float:
        return self.gemm_uops / self.cycles if self.cycles else 0.0

    def summary(self) -> str:
        busy = ", ".join(f"{k} {v}" for k, v in self.busy.items())
        return (f"{self.cycles} cycles (busy: {busy}); GEMM utilization "
                f"{self.gemm_utilization:.1%}; {sum(self.bytes_loaded.values())} B loaded, "
                f"{self.bytes_stored} B stored; {sum(self.instructions.values())} instructions")


@dataclass(slots=True)
class Counters:
    """Mutable tallies the event loop updates; `report` freezes them."""

    busy: dict[Stage, int] = field(default_factory=lambda: dict.fromkeys(Stage, 0))
    gemm_uops: int = 0
    alu_uops: int = 0
    bytes_loaded: dict[str, int] = field(default_factory=dict)
    bytes_stored: int = 0
    instructions: dict[str, int] = field(default_factory=dict)
    uops_loaded: int = 0
    moved: dict[Stage, int] = field(default_factory=lambda: dict.fromkeys(Stage, 0))

    def record(self, insn: Instruction, stage: Stage, busy: int, cfg: VtaConfig) -> None:
        self.busy[stage] += busy
        name = _mnemonic(insn)
        self.instructions[name] = self.instructions.get(name, 0) + 1
        match insn:
            case Load(mem=MemType.UOP):
                self.uops_loaded += insn.x_size
                self.moved[stage] += insn.x_size * cfg.uop_elem_bytes
            case Load():
                nbytes = insn.x_size * insn.y_size * cfg.elem_bytes(insn.mem)
                key = insn.mem.name
                self.bytes_loaded[key] = self.bytes_loaded.get(key, 0) + nbytes
                self.moved[stage] += nbytes
            case Store():
                nbytes = insn.x_size * insn.y_size * cfg.out_elem_bytes
                self.bytes_stored += nbytes
                self.moved[stage] += nbytes
            case Gemm(reset=False):
                self.gemm_uops += uop_executions(insn)
            case Alu():
                self.alu_uops += uop_executions(insn)
            case Gemm() | Finish():
                pass
            case _:
                assert_never(insn)

    def report(self, total_cycles: int) -> Report:
        return Report(total_cycles, {s.name.lower(): c for s, c in self.busy.items()},
                      self.gemm_uops, self.alu_uops, dict(self.bytes_loaded),
                      self.bytes_stored, dict(self.instructions), self.uops_loaded,
                      {s.name.lower(): n for s, n in self.moved.items()})


def _mnemonic(insn: Instruction) -> str:
    match insn:
        case Load():
            return f"LOAD {insn.mem.name}" if insn.x_size else "NOP"
        case Store():
            return "STORE" if insn.x_size else "NOP"
        case Gemm() | Alu() | Finish():
            return type(insn).__name__.upper()
        case _:
            assert_never(insn)
