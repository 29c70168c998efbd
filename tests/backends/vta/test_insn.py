"""Our equivalents of TVM's VTA instruction tests (TVM's test_vta_insn), bit-exact vs numpy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.isa import AluOp, Load, MemType, Stage
from frittata.backends.vta.hw.kernel import rows_kernel
from frittata.backends.vta.matmul import (
    MatmulTiling, emit_matmul, pack_matmul, unpack_matmul)
from frittata.backends.vta.matmul_pipeline import Requant

from tests.backends.vta.helpers import Device, acc_roundtrip

LANES = (1, 16)


def rows(rng, n, lo, hi):
    return rng.integers(lo, hi, (n, *LANES), dtype=np.int64).astype(np.int32)


def test_save_load_out():
    rng = np.random.default_rng(1)
    x = rows(rng, 36, 1, 10)
    y = acc_roundtrip(Device(), x, [rows_kernel(AluOp.SHR, 0, 36, imm=0)])
    np.testing.assert_array_equal(y, x.astype(np.int8))


def test_store_without_alu_does_not_see_loaded_acc():
    """OUT is refreshed only by GEMM / ALU writes (HLS), so the `>> 0` no-op is required."""
    x = rows(np.random.default_rng(2), 4, 1, 10)
    y = acc_roundtrip(Device(), x, [])
    np.testing.assert_array_equal(y, np.zeros_like(y))


@pytest.mark.parametrize("pads", [(2, 0, 0, 0), (0, 0, 2, 0), (0, 2, 0, 0), (0, 0, 0, 2),
                                  (1, 1, 1, 1)])
@pytest.mark.parametrize("mem", [MemType.ACC, MemType.ACC_8BIT])
def test_padded_load(pads, mem):
    y0, y1, x0, x1 = pads
    dev = Device()
    x = rows(np.random.default_rng(3), 15, -100, 100).reshape(3, 5, *LANES)
    src = dev.dram.put(x if mem == MemType.ACC else x.astype(np.int8))
    ny, nx = 3 + y0 + y1, 5 + x0 + x1
    out = dev.dram.alloc((ny, nx, *LANES), np.int8)
    dev.em.load_2d(mem, 0, src, 0, 3, 5, 5, (y0, y1), (x0, x1))
    dev.em.alu(rows_kernel(AluOp.SHR, 0, ny * nx, imm=0))
    dev.em.dep_push(Stage.COMPUTE, Stage.STORE)
    dev.em.dep_pop(Stage.COMPUTE, Stage.STORE)
    dev.em.store_2d(0, out, 0, ny, nx, nx)
    dev.run()
    expected = np.pad(x, ((y0, y1), (x0, x1), (0, 0), (0, 0))).astype(np.int8)
    np.testing.assert_array_equal(dev.dram.get(out), expected)


@pytest.mark.parametrize("tiling", [MatmulTiling(4, 4, 1), MatmulTiling(2, 4, 1)],
                         ids=["default", "two-threads"])
def test_gemm(tiling):
    """x (4, 16) @ w (64, 16)^T then >> 8, clip [0, 127]; one tile, or two tiles alternating
    SRAM halves with their own tokens (TVM's 'smt' schedule)."""
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, (4, 16), dtype=np.int8)
    b = rng.integers(-128, 128, (64, 16), dtype=np.int8)
    dev = Device()
    pa, pb = pack_matmul(a, b, dev.cfg)
    c = dev.dram.alloc((4, 4, 1, 16), np.int8)
    emit_matmul(dev.em, dev.dram.put(pa), dev.dram.put(pb), c, Requant(), tiling)
    dev.run()
    expected = Requant().reference(a.astype(np.int32) @ b.T.astype(np.int32))
    np.testing.assert_array_equal(unpack_matmul(dev.dram.get(c)), expected)


def _ref_alu(op, x, y):
    x, y = x.astype(np.int64), np.broadcast_to(np.asarray(y, dtype=np.int64), x.shape)
    match op:
        case AluOp.MIN:
            r = np.minimum(x, y)
        case AluOp.MAX:
            r = np.maximum(x, y)
        case AluOp.ADD:
            r = x + y
        case AluOp.MUL:
            r = x * y
        case AluOp.SHR:
            r = np.where(y >= 0, x >> np.minimum(y, 63), x << np.minimum(-y, 32))
    return r.astype(np.int32)


int32s = st.integers(-(1 << 31), (1 << 31) - 1)


