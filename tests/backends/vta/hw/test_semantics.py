"""The vectorised GEMM / ALU against a literal transcription of the spec's loop nest."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.encode import encode_uop
from frittata.backends.vta.hw.isa import Alu, AluOp, Gemm, Uop
from frittata.backends.vta.hw.machine import Machine

CFG = VtaConfig()
N_ROWS = 24


def machine(seed: int) -> Machine:
    m = Machine(CFG, Dram(1 << 12))
    rng = np.random.default_rng(seed)
    m.inp[:N_ROWS] = rng.integers(-128, 128, m.inp[:N_ROWS].shape)
    m.wgt[:N_ROWS] = rng.integers(-128, 128, m.wgt[:N_ROWS].shape)
    big = rng.integers(-(1 << 31), 1 << 31, m.acc[:N_ROWS].shape, dtype=np.int64)
    m.acc[:N_ROWS] = big.astype(np.int32)
    return m


def executions(insn, uops):
    for i in range(insn.iter_out):
        for j in range(insn.iter_in):
            for u in uops:
                yield (u.dst + i * insn.dst_factor_out + j * insn.dst_factor_in,
                       u.src + i * insn.src_factor_out + j * insn.src_factor_in,
                       u.wgt + i * getattr(insn, "wgt_factor_out", 0)
                       + j * getattr(insn, "wgt_factor_in", 0))


def reference_gemm(m: Machine, insn: Gemm, uops) -> np.ndarray:
    acc = m.acc.astype(np.int64)
    for d, s, w in executions(insn, uops):
        update = 0 if insn.reset else acc[d] + m.inp[s].astype(np.int64) @ m.wgt[w].T
        acc[d] = (np.asarray(update) + (1 << 31)) % (1 << 32) - (1 << 31)
    return acc.astype(np.int32)


small = st.integers(0, 3)
uop_lists = st.lists(st.builds(Uop, st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
                     min_size=1, max_size=4)


def load_uops(m: Machine, uops) -> None:
    m.uop[:len(uops)] = [encode_uop(u, CFG) for u in uops]


@given(seed=st.integers(0, 1000), uops=uop_lists, loops=st.tuples(*[small] * 8),
       reset=st.booleans())
def test_gemm_matches_the_loop_nest(seed, uops, loops, reset):
    m = machine(seed)
    it_out, it_in, *factors = loops
    insn = Gemm(0, len(uops), it_out, it_in, *factors, reset=reset)
    load_uops(m, uops)
    expected = reference_gemm(m, insn, uops)
    m.gemm(insn, "test", check_hazards=False)
    np.testing.assert_array_equal(m.acc, expected)
    written = sorted({d for d, _, _ in executions(insn, uops)})
    np.testing.assert_array_equal(m.out[written], expected[written].astype(np.int8))


@given(seed=st.integers(0, 1000), uops=uop_lists, loops=st.tuples(*[small] * 6),
       op=st.sampled_from(AluOp), use_imm=st.booleans(), imm=st.integers(-40, 40))
def test_alu_matches_the_loop_nest_even_with_overlaps(seed, uops, loops, op, use_imm, imm):
    m = machine(seed)
    it_out, it_in, *factors = loops
    insn = Alu(op, 0, len(uops), it_out, it_in, *factors, use_imm=use_imm, imm=imm)
    load_uops(m, uops)
    acc = m.acc.astype(np.int64)
    for d, s, _ in executions(insn, uops):
        y = np.int64(imm) if use_imm else acc[s].copy()
        match op:
            case AluOp.MIN:
                r = np.minimum(acc[d], y)
            case AluOp.MAX:
                r = np.maximum(acc[d], y)
            case AluOp.ADD:
                r = acc[d] + y
            case AluOp.MUL:
                r = acc[d] * y
            case AluOp.SHR:
                y = np.broadcast_to(y, acc[d].shape)
                r = np.where(y >= 0, acc[d] >> np.clip(y, 0, 63), acc[d] << np.clip(-y, 0, 32))
        acc[d] = r.astype(np.int32)
    m.alu(insn, "test")
    np.testing.assert_array_equal(m.acc, acc.astype(np.int32))
