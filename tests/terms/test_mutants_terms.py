"""Tests that kill surviving mutants of frittata.terms (bench/mutation_score.py)."""

import numpy as np
import pytest
from onnx import helper

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms.ops import Op

from tests.terms.conftest import assert_matches_ort, one_node_model


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def test_ceil_mode_pool_pads_each_spatial_axis_by_its_own_size(rng):
    # 4 channels (even) and width 9 (odd): the ceil-mode extra of the width must come from
    # the width, not from the channel count
    x = _f32(rng, 1, 4, 7, 9)
    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    assert_matches_ort(one_node_model(pool, {"x": x}), {"x": x})


def test_layer_norm_without_epsilon_uses_the_default(rng):
    x, s = _f32(rng, 2, 3, 4), _f32(rng, 4)
    norm = helper.make_node("LayerNormalization", ["x", "s"], ["y"], axis=-1)
    model = one_node_model(norm, {"x": x}, initializers={"s": s}, opset=17)
    assert_matches_ort(model, {"x": x}, atol=1e-4)


def test_reduce_with_no_axes_and_noop_flag_is_the_identity(rng):
    x = _f32(rng, 2, 3)
    reduce = helper.make_node("ReduceSum", ["x"], ["y"], noop_with_empty_axes=1)
    assert_matches_ort(one_node_model(reduce, {"x": x}, opset=13), {"x": x})


def test_slice_with_computed_ends_names_the_ends_input():
    inputs = [helper.make_tensor_value_info("x", 1, [2, 3]), helper.make_tensor_value_info("e", 7, [1])]
    slice_ = helper.make_node("Slice", ["x", "s", "e"], ["y"])
    graph = helper.make_graph([slice_], "g", inputs, [helper.make_tensor_value_info("y", 1, None)],
                              initializer=[helper.make_tensor("s", 7, [1], [0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    with pytest.raises(ft.FrontendError, match=r"input 2 \(ends\)"):
        ft.from_onnx(model)


def test_tiled_dense_is_a_tiled_dense_node_of_the_fused_type():
    x, w, b = tb.var("x", (2, 8), "float32"), tb.param("w", np.ones((4, 8), np.float32)), tb.param(
        "b", np.zeros(4, np.float32))
    schedule = (("vec", 8), ("m_block", 2), ("m_tail", 0), ("n_block", 8), ("n_tail", 4),
                ("k_block", 8), ("parallel", "n"))
    term = tb.tiled_dense(x, w, b, schedule=schedule)
    assert term.op == Op.TILED_DENSE and term.type == tb.fused_dense(x, w, b).type
    assert term.attr("schedule") == schedule


def test_a_scalar_target_cuts_bit_serial_blocks_of_one_channel():
    # one fp32 lane: a block is one channel (lanes // 2 is 0), so 2 output channels are 2 blocks
    from frittata.terms.bitserial_schedules import bitserial_schedule
    from frittata.terms.dtypes import TensorType

    x, w = TensorType((1, 8, 8, 1, 1), "int64"), TensorType((2, 3, 3, 1, 1), "int64")
    assert bitserial_schedule(Op.BITSERIAL_CONV2D, (), x, w, True, 1)["blocks"] == 2


def test_inlining_a_malformed_expression_names_what_it_expected():
    from frittata.terms.fused import inline

    with pytest.raises(ft.FrittataError, match="a normalized expression"):
        inline(("neg", 3.0), 0, ("arg", 0))


def test_depthwise_and_pixel_gemm_schedules_say_what_they_expected_and_got():
    x = tb.var("x", (1, 8, 9, 9))
    w, b = tb.param("w", np.zeros((8, 1, 3, 3), np.float32)), tb.param("b", np.zeros(8, np.float32))
    depthwise = (("vec", 6), ("oh_block", 4), ("oh_tail", 3), ("ow_block", 8), ("ow_tail", 7), ("parallel", "channel"))
    with pytest.raises(ft.FrittataError, match=r"tiled_conv2d: expected a vector width in \(4, 8, 16\), got 6"):
        tb.tiled_conv2d(x, w, b, groups=8, schedule=depthwise)
    v, c = tb.param("v", np.zeros((20, 8, 1, 1), np.float32)), tb.param("c", np.zeros(20, np.float32))
    pixel_gemm = (("vec", 8), ("m_block", 4), ("m_tail", 1), ("n_block", 12), ("n_tail", 8), ("parallel", "n"))
    with pytest.raises(ft.FrittataError, match="tiled_conv2d: expected n_block a multiple of vec = 8.*got 12"):
        tb.tiled_conv2d(x, v, c, schedule=pixel_gemm)


@pytest.mark.parametrize("lanes, word", [(8, "int64"), (8, "int32"), (16, "int64"), (16, "uint8")])
def test_a_default_bit_serial_schedule_is_cut_for_the_targets_lanes(lanes, word):
    # constant weights: the blocks are cut for the target's fp32 lanes, in both kernels (nibble
    # table for 8 lanes and 64-bit words, popcount otherwise); computed weights: one channel a block
    from frittata.terms.bitserial_schedules import bitserial_schedule
    from frittata.terms.dtypes import TensorType

    x, w = TensorType((1, 8, 8, 1, 1), word), TensorType((32, 3, 3, 1, 1), word)
    schedule = bitserial_schedule(Op.BITSERIAL_CONV2D, (), x, w, True, lanes)
    assert set(schedule) == {"kernel", "vec", "pixels", "blocks"} and schedule["vec"] == lanes
    assert bitserial_schedule(Op.BITSERIAL_CONV2D, (), x, w, False, lanes)["vec"] == 2


def test_an_element_index_out_of_range_names_the_axis_and_the_data():
    data, indices = tb.var("d", (2, 3)), tb.var("i", (2, 2), "int64")
    program = ft.Program({"y": tb.gather_elements(data, indices, axis=1)})
    with pytest.raises(ft.RuntimeInputError, match=r"gather_elements: index 3 at position \(1, 0\) of the indices"
                                                   r" is outside the valid range \[-3, 3\) of axis 1 of data "
                                                   r"float32\[2, 3\]"):
        ft.evaluate(program, {"d": np.zeros((2, 3), np.float32), "i": np.array([[0, 2], [3, 1]])})
