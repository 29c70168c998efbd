"""Lowered VTA kernel terms on the simulator are bit-exact against the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.lower import config_block, emit_vta_term, fold_rounding, run_vta_term
from frittata.errors import LoweringError
from frittata.terms import builders as tb
from frittata.terms.interp import evaluate
from frittata.terms.program import Program

REQUANT = (("shift", 8), ("clip", -127, 127), ("relu",), ("cast", "int8"))
RESNET18 = {  # name: (H=W, C, O, K, pad, stride), a subset of ResNet-18's layers as TVM's VTA tests number them
    "C4": (56, 64, 128, 1, 0, 2), "C7": (28, 128, 256, 1, 0, 2), "C10": (14, 256, 512, 1, 0, 2),
    "C11": (7, 512, 512, 3, 1, 1),
}


def _check(node, x: np.ndarray, cfg: VtaConfig, threads: int = 2):
    program = Program({"y": node})
    feeds = {name: x for name in program.inputs}
    args = [evaluate(Program({"a": a}), {n: x for n in Program({"a": a}).inputs})["a"] for a in node.args]
    got, report = run_vta_term(node, args, cfg, threads)
    np.testing.assert_array_equal(got, evaluate(program, feeds)["y"])
    return report


def conv_node(rng, cfg, hw, c, o, k, strides, pads, epilogue=REQUANT, n=None):
    block = config_block(cfg)
    x = rng.integers(-128, 128, (n or cfg.batch, c, hw, hw)).astype(np.int8)
    w = rng.integers(-128, 128, (o, c, k, k)).astype(np.int8)
    bias = rng.integers(-2 ** 14, 2 ** 14, o).astype(np.int32)
    node = tb.vta_conv2d(tb.vta_pack(tb.var("x", x.shape, "int8"), "act", block),
                         tb.vta_pack(tb.param("w", w), "wgt", block), tb.param("b", bias),
                         strides, pads, epilogue, block)
    return node, x


def dense_node(rng, cfg, n, k, o, epilogue=REQUANT):
    block = config_block(cfg)
    x = rng.integers(-128, 128, (n, k)).astype(np.int8)
    w = rng.integers(-128, 128, (o, k)).astype(np.int8)
    bias = rng.integers(-2 ** 14, 2 ** 14, o).astype(np.int32)
    node = tb.vta_dense(tb.vta_pack(tb.var("x", x.shape, "int8"), "act", block),
                        tb.vta_pack(tb.param("w", w), "wgt", block), tb.param("b", bias), epilogue, block)
    return node, x


UTILIZATION = {"C4": 0.39, "C7": 0.55, "C10": 0.70}
"""GEMM utilization floors of the 1x1 stride-2 layers (measured 39.3%, 55.8%, 70.6%) under
their bounds G / (G + 6) (40.0%, 57.1%, 72.7%: per ACC row, C/16 GEMM micro-ops against 6
non-GEMM cycles on the in-order compute module: reset 1, bias ADD 2, SHR, MIN, MAX).  C10's
single tile of all 32 output blocks takes the whole accumulator, and the last tile drains in
parts; before, 58.5% (67.2% with the searched tiling)."""


@pytest.mark.parametrize("name", sorted(RESNET18))
def test_resnet18_conv_layers_bit_exact(name):
    hw, c, o, k, pad, stride = RESNET18[name]
    node, x = conv_node(np.random.default_rng(1), VtaConfig(), hw, c, o, k, (stride,) * 2, (pad,) * 4)
    report = _check(node, x, VtaConfig())
    assert report.gemm_uops > 0
    assert report.gemm_utilization >= UTILIZATION.get(name, 0.0)


@pytest.mark.parametrize("n,k,o", [(1, 512, 16), (16, 256, 128), (128, 128, 128), (2, 32, 16)])
def test_dense_bit_exact(n, k, o):
    node, x = dense_node(np.random.default_rng(2), VtaConfig(), n, k, o)
    _check(node, x, VtaConfig())


def test_dense_tiles_are_hazard_free_on_the_deepest_gemm_pipeline():
    """Tiles of 4 and 8 ACC rows with several reduction steps: the emitted stream never writes
    a row within the widest hazard window (8 GEMM stages), checked by the simulator, bit-exact."""
    deep = VtaConfig(gemm_stages=8)
    for n, o in ((1, 64), (1, 128)):
        node, x = dense_node(np.random.default_rng(3), deep, n, 96, o)
        _check(node, x, deep)


@pytest.mark.parametrize("n,k,o,threads", [(1, 512, 16, 2), (16, 256, 128, 2), (4, 32, 48, 1)])
def test_int32_dense_is_stored_as_four_byte_planes(n, k, o, threads):
    node, x = dense_node(np.random.default_rng(5), VtaConfig(), n, k, o, epilogue=())
    assert node.dtype == "int32"
    report = _check(node, x, VtaConfig(), threads)
    assert report.bytes_stored == 4 * n * o


def test_a_stem_too_wide_for_whole_rows_tiles_in_width_bit_exact():
    """A 7x7 stride-2 stem at 144x144 (reduced from 224 for CI time): one output row reads 7
    input rows of 150 padded columns, more than an INP buffer (1024 elements), so the lowering,
    which refused it before, tiles the columns too; edge tiles get their zero halo from the
    DMA's padding."""
    node, x = conv_node(np.random.default_rng(7), VtaConfig(), 144, 16, 64, 7, (2, 2), (3,) * 4)
    tiling = emit_vta_term(node, [np.zeros(a.shape, a.dtype) for a in node.args], VtaConfig(), Dram()).tiling
    assert tiling.tw < 72 and tiling.th < 72
    _check(node, x, VtaConfig())


