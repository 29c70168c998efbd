"""The cycle model: per-instruction costs, overlap through tokens, and the counters."""

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.isa import Alu, AluOp, Deps, Finish, Gemm, Load, MemType, Store
from frittata.backends.vta.matmul import run_matmul
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.hw.timing import TimingParams, cycles

CFG = VtaConfig()
P = TimingParams()


def test_instruction_costs_follow_the_model():
    assert cycles(Gemm(0, 4, 3, 2), CFG, P) == P.gemm_latency + CFG.gemm_stages + 24
    assert cycles(Alu(AluOp.ADD, 0, 1, 1, 10, use_imm=True), CFG, P) == P.alu_latency + 10
    assert cycles(Alu(AluOp.ADD, 0, 1, 1, 10), CFG, P) == P.alu_latency + 20
    row = P.dma_row_overhead + 4 * 16 // CFG.bus_bytes
    assert cycles(Load(MemType.INP, 0, 0, 3, 4, 4), CFG, P) == P.dma_latency + 3 * row
    padded = Load(MemType.INP, 0, 0, 3, 4, 4, 1, 1, 1, 1)
    assert cycles(padded, CFG, P) == P.dma_latency + 3 * row + (5 * 6 - 12)
    assert cycles(Store(0, 0, 2, 8, 8), CFG, P) == P.dma_latency + 2 * (
        P.dma_row_overhead + 8 * 16 // CFG.bus_bytes)
    assert cycles(Finish(), CFG, P) == 1


def _two_module_stream(dependent: bool):
    """A weight load and an independent GEMM; `dependent` makes the GEMM wait for the load."""
    sim = Simulator(CFG, Dram())
    sim.machine.dram.alloc((64, 16, 16), np.int8)
    load = Load(MemType.WGT, 0, 0, 1, 64, 64, deps=Deps(push_next=dependent))
    gemm = Gemm(0, 0, reset=True, deps=Deps(pop_prev=dependent))
    return sim.execute((load, Load(MemType.UOP, 0, 0, 0, 0, 0), gemm, Finish()))


def test_independent_modules_overlap_and_tokens_serialise():
    overlapped, serial = _two_module_stream(False), _two_module_stream(True)
    assert overlapped.cycles == max(overlapped.busy.values())
    assert serial.cycles == serial.busy["load"] + P.gemm_latency + CFG.gemm_stages + P.nop_cycles


def test_counters_of_a_matmul():
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (64, 64), dtype=np.int8)
    b = rng.integers(-128, 128, (64, 64), dtype=np.int8)
    _, r = run_matmul(a, b)
    assert r.gemm_uops == 64 * 4 * 4
    assert r.bytes_loaded["INP"] == 64 * 64 and r.bytes_loaded["WGT"] == 64 * 64
    assert r.bytes_stored == 64 * 64
    assert r.instructions["FINISH"] == 1 and r.uops_loaded > 0
    assert 0 < r.gemm_utilization <= 1
    assert r.cycles >= max(r.busy.values())


def test_double_buffering_beats_one_tile_at_a_time():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (256, 256), dtype=np.int8)
    b = rng.integers(-128, 128, (256, 256), dtype=np.int8)
    _, r = run_matmul(a, b)
    assert r.cycles < sum(r.busy.values())


def test_a_wider_bus_makes_loads_cheaper():
    narrow, wide = VtaConfig(log_bus_width=6), VtaConfig(log_bus_width=7)
    load = Load(MemType.WGT, 0, 0, 4, 8, 8)
    assert cycles(load, wide, P) < cycles(load, narrow, P)


def test_deeper_gemm_pipelines_take_longer_to_fill():
    gemm = Gemm(0, 4, 3, 2)
    assert cycles(gemm, VtaConfig(gemm_stages=3), P) == cycles(gemm, CFG, P) + 2
