"""Illegal streams and emitter misuse raise the right `HardwareError`, never crash."""

from dataclasses import replace

import numpy as np
import pytest

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.encode import encode_uop
from frittata.backends.vta.hw.errors import (
    AddressError, EmitError, HazardError, StreamError, TokenError)
from frittata.backends.vta.hw.isa import (
    Alu, AluOp, Deps, Finish, Gemm, Load, MemType, Stage, Store, Uop)
from frittata.backends.vta.hw.kernel import GemmKernel, UopLoop
from frittata.backends.vta.hw.simulator import Simulator
from frittata.errors import FrittataError

from tests.backends.vta.helpers import Device

CFG = VtaConfig()


def simulate(*insns, check_hazards=True, uops=(), cfg=CFG):
    sim = Simulator(cfg, Dram(1 << 16), check_hazards=check_hazards)
    sim.machine.uop[:len(uops)] = [encode_uop(u, cfg) for u in uops]
    return sim.execute(tuple(insns) + (Finish(),))


NOP_LOAD = Load(MemType.INP, 0, 0, 0, 0, 0)


def test_pop_without_push_is_a_deadlock_naming_the_queue():
    with pytest.raises(TokenError, match="deadlock.*compute: #0 GEMM.*l2g"):
        simulate(Gemm(0, 0, deps=Deps(pop_prev=True)))


def test_circular_wait_is_a_deadlock():
    with pytest.raises(TokenError, match="deadlock"):
        simulate(Gemm(0, 0, deps=Deps(pop_next=True, push_next=True)),
                 Store(0, 0, 0, 0, 0, deps=Deps(pop_prev=True, push_prev=True)))


def test_leftover_tokens_are_reported():
    with pytest.raises(TokenError, match="leftover tokens.*l2g"):
        simulate(Load(MemType.INP, 0, 0, 0, 0, 0, deps=Deps(push_next=True)))


def test_a_full_queue_stalls_the_producer_but_completes():
    pushes = [Load(MemType.INP, 0, 0, 0, 0, 0, deps=Deps(push_next=True))] * 12
    pops = [Load(MemType.UOP, 0, 0, 0, 0, 0, deps=Deps(pop_prev=True))] * 12
    assert simulate(*pushes, *pops).instructions["NOP"] == 24


@pytest.mark.parametrize("insn, match", [
    (Load(MemType.INP, 2040, 0, 2, 5, 5), "INP SRAM rows \\[2040, 2050\\) overflow"),
    (Load(MemType.ACC, 2040, 0, 1, 4, 4, 1, 1, 1, 1), "ACC SRAM rows \\[2040, 2058\\)"),
    (Load(MemType.INP, 0, 1 << 30, 1, 1, 1), "DRAM access"),
    (Store(0, 1 << 30, 1, 1, 1), "DRAM access"),
    (Gemm(0, 1, iter_out=3, dst_factor_out=1024, src_factor_out=1), "ACC index 2048"),
    (Gemm(0, 1, iter_in=2000, dst_factor_in=1, src_factor_in=1, wgt_factor_in=1),
     "WGT index 1999"),
    (Gemm(0, 8193), "uop_end"),
    (Alu(AluOp.ADD, 0, 1, iter_in=3, dst_factor_in=1, src_factor_in=1024), "ALU source"),
])
def test_out_of_range_accesses(insn, match):
    with pytest.raises(AddressError, match=match) as info:
        simulate(insn, uops=[Uop(0, 0, 0)])
    assert isinstance(info.value, FrittataError)
    assert str(info.value).startswith(f"instruction #0 ({type(insn).__name__.upper()} ")  # says where


def test_back_to_back_accumulation_into_one_row_is_a_hazard():
    kernel = Gemm(0, 1, iter_out=4, src_factor_out=1, wgt_factor_out=1)
    with pytest.raises(HazardError, match="ACC row 0"):
        simulate(kernel, uops=[Uop(0, 0, 0)])
    sim = Simulator(CFG, Dram(1 << 16), check_hazards=False)
    sim.machine.uop[0] = encode_uop(Uop(0, 0, 0), CFG)
    sim.machine.inp[:4], sim.machine.wgt[:4] = 1, 2
    sim.execute((kernel, Finish()))
    assert (sim.machine.acc[0] == 4 * 2 * CFG.block_in).all()  # four sums, none lost