@pytest.mark.parametrize("op", list(AluOp))
@pytest.mark.parametrize("use_imm", [True, False], ids=["imm", "tensor"])
@given(seed=st.integers(0, 2**32 - 1), imm=st.integers(-(1 << 15), (1 << 15) - 1))
def test_alu(op, use_imm, seed, imm):
    rng = np.random.default_rng(seed)
    x = rng.integers(-(1 << 31), 1 << 31, (16, *LANES), dtype=np.int64).astype(np.int32)
    if op == AluOp.SHR:
        x[8:] = rng.integers(-40, 40, (8, *LANES))
        imm = imm % 80 - 40
    dev = Device()
    kernel = rows_kernel(op, 0, 8, imm=imm if use_imm else None, src_base=8)
    y = acc_roundtrip(dev, x, [kernel])
    expected = _ref_alu(op, x[:8], imm if use_imm else x[8:])
    np.testing.assert_array_equal(dev.sim.machine.acc[:8], expected)
    np.testing.assert_array_equal(y[:8], expected.astype(np.int8))


@pytest.mark.parametrize("op, imm", [(AluOp.SHR, -3), (AluOp.MAX, 2), (AluOp.ADD, 4),
                                     (AluOp.SHR, 1)])
def test_alu_small_values_like_tvm(op, imm):
    x = rows(np.random.default_rng(5), 64, -16, 16)
    dev = Device()
    acc_roundtrip(dev, x, [rows_kernel(op, 0, 64, imm=imm)])
    np.testing.assert_array_equal(dev.sim.machine.acc[:64], _ref_alu(op, x, imm))


def test_relu():
    x = rows(np.random.default_rng(6), 80, -256, 256)
    y = acc_roundtrip(Device(), x, [rows_kernel(AluOp.MAX, 0, 80, imm=0),
                                    rows_kernel(AluOp.MIN, 0, 80, imm=127)])
    np.testing.assert_array_equal(y, x.clip(0, 127).astype(np.int8))


def test_preloaded_kernels_share_one_uop_load():
    """`preload` puts several kernels' micro-ops in the uop buffer with one LOAD UOP (a kernel
    already resident or repeated loads nothing); the ALU instructions running them load
    nothing more, and compute the same rows."""
    x = rows(np.random.default_rng(8), 64, -256, 256)
    relus = [rows_kernel(AluOp.MAX, base, 16, imm=0) for base in range(0, 64, 16)]
    dev = Device()
    src, out = dev.dram.put(x), dev.dram.alloc(x.shape, np.int8)
    dev.em.load_2d(MemType.ACC, 0, src, 0, 1, 64, 64)
    dev.em.alu(relus[0])
    dev.em.preload(relus + relus[1:2])
    for kernel in relus[1:] + [rows_kernel(AluOp.MIN, 0, 64, imm=127)]:
        dev.em.alu(kernel)
    dev.em.dep_push(Stage.COMPUTE, Stage.STORE)
    dev.em.dep_pop(Stage.COMPUTE, Stage.STORE)
    dev.em.store_2d(0, out, 0, 1, 64, 64)
    stream = dev.em.synchronize()
    loads = [i.x_size for i in stream.instructions if isinstance(i, Load) and i.mem == MemType.UOP and i.x_size]
    assert loads == [1, 3]  # the MIN over all rows shares the first relu's micro-op
    dev.sim.run(stream.image())
    np.testing.assert_array_equal(dev.dram.get(out), x.clip(0, 127).astype(np.int8))


@given(add=st.integers(0, 7), shift=st.integers(1, 4))
def test_shift_and_scale(add, shift):
    x = rows(np.random.default_rng(7), 16, -10, 10)
    y = acc_roundtrip(Device(), x, [rows_kernel(AluOp.ADD, 0, 16, imm=add),
                                    rows_kernel(AluOp.SHR, 0, 16, imm=shift)])
    np.testing.assert_array_equal(y, ((x + add) >> shift).astype(np.int8))


def test_runtime_array_copy():
    dram = Dram(1 << 12)
    x = np.random.default_rng(8).integers(-128, 128, (100, 100, 1, 16), dtype=np.int8)
    buf = dram.put(x)
    np.testing.assert_array_equal(dram.get(buf), x)
    assert buf.addr % 4096 == 0


def test_alu_on_other_config():
    dev = Device(VtaConfig(log_batch=2, log_block=5))
    x = rows(np.random.default_rng(9), 6, -300, 300).repeat(4, 1).repeat(2, 2)
    y = acc_roundtrip(dev, x, [rows_kernel(AluOp.MIN, 0, 6, imm=100)])
    np.testing.assert_array_equal(y, x.clip(max=100).astype(np.int8))