def test_rounding_folds_into_the_bias_only_when_no_sum_can_wrap():
    """A first shift's 2^(s-1), alone or after a relu, goes into the bias (one SHR instead of
    three ALU passes) unless |bias| + 2^(s-1) + terms * 2^14 could reach 2^31; both forms are
    bit-exact."""
    bias = np.array([-5, 7], np.int32)
    assert fold_rounding(REQUANT, bias, 576)[0][0] == ("floor_shift", 8)
    np.testing.assert_array_equal(fold_rounding(REQUANT, bias, 576)[1], bias + 128)
    big = np.array([2 ** 31 - 2 ** 20, 0], np.int32)
    assert fold_rounding(REQUANT, big, 576) == (REQUANT, big)
    folded, shifted = fold_rounding((("relu",), ("shift", 3)), bias, 576)
    assert folded == (("relu",), ("floor_shift", 3)) and list(shifted) == [-1, 11]
    assert fold_rounding((("relu",), ("relu",), ("shift", 3)), bias, 576)[0][2] == ("shift", 3)
    rng = np.random.default_rng(8)
    node, x = conv_node(rng, VtaConfig(), 8, 32, 32, 3, (1, 1), (1,) * 4)
    large = tb.param("b", np.full(32, 2 ** 31 - 2 ** 22, np.int32))
    node = tb.vta_conv2d(node.args[0], node.args[1], large, (1, 1), (1,) * 4, REQUANT, config_block(VtaConfig()))
    _check(node, x, VtaConfig())


@pytest.mark.parametrize("hi", [127, 5])
def test_a_relu_first_epilogue_folds_its_rounding_and_drops_the_redundant_lower_clip(hi):
    """The quantizer's order, relu then a rounding shift then clip(-127, hi) (hi < 127 from a
    relu6): the rounding goes into the bias (values near every rounding boundary: bias
    around multiples of 2^(s-1) and small products), MAX -127 after the relu is left out, so
    the epilogue is MAX 0, SHR, MIN (3 ALU micro-ops per row), bit-exact."""
    rng = np.random.default_rng(9)
    epilogue = (("relu",), ("shift", 6), ("clip", -127, hi), ("cast", "int8"))
    node, x = conv_node(rng, VtaConfig(), 8, 32, 32, 1, (1, 1), (0,) * 4, epilogue)
    bias = tb.param("b", (rng.integers(-8, 8, 32) * 32 + rng.integers(-2, 3, 32)).astype(np.int32))
    node = tb.vta_conv2d(node.args[0], node.args[1], bias, (1, 1), (0,) * 4, epilogue, config_block(VtaConfig()))
    x = (x // 32).astype(np.int8)
    report = _check(node, x, VtaConfig())
    assert report.alu_uops == 64 * 2 * 4  # per ACC row (64 pixels x 2 blocks): the bias ADD and 3


def test_int32_conv_keeps_negative_and_large_accumulators():
    node, x = conv_node(np.random.default_rng(6), VtaConfig(), 14, 256, 32, 3, (1, 1), (1,) * 4, ())
    _check(node, x, VtaConfig())


def test_double_buffering_overlaps_loads_with_compute():
    node, x = dense_node(np.random.default_rng(3), VtaConfig(), 256, 256, 256)
    one, two = _check(node, x, VtaConfig(), threads=1), _check(node, x, VtaConfig(), threads=2)
    assert two.gemm_uops == one.gemm_uops and two.cycles < one.cycles


SMALL = VtaConfig(log_batch=1, log_block=3, log_wgt_buff_size=16, log_inp_buff_size=14, log_acc_buff_size=15)


@given(st.integers(0, 2 ** 31 - 1), st.sampled_from([(1, 1), (2, 2), (1, 2)]),
       st.tuples(*[st.integers(0, 2)] * 4), st.sampled_from([1, 3]),
       st.sampled_from([REQUANT, (("shift", 1), ("cast", "int8")), (("cast", "int8"),),
                        (("relu",), ("shift", 15), ("clip", -3, 5), ("cast", "int8")),
                        (), (("shift", 3), ("relu",))]))
def test_conv_random_shapes_other_config(seed, strides, pads, k, epilogue):
    rng = np.random.default_rng(seed)
    hw, c, o = int(rng.integers(k + 2, 10)), 8 * int(rng.integers(1, 3)), 8 * int(rng.integers(1, 3))
    node, x = conv_node(rng, SMALL, hw, c, o, k, strides, pads, epilogue)
    _check(node, x, SMALL, threads=int(rng.integers(1, 3)))


def test_block_of_another_config_is_rejected():
    node, x = dense_node(np.random.default_rng(4), SMALL, 2, 16, 16)
    with pytest.raises(LoweringError, match="expected block"):
        run_vta_term(node, [np.zeros(a.shape, a.dtype) for a in node.args], VtaConfig())


def test_weights_too_large_for_the_buffer_are_reduced_in_input_channel_steps():
    """A WGT buffer of 16 tiles (8 per virtual thread) cannot hold the 16 input-channel blocks of
    one output block of a 256-channel 1x1 conv: the reduction runs in steps of at most 8 input
    blocks, accumulating across steps, bit-exact."""
    cfg = VtaConfig(log_wgt_buff_size=12)
    node, x = conv_node(np.random.default_rng(6), cfg, 8, 256, 32, 1, (1, 1), (0,) * 4)
    args = [np.zeros(a.shape, a.dtype) for a in node.args]
    tiling = emit_vta_term(node, args, cfg, Dram()).tiling
    assert tiling.tco * tiling.tci <= 8 and tiling.tci < 16
    report = _check(node, x, cfg)
    assert report.instructions["LOAD WGT"] == 16 // tiling.tci * 2 // tiling.tco * (8 // tiling.th)
