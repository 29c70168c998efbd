"""Tests that kill surviving mutants of the VTA simulator (bench/mutation_score.py)."""

import numpy as np
import pytest

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.errors import AddressError, TokenError
from frittata.backends.vta.hw.gemm_core import gemm_accumulate
from frittata.backends.vta.hw.isa import Deps, Finish, Gemm, Store
from frittata.backends.vta.hw.simulator import Simulator

CFG = VtaConfig()


def test_the_deadlock_message_names_the_empty_queue_in_lower_case():
    sim = Simulator(CFG, Dram(1 << 16))
    with pytest.raises(TokenError, match=r"waits for a token on l2g \(empty\)"):
        sim.execute((Gemm(0, 0, deps=Deps(pop_prev=True)), Finish()))


def test_many_products_into_one_row_accumulate_exactly():
    # 2000 products of ~2e5 each land on one row: partial sums pass 2^24, where float32
    # rounds; the accumulation must stay exact (int32 result, no wrap at this size)
    rng = np.random.default_rng(0)
    n, block = 2000, CFG.block_in
    inp = rng.integers(100, 128, size=(n, CFG.batch, block)).astype(np.int8)
    wgt = rng.integers(100, 128, size=(1, CFG.block_out, block)).astype(np.int8)
    acc = np.zeros((1, CFG.batch, CFG.block_out), dtype=np.int32)
    dst, src, widx = np.zeros(n, np.int64), np.arange(n), np.zeros(n, np.int64)
    gemm_accumulate(acc, inp, wgt, dst, src, widx)
    exact = np.einsum("nbk,ok->bo", inp.astype(np.int64), wgt[0].astype(np.int64))
    assert exact.max() > 1 << 24
    np.testing.assert_array_equal(acc[0], exact.astype(np.int32))


def test_a_store_past_the_out_buffer_names_the_out_buffer():
    sim = Simulator(CFG, Dram(1 << 16))
    base = CFG.out_depth - 1
    with pytest.raises(AddressError, match=rf"OUT SRAM rows \[{base}, {base + 2}\) overflow"):
        sim.execute((Store(base, 0, 1, 2, 2), Finish()))
