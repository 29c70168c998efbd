"""The hand-written matmul and the lowered `vta_conv2d`, bit-exact against numpy integers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.lower import config_block, run_vta_term
from frittata.backends.vta.matmul import run_matmul
from frittata.backends.vta.matmul_pipeline import Requant
from frittata.terms import builders as tb
from frittata.terms.vta_ops import pack_array, unpack_array

CONFIGS = {"default": VtaConfig(), "batch4": VtaConfig(log_batch=2),
           "block32": VtaConfig(log_block=5)}


def int8s(rng, shape):
    return rng.integers(-128, 128, shape, dtype=np.int8)


def conv_reference(x, w, stride, pad):
    """Direct integer conv2d, NCHW x OIHW, in int64."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, oh, ow), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.int64))
    return out.astype(np.int32)


@pytest.mark.parametrize("name", CONFIGS)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 6), n=st.integers(1, 4),
       k=st.integers(1, 5), shift=st.integers(0, 12))
def test_blocked_matmul(name, seed, m, n, k, shift):
    cfg = CONFIGS[name]
    m, n, k = 3 * m * cfg.batch, n * cfg.block_out, k * cfg.block_in
    rng = np.random.default_rng(seed)
    a, b = int8s(rng, (m, k)), int8s(rng, (n, k))
    requant = Requant(shift, -127, 127)
    c, report = run_matmul(a, b, cfg, requant)
    expected = requant.reference(a.astype(np.int32) @ b.T.astype(np.int32))
    np.testing.assert_array_equal(c, expected)
    assert report.gemm_uops == (m // cfg.batch) * (n // cfg.block_out) * (k // cfg.block_in)


def test_large_matmul_uses_many_tiles_and_wraps_nothing():
    rng = np.random.default_rng(0)
    a, b = int8s(rng, (256, 512)), int8s(rng, (128, 512))
    c, report = run_matmul(a, b)
    np.testing.assert_array_equal(c, Requant().reference(a.astype(np.int32) @ b.T.astype(np.int32)))
    assert report.instructions["STORE"] > 1


@pytest.mark.parametrize("m,n", [(1, 16), (2, 32), (4, 32)])
def test_small_matmul_tiles_are_hazard_free_on_the_deepest_gemm_pipeline(m, n):
    """Tiles of 1 to 8 ACC rows reduced over several blocks: the hand-written matmul runs the
    dense lowering's GEMMs (one per block below the widest hazard window), so its stream never
    writes a row within the window of 8 GEMM stages (the simulator checks it), bit-exact."""
    rng, deep = np.random.default_rng(6), VtaConfig(gemm_stages=8)
    a, b = int8s(rng, (m, 64)), int8s(rng, (n, 64))
    c, report = run_matmul(a, b, deep)
    np.testing.assert_array_equal(c, Requant().reference(a.astype(np.int32) @ b.T.astype(np.int32)))
    assert report.gemm_uops == m * (n // 16) * 4


def lowered_conv2d(x, w, bias, stride, pad, epilogue, cfg):
    """Pack NCHW x / OIHW w, lower and simulate one `vta_conv2d` term; NCHW output and report."""
    batch, block_in, block_out = config_block(cfg)
    px, pw = pack_array(x, batch, block_in), pack_array(w, block_out, block_in)
    node = tb.vta_conv2d(tb.var("x", px.shape, "int8"), tb.var("w", pw.shape, "int8"),
                         tb.var("b", bias.shape, "int32"), (stride, stride), (pad,) * 4,
                         epilogue, config_block(cfg))
    out, report = run_vta_term(node, [px, pw, bias], cfg)
    return unpack_array(out), report


def rounding_requant(acc, shift, lo, hi):
    """The epilogue (shift, clip, cast int8) in numpy: round half up, shift right, clip."""
    return ((acc.astype(np.int64) + (1 << (shift - 1))) >> shift).clip(lo, hi).astype(np.int8)


@pytest.mark.parametrize("hw, c, o, k, pad, stride", [
    (8, 32, 32, 3, 1, 1),
    (9, 16, 32, 3, 1, 2),
    (8, 32, 16, 1, 0, 2),
    (6, 16, 16, 3, 0, 1),
])
@pytest.mark.parametrize("name", ["default", "batch4"])
def test_conv2d(hw, c, o, k, pad, stride, name):
    cfg = CONFIGS[name]
    rng = np.random.default_rng(hw * c + o)
    x, w = int8s(rng, (cfg.batch, c, hw, hw)), int8s(rng, (o, c, k, k))
    bias = rng.integers(-2 ** 10, 2 ** 10, o).astype(np.int32)
    epilogue = (("shift", 8), ("clip", 0, 127), ("cast", "int8"))
    out, report = lowered_conv2d(x, w, bias, stride, pad, epilogue, cfg)
    acc = conv_reference(x, w, stride, pad) + bias.reshape(1, -1, 1, 1)
    np.testing.assert_array_equal(out, rounding_requant(acc, 8, 0, 127))
    assert report.gemm_uops > 0 and report.bytes_stored == out.size


@pytest.mark.parametrize("hw, c, o, k, pad, stride", [
    (1, 16, 16, 1, 0, 2),  # one output pixel of one block: what tensorize-vta-conv2d offered at seed 0
    (3, 32, 16, 3, 0, 1),  # 1x1 output of a 3x3 kernel
    (2, 16, 32, 1, 0, 2),  # two blocks of one pixel
    (3, 16, 16, 2, 0, 2),  # 1x1 output, kernel past the stride
])
def test_conv2d_tiles_of_one_or_two_accumulator_rows(hw, c, o, k, pad, stride):
    """A conv whose output has fewer than 3 pixels x blocks lowers (the lowering once asked for
    a tile of >= 3 ACC rows, which tensorize-vta-conv2d's guards do not ask for): each GEMM writes
    each ACC row once, so even the deepest GEMM pipeline meets no hazard (the simulator checks),
    and the result is bit-exact."""
    cfg = VtaConfig(gemm_stages=8)
    rng = np.random.default_rng(hw * c + o + k)
    x, w = int8s(rng, (cfg.batch, c, hw, hw)), int8s(rng, (o, c, k, k))
    bias = rng.integers(-2 ** 10, 2 ** 10, o).astype(np.int32)
    epilogue = (("shift", 8), ("clip", -127, 127), ("cast", "int8"))
    out, report = lowered_conv2d(x, w, bias, stride, pad, epilogue, cfg)
    acc = conv_reference(x, w, stride, pad) + bias.reshape(1, -1, 1, 1)
    np.testing.assert_array_equal(out, rounding_requant(acc, 8, -127, 127))
    assert report.gemm_uops == (o // 16) * (c // 16) * k * k * out.shape[2] * out.shape[3]
