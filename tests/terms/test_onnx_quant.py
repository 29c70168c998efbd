"""Quantized ONNX operators: the imported terms match onnxruntime bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import frittata as ft

from tests.terms.conftest import assert_matches_ort, one_node_model

def q(rng: np.random.Generator, dtype: str, *shape: int) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def scalar(value, dtype: str) -> np.ndarray:
    return np.array(value, dtype=dtype)


def node(op_type: str, inputs: list[str], **attrs):
    return helper.make_node(op_type, inputs, ["y"], name=f"{op_type}_0", **attrs)


@pytest.mark.parametrize("dtype,zp", [("int8", 3), ("uint8", 128), ("uint8", 0)])
def test_quantize_rounds_half_to_even_and_saturates(dtype, zp, rng):
    ties = np.arange(-300, 300, dtype=np.float32) * 0.5 * 0.25
    x = np.concatenate([ties, rng.standard_normal(200).astype(np.float32) * 40])
    inits = {"s": scalar(0.25, "float32"), "z": scalar(zp, dtype)}
    model = one_node_model(node("QuantizeLinear", ["x", "s", "z"]), {"x": x}, dtype, inits)
    assert_matches_ort(model, {"x": x}, exact=True)


def test_quantize_per_axis(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 10
    inits = {"s": np.array([0.1, 0.3, 0.07], np.float32), "z": np.zeros(3, np.int8)}
    model = one_node_model(node("QuantizeLinear", ["x", "s", "z"], axis=1), {"x": x}, "int8", inits)
    assert_matches_ort(model, {"x": x}, exact=True)


@pytest.mark.parametrize("dtype,zp,axis", [("int8", -5, None), ("uint8", 131, None), ("int8", 0, 0)])
def test_dequantize(dtype, zp, axis, rng):
    x = q(rng, dtype, 3, 7)
    scale = np.array([0.02, 0.5, 0.1], np.float32) if axis is not None else scalar(0.037, "float32")
    zeros = np.full(scale.shape, zp, dtype)
    attrs = {} if axis is None else {"axis": axis}
    model = one_node_model(node("DequantizeLinear", ["x", "s", "z"], **attrs), {"x": x},
                           initializers={"s": scale, "z": zeros})
    assert_matches_ort(model, {"x": x}, exact=True)


@pytest.mark.parametrize("op_type, x, out_dtype, want", [
    ("QuantizeLinear", np.array(13.7, np.float32), "int8", np.int8(58)),  # rint(13.7 / 0.25) + 3
    ("DequantizeLinear", np.array(-77, np.int8), "float32", np.float32(-20.0))])  # (-77 - 3) * 0.25
def test_a_per_tensor_scale_of_shape_1_keeps_a_scalar_a_scalar(op_type, x, out_dtype, want):
    """ONNX allows a per-tensor scale and zero point as 1-element vectors: they act as scalars,
    so a rank-0 input stays rank 0 (as in onnxruntime), not broadcast up to [1]."""
    inits = {"s": np.array([0.25], np.float32), "z": np.array([3], np.int8)}
    model = one_node_model(node(op_type, ["x", "s", "z"]), {"x": x}, out_dtype, inits)
    got = assert_matches_ort(model, {"x": x}, exact=True)
    assert got.shape == () and got.dtype == want.dtype and got == want


@pytest.mark.parametrize("axis", [None, 0])
def test_dequantize_without_a_zero_point(axis, rng):
    """The zero point is optional (0): only x and its scale."""
    x = q(rng, "int8", 3, 7)
    scale = np.array([0.02, 0.5, 0.1], np.float32) if axis is not None else scalar(0.037, "float32")
    model = one_node_model(node("DequantizeLinear", ["x", "s"], **({} if axis is None else {"axis": axis})),
                           {"x": x}, initializers={"s": scale})
    assert_matches_ort(model, {"x": x}, exact=True)


@pytest.mark.parametrize("a_dtype,b_dtype,zps", [("uint8", "uint8", (7, 130)), ("uint8", "int8", (0, 0)),
                                                 ("int8", "int8", (-3, 0))])
def test_matmul_integer(a_dtype, b_dtype, zps, rng):
    """uint8 x int8 keeps a below 128: onnxruntime's u8s8 kernel saturates pairs of products to int16."""
    a, b = q(rng, a_dtype, 2, 5, 16), q(rng, b_dtype, 16, 6)
    a = a >> 1 if (a_dtype, b_dtype) == ("uint8", "int8") else a
    inits = {"az": scalar(zps[0], a_dtype), "bz": scalar(zps[1], b_dtype)}
    model = one_node_model(node("MatMulInteger", ["a", "b", "az", "bz"]), {"a": a, "b": b}, "int32", inits)
    assert_matches_ort(model, {"a": a, "b": b}, exact=True)


@pytest.mark.parametrize("x_zp,pads", [(0, [0, 0, 0, 0]), (120, [1, 2, 1, 0])])
def test_conv_integer(x_zp, pads, rng):
    x, w = q(rng, "uint8", 1, 4, 8, 8), q(rng, "uint8", 5, 4, 3, 3)
    inits = {"w": w, "xz": scalar(x_zp, "uint8"), "wz": scalar(3, "uint8")}
    model = one_node_model(node("ConvInteger", ["x", "w", "xz", "wz"], pads=pads), {"x": x}, "int32", inits)
    assert_matches_ort(model, {"x": x}, exact=True)


