"""Integer ONNX operators compiled for vta run their int8 contraction on the accelerator (int32
accumulators stored as four byte planes) and match onnxruntime bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.backends.vta.onnx_models import check_on_vta, one_node_model

INT8 = (-128, 128)


def _ints(rng: np.random.Generator, shape, lo_hi=INT8, dtype=np.int8) -> np.ndarray:
    return rng.integers(*lo_hi, shape).astype(dtype)


def _scalar(value, dtype=np.float32) -> np.ndarray:
    return np.array(value, dtype=dtype)


def test_matmul_integer_runs_on_vta(rng):
    node = helper.make_node("MatMulInteger", ["x", "w"], ["y"])
    model = one_node_model(node, {"x": ((64, 256), np.int8)}, ((64, 256), np.int32), {"w": _ints(rng, (256, 256))})
    split = check_on_vta(model, _ints(rng, (64, 256)))
    assert split["vta"] == ["vta_dense"] and "matmul" not in split["cpu"]


def test_conv_integer_runs_on_vta(rng):
    node = helper.make_node("ConvInteger", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    model = one_node_model(node, {"x": ((1, 64, 14, 14), np.int8)}, ((1, 64, 14, 14), np.int32),
                   {"w": _ints(rng, (64, 64, 3, 3))})
    assert check_on_vta(model, _ints(rng, (1, 64, 14, 14)))["vta"] == ["vta_conv2d"]


def _qlinear(op: str, w: np.ndarray, w_scale: np.ndarray, extra: dict, **attrs):
    names = ["x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp"] + list(extra)
    consts = {"x_scale": _scalar(0.02), "x_zp": _scalar(0, np.int8), "w": w, "w_scale": w_scale,
              "w_zp": np.zeros(w_scale.shape, np.int8), "y_scale": _scalar(3.0), "y_zp": _scalar(0, np.int8),
              **extra}
    return helper.make_node(op, names, ["y"], **attrs), consts


def test_qlinear_matmul_contraction_on_vta_rescale_on_cpu(rng):
    node, consts = _qlinear("QLinearMatMul", _ints(rng, (256, 128)), _scalar(0.01), {})
    model = one_node_model(node, {"x": ((32, 256), np.int8)}, ((32, 128), np.int8), consts)
    split = check_on_vta(model, _ints(rng, (32, 256)))
    assert split["vta"] == ["vta_dense"] and "matmul" not in split["cpu"] and split["cpu"]


def test_qlinear_conv_per_channel_contraction_on_vta(rng):
    scales = rng.uniform(0.005, 0.02, 64).astype(np.float32)
    bias = {"b": rng.integers(-5000, 5000, 64).astype(np.int32)}
    node, consts = _qlinear("QLinearConv", _ints(rng, (64, 64, 3, 3)), scales, bias, pads=[1, 1, 1, 1])
    model = one_node_model(node, {"x": ((1, 64, 14, 14), np.int8)}, ((1, 64, 14, 14), np.int8), consts)
    assert check_on_vta(model, _ints(rng, (1, 64, 14, 14)))["vta"] == ["vta_conv2d"]


@pytest.mark.parametrize("zero_point", [3, -2])
def test_nonzero_zero_points_go_to_vta_bit_exact(zero_point, rng):
    """(x - zp) . w = x . w - zp * sum(w): the correction folds into the int32 bias, so the
    contraction runs on VTA (the CPU's generic integer loops are far slower) and stays exact."""
    node, consts = _qlinear("QLinearMatMul", _ints(rng, (64, 64)), _scalar(0.01), {})
    consts["x_zp"] = _scalar(zero_point, np.int8)
    model = one_node_model(node, {"x": ((16, 64), np.int8)}, ((16, 64), np.int8), consts)
    assert check_on_vta(model, _ints(rng, (16, 64)))["vta"] == ["vta_dense"]
