"""Per-operator ONNX import tests: one-node models, interpreter vs onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.terms.conftest import assert_matches_ort, one_node_model

FIXED = np.random.default_rng(1)  # the parametrized cases' data only, drawn once at import; tests use `rng`


def f32(rng: np.random.Generator, *shape: int, positive: bool = False) -> np.ndarray:
    x = rng.standard_normal(shape).astype(np.float32)
    return np.abs(x) + 0.1 if positive else x


def node(op_type: str, inputs: list[str], **attrs):
    return helper.make_node(op_type, inputs, ["y"], name=f"{op_type.lower()}_0", **attrs)


X = f32(FIXED, 2, 3, 4)
ELEMENTWISE = [
    (node(op, ["a", "b"]), {"a": X, "b": f32(FIXED, 3, 1)}) for op in ("Add", "Sub", "Mul", "Div", "Max", "Min")
] + [
    (node(op, ["a"]), {"a": X}) for op in ("Neg", "Abs", "Exp", "Erf", "Tanh", "Sigmoid", "Relu")
] + [
    (node("Log", ["a"]), {"a": f32(FIXED, 5, positive=True)}),
    (node("Sqrt", ["a"]), {"a": f32(FIXED, 5, positive=True)}),
    (node("Pow", ["a", "b"]), {"a": f32(FIXED, 4, 5, positive=True), "b": f32(FIXED, 5)}),
    (node("Max", ["a", "b", "c"]), {"a": X, "b": f32(FIXED, 4), "c": f32(FIXED, 1, 3, 1)}),
    (node("LeakyRelu", ["a"], alpha=0.2), {"a": X}),
    (node("Gelu", ["a"]), {"a": X}),
    (node("Gelu", ["a"], approximate="tanh"), {"a": X}),
    (node("Where", ["c", "a", "b"]), {"c": X > 0, "a": X, "b": f32(FIXED, 4)}),
    (node("Identity", ["a"]), {"a": X}),
]


@pytest.mark.parametrize("case", ELEMENTWISE, ids=lambda c: c[0].op_type)
def test_elementwise(case):
    n, inputs = case
    assert_matches_ort(one_node_model(n, inputs), inputs)


@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.3), (-0.2, None)])
def test_clip(bounds):
    inits = {k: np.array(v, np.float32) for k, v in zip(("lo", "hi"), bounds) if v is not None}
    names = [k if k in inits else "" for k in ("lo", "hi")]
    model = one_node_model(node("Clip", ["x"] + names), {"x": X}, initializers=inits)
    assert_matches_ort(model, {"x": X})


def test_pow_with_int64_exponent():
    inits = {"e": np.array(2, np.int64)}
    assert_matches_ort(one_node_model(node("Pow", ["x", "e"]), {"x": X}, initializers=inits), {"x": X})


@pytest.mark.parametrize("to,out", [(6, "int32"), (1, "float32"), (3, "int8")])
def test_cast(to, out):
    x = (X * 50).astype(np.float32) if to != 1 else (X * 50).astype(np.int32)
    model = one_node_model(node("Cast", ["x"], to=to), {"x": x}, out_dtype=out)
    assert_matches_ort(model, {"x": x}, exact=True)


CONV = [
    dict(),
    dict(pads=[1, 2, 0, 1], strides=[2, 1]),
    dict(dilations=[2, 2], pads=[2, 2, 2, 2]),
    dict(group=2, pads=[1, 1, 1, 1]),
    dict(auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(auto_pad="SAME_LOWER", strides=[2, 2]),
    dict(auto_pad="VALID"),
]


@pytest.mark.parametrize("attrs", CONV, ids=str)
def test_conv(attrs, rng):
    x, w, b = f32(rng, 1, 4, 9, 8), f32(rng, 6, 4 // attrs.get("group", 1), 3, 3), f32(rng, 6)
    model = one_node_model(node("Conv", ["x", "w", "b"], **attrs), {"x": x}, initializers={"w": w, "b": b})
    assert_matches_ort(model, {"x": x})


def test_depthwise_conv(rng):
    x, w = f32(rng, 1, 8, 7, 7), f32(rng, 8, 1, 3, 3)
    model = one_node_model(node("Conv", ["x", "w"], group=8, pads=[1, 1, 1, 1]), {"x": x, "w": w})
    assert_matches_ort(model, {"x": x, "w": w})


@pytest.mark.parametrize("attrs,a_shape,b_shape,c_shape", [
    (dict(), (3, 4), (4, 5), (5,)),
    (dict(transA=1, transB=1, alpha=0.5, beta=2.0), (4, 3), (5, 4), (3, 5)),
    (dict(transB=1), (3, 4), (5, 4), None),
])
def test_gemm(attrs, a_shape, b_shape, c_shape, rng):
    inputs = {"a": f32(rng, *a_shape), "b": f32(rng, *b_shape)} | ({"c": f32(rng, *c_shape)} if c_shape else {})
    assert_matches_ort(one_node_model(node("Gemm", list(inputs), **attrs), inputs), inputs)


MATMUL_SHAPES = [((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (4,))]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES)
def test_matmul(a_shape, b_shape, rng):
    inputs = {"a": f32(rng, *a_shape), "b": f32(rng, *b_shape)}
    assert_matches_ort(one_node_model(node("MatMul", ["a", "b"]), inputs), inputs)


def test_batch_norm(rng):
    x = f32(rng, 2, 3, 4, 5)
    params = {"s": f32(rng, 3), "b": f32(rng, 3), "m": f32(rng, 3), "v": f32(rng, 3, positive=True)}
    model = one_node_model(node("BatchNormalization", ["x", "s", "b", "m", "v"], epsilon=1e-3),
                           {"x": x}, initializers=params)
    assert_matches_ort(model, {"x": x})


POOLS = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3, 2], auto_pad="SAME_UPPER")),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)),
    ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    ("GlobalAveragePool", dict()),
]


@pytest.mark.parametrize("op,attrs", POOLS, ids=str)
def test_pool(op, attrs, rng):
    x = f32(rng, 1, 3, 7, 9)
    assert_matches_ort(one_node_model(node(op, ["x"], **attrs), {"x": x}), {"x": x})


@pytest.mark.parametrize("axis,opset", [(1, 21), (-1, 13), (1, 11), (2, 11)])
def test_softmax(axis, opset, rng):
    x = f32(rng, 2, 3, 4)
    assert_matches_ort(one_node_model(node("Softmax", ["x"], axis=axis), {"x": x}, opset=opset), {"x": x})


@pytest.mark.parametrize("axis,bias", [(-1, True), (1, True), (-1, False)])
def test_layer_norm(axis, bias, rng):
    x = f32(rng, 2, 3, 4)
    norm = x.shape[axis % 3:]
    inits = {"s": f32(rng, *norm)} | ({"b": f32(rng, *norm)} if bias else {})
    model = one_node_model(node("LayerNormalization", ["x"] + list(inits), axis=axis, epsilon=1e-4),
                           {"x": x}, initializers=inits, opset=17)
    assert_matches_ort(model, {"x": x}, atol=1e-4)