@pytest.mark.parametrize("dtype,zps", [("uint8", (120, 128, 100)), ("int8", (-4, 0, 6))])
def test_qlinear_matmul(dtype, zps, rng):
    a, b = q(rng, dtype, 3, 32), q(rng, dtype, 32, 8)
    inits = {"as": scalar(0.02, "float32"), "az": scalar(zps[0], dtype), "b": b,
             "bs": scalar(0.013, "float32"), "bz": scalar(zps[1], dtype),
             "ys": scalar(0.11, "float32"), "yz": scalar(zps[2], dtype)}
    names = ["a", "as", "az", "b", "bs", "bz", "ys", "yz"]
    model = one_node_model(node("QLinearMatMul", names), {"a": a}, dtype, inits)
    assert_matches_ort(model, {"a": a}, exact=True)


@pytest.mark.parametrize("dtype,group,per_channel", [("uint8", 1, False), ("int8", 1, True), ("uint8", 4, True)])
def test_qlinear_conv(dtype, group, per_channel, rng):
    x, w = q(rng, dtype, 1, 8, 9, 9), q(rng, "int8" if dtype == "int8" else "uint8", 8, 8 // group, 3, 3)
    w_scale = (rng.random(8) * 0.02 + 0.005).astype(np.float32) if per_channel else scalar(0.01, "float32")
    w_zp = np.zeros(w_scale.shape, w.dtype) if dtype == "int8" else np.full(w_scale.shape, 120, "uint8")
    x_zp, y_zp = (5, -2) if dtype == "int8" else (130, 127)
    inits = {"xs": scalar(0.05, "float32"), "xz": scalar(x_zp, dtype), "w": w, "ws": w_scale, "wz": w_zp,
             "ys": scalar(0.4, "float32"), "yz": scalar(y_zp, dtype),
             "b": rng.integers(-2000, 2000, 8).astype(np.int32)}
    n = node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], pads=[1, 1, 1, 1], group=group)
    assert_matches_ort(one_node_model(n, {"x": x}, dtype, inits), {"x": x}, exact=True)


@pytest.mark.parametrize("dtype, zp", [("int16", -300), ("uint16", 40000)])
def test_quantize_to_16_bits_and_back(dtype, zp, rng):
    """16-bit zero points give 16-bit outputs; DequantizeLinear reads them back; both compile."""
    x = (rng.standard_normal((3, 5)) * 2000).astype(np.float32)
    inits = {"s": np.array(0.5, np.float32), "z": np.array(zp, dtype)}
    q = one_node_model(helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"]), {"x": x}, dtype, inits)
    codes = assert_matches_ort(q, {"x": x}, exact=True)
    np.testing.assert_array_equal(ft.compile(ft.from_onnx(q), target="llvm").run(x=x)["y"], codes)
    d = one_node_model(helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"]), {"q": codes}, "float32", inits)
    assert_matches_ort(d, {"q": codes}, exact=True)


def test_quantize_output_dtype_attribute_without_a_zero_point(rng):
    x = (rng.standard_normal((4,)) * 100).astype(np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], output_dtype=TensorProto.INT16)
    assert_matches_ort(one_node_model(node, {"x": x}, "int16", {"s": np.array(0.25, np.float32)}), {"x": x},
                       exact=True)


@pytest.mark.parametrize("block", [2, 3])
def test_blocked_quantization_repeats_each_scale_over_its_block(block, rng):
    """Opset 21's block_size: the scales (and zero points) of axis 1 count blocks of `block`."""
    x = rng.standard_normal((2, 7)).astype(np.float32)
    blocks = -(-7 // block)
    scales = rng.uniform(0.01, 0.05, (2, blocks)).astype(np.float32)
    zps = rng.integers(-20, 20, (2, blocks)).astype(np.int8)
    inits = {"s": scales, "z": zps}
    q = one_node_model(helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1, block_size=block),
                       {"x": x}, "int8", inits)
    codes = assert_matches_ort(q, {"x": x}, exact=True)
    d = one_node_model(helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1, block_size=block),
                       {"q": codes}, "float32", inits)
    want = assert_matches_ort(d, {"q": codes}, exact=True)
    np.testing.assert_array_equal(ft.compile(ft.from_onnx(d), target="llvm").run(q=codes)["y"], want)


@pytest.mark.parametrize("blocks", [2, 4])
def test_a_blocked_scale_with_the_wrong_number_of_blocks_is_refused(blocks):
    """7 elements in blocks of 3 take 3 scales per row; 2 or 4 is refused, naming the shapes."""
    x = np.ones((2, 7), np.float32)
    scales = np.full((2, blocks), 0.5, np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], axis=1, block_size=3)
    with pytest.raises(ft.FrittataError, match=rf"blocked scale or zero point of shape \[2, {blocks}\]"):
        ft.from_onnx(one_node_model(node, {"x": x}, "int8", {"s": scales}))