def test_distance_two_is_also_a_hazard_but_three_is_not():
    uops = [Uop(0, 0, 0), Uop(1, 0, 0)]
    with pytest.raises(HazardError):
        simulate(Gemm(0, 2, iter_out=2), uops=uops)
    simulate(Gemm(0, 3, iter_out=2), uops=uops + [Uop(2, 0, 0)])


@pytest.mark.parametrize("stages", [1, 3, 8])
def test_the_hazard_window_grows_with_the_gemm_pipeline(stages):
    """A datapath of `stages` stages writes a sum back `stages` + 1 uops after reading the row:
    a row written again within that window is a hazard, one written after it is not."""
    cfg = VtaConfig(gemm_stages=stages)
    window = cfg.hazard_window
    assert window == stages + 1

    def rows(n):
        return [Uop(i, 0, 0) for i in range(n)]
    with pytest.raises(HazardError, match=f"hazard window of {window}"):
        simulate(Gemm(0, window, iter_out=2), uops=rows(window), cfg=cfg)
    simulate(Gemm(0, window + 1, iter_out=2), uops=rows(window + 1), cfg=cfg)


def test_reset_gemm_may_repeat_rows_and_zeroes_them():
    """A reset GEMM writes no sum, so repeating a row is no hazard; the row ends all zero."""
    sim = Simulator(CFG, Dram(1 << 16))
    sim.machine.uop[0] = encode_uop(Uop(0, 0, 0), CFG)
    sim.machine.acc[0] = 7
    sim.machine.inp[0], sim.machine.wgt[0] = 1, 1
    sim.execute((Gemm(0, 1, iter_out=5, reset=True), Finish()))
    assert not sim.machine.acc[0].any()


@pytest.mark.parametrize("insns, match", [
    ((Load(MemType.INP, 0, 0, 0, 0, 0, deps=Deps(pop_prev=True)),), "no neighbour"),
    ((Store(0, 0, 0, 0, 0, deps=Deps(push_next=True)),), "no neighbour"),
    ((Load(MemType.WGT, 0, 0, 1, 1, 1, x_pad0=1),), "no padding on a weight load"),
    ((Load(MemType.OUT, 0, 0, 1, 1, 1),), "LOAD OUT"),
    ((Finish(),), "exactly one FINISH"),
])
def test_malformed_streams(insns, match):
    with pytest.raises(StreamError, match=match):
        simulate(*insns)


def test_stream_without_finish():
    with pytest.raises(StreamError, match="FINISH"):
        Simulator(CFG, Dram(1 << 12)).execute((NOP_LOAD,))


def test_emitter_misuse():
    dev = Device()
    with pytest.raises(EmitError, match="neighbouring"):
        dev.em.dep_pop(Stage.LOAD, Stage.STORE)
    with pytest.raises(EmitError, match="at most 2 loops"):
        GemmKernel((Uop(0, 0),), (UopLoop(2), UopLoop(2), UopLoop(2)))
    with pytest.raises(EmitError, match="uop buffer depth"):
        dev.em.gemm(GemmKernel(tuple(Uop(i % 3, 0) for i in range(8193))))
    with pytest.raises(EmitError, match="kernel cache"):
        dev.em.load_2d(MemType.UOP, 0, dev.dram.put(np.zeros(4, np.uint32)), 0, 1, 4, 4)
    with pytest.raises(EmitError, match="non-negative"):
        UopLoop(2, -1)


def test_misaligned_buffers_are_rejected():
    dram = Dram()
    buf = dram.put(np.zeros(16, np.int8), align=4096)
    with pytest.raises(AddressError, match="alignment"):
        replace(buf, addr=buf.addr + 16).elem_offset(256)
