"""ONNX import of data-movement operators, reductions and folded shape sub-graphs, vs onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import frittata as ft
from frittata.terms.ops import Op
from tests.terms.conftest import assert_matches_ort, one_node_model

X = np.random.default_rng(2).standard_normal((4, 5, 6)).astype(np.float32)
INT64_MIN = -(2**63)


def i64(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def check(op_type: str, inits: dict, opset: int = 21, **attrs) -> None:
    n = helper.make_node(op_type, ["x"] + list(inits), ["y"], name=f"{op_type}_0", **attrs)
    assert_matches_ort(one_node_model(n, {"x": X}, initializers=inits, opset=opset), {"x": X})


@pytest.mark.parametrize("shape", [[0, -1], [2, 2, 30], [-1, 6], [120]])
def test_reshape(shape):
    check("Reshape", {"shape": i64(shape)})


@pytest.mark.parametrize("perm", [None, [1, 0, 2], [2, 0, 1]])
def test_transpose(perm):
    check("Transpose", {}, **({"perm": perm} if perm else {}))


def test_concat_with_constant():
    check("Concat", {"c": np.ones((4, 2, 6), np.float32)}, axis=-2)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, 3])
def test_flatten(axis):
    check("Flatten", {}, axis=axis)


SLICES = [
    ([1], [3], [0], [1]),
    ([-1], [INT64_MIN], [1], [-1]),
    ([5, -2], [0, -100], [2, 0], [-2, -1]),
    ([10], [-10], [1], [-3]),
    ([-3, 0], [100, 4], [-1, 1], [1, 2]),
]


@pytest.mark.parametrize("starts,ends,axes,steps", SLICES, ids=str)
def test_slice(starts, ends, axes, steps):
    check("Slice", {"s": i64(starts), "e": i64(ends), "a": i64(axes), "t": i64(steps)})


def test_slice_opset11_without_steps():
    check("Slice", {"s": i64([1, -4]), "e": i64([3, 1000])}, opset=11)


@pytest.mark.parametrize("pads,value", [([0, 1, 2, 1, 0, 3], 0.5), ([1, 0, -1, 0, 2, -2], 0.0)], ids=str)
def test_pad(pads, value):
    check("Pad", {"p": i64(pads), "v": np.array(value, np.float32)})


def test_pad_with_axes_opset18():
    check("Pad", {"p": i64([1, 2]), "v": np.array(1.5, np.float32), "a": i64([-1])}, opset=18)


def test_a_pad_value_computed_at_run_time_is_refused_naming_the_input():
    """Pad's constant_value must be known at import (it becomes the pad op's fill): a graph input
    there is refused, naming Pad's input 2 and what it is."""
    n = helper.make_node("Pad", ["x", "p", "v"], ["y"])
    model = one_node_model(n, {"x": X, "v": np.array(0.5, np.float32)}, initializers={"p": i64([0, 1, 0, 0, 1, 0])})
    with pytest.raises(ft.FrittataError, match=r"expected input 2 \(constant_value\) to be a constant"):
        ft.from_onnx(model)


def test_slice_steps_computed_at_run_time_are_refused_naming_the_input():
    n = helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])
    model = one_node_model(n, {"x": X, "t": i64([1])}, initializers={"s": i64([0]), "e": i64([2]), "a": i64([1])})
    with pytest.raises(ft.FrittataError, match=r"expected input 4 \(steps\) to be a constant"):
        ft.from_onnx(model)


def test_squeeze_unsqueeze_both_opsets():
    x = X.reshape(4, 1, 5, 6)
    for opset, axes in ((11, None), (21, i64([1]))):
        attrs = {"axes": [1]} if axes is None else {}
        inits = {} if axes is None else {"a": axes}
        n = helper.make_node("Squeeze", ["x"] + list(inits), ["y"], name="sq", **attrs)
        assert_matches_ort(one_node_model(n, {"x": x}, initializers=inits, opset=opset), {"x": x})
    check("Unsqueeze", {"a": i64([0, -1])})
    check("Unsqueeze", {}, opset=11, axes=[1, 4])


@pytest.mark.parametrize("indices,axis", [([0, -1, 2], 1), ([[1, -4], [0, 3]], 0), (-2, 2)], ids=str)
def test_gather_negative_indices(indices, axis):
    check("Gather", {"i": i64(indices)}, axis=axis)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax"])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([0, -1], 0)])
def test_reduce(op, axes, keepdims):
    check(op, {"a": i64(axes)}, keepdims=keepdims)


def test_reduce_mean_axes_attribute_opset13():
    check("ReduceMean", {}, opset=13, axes=[2], keepdims=0)


def test_shape_subgraph_folds_to_a_reshape():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters write flatten."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Constant", [], ["k"], name="const", value_float=2.0),
        helper.make_node("Reshape", ["x", "target"], ["r"], name="reshape"),
        helper.make_node("Mul", ["r", "k"], ["y"], name="mul"),
    ]
    inits = [helper.make_tensor("zero", 7, [], [0]), helper.make_tensor("zero1", 7, [1], [0]),
             helper.make_tensor("minus1", 7, [1], [-1])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [4, 5, 6])],
                              [helper.make_tensor_value_info("y", 1, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    assert_matches_ort(model, {"x": X})
    ops = {t.op for t in ft.from_onnx(model).terms()}
    assert ops == {Op.INPUT, Op.RESHAPE, Op.CONST, Op.MUL}
