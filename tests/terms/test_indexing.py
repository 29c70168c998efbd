"""Run-time indexing ops in the interpreter and ONNX import: every op against onnxruntime with
indices that are graph inputs (negative ones included), and an out-of-range index as a
RuntimeInputError naming the op, the index, its position and the valid range."""

from __future__ import annotations

import re

import numpy as np
import pytest
from onnx import helper

import frittata as ft
import frittata.terms as T
from frittata.terms.ops import Op
from frittata.terms.onnx_export import to_onnx
from tests.terms.conftest import assert_matches_ort, one_node_model, run_ort


def _model(op_type: str, feeds: dict[str, np.ndarray], out_dtype: str = "float32", **attrs):
    node = helper.make_node(op_type, list(feeds), ["y"], **attrs)
    return one_node_model(node, feeds, out_dtype)


def _ops(program: ft.Program) -> set[str]:
    return {t.op.value for t in program.terms()}


def test_gather_with_runtime_indices_is_take(rng):
    data = rng.standard_normal((7, 5)).astype(np.float32)
    ids = np.array([[0, 6, -1], [-7, 3, 3]], np.int64)
    for axis, indices in ((0, ids), (1, np.array([4, -5, 0], np.int32))):
        model = _model("Gather", {"data": data, "ids": indices}, axis=axis)
        assert "take" in _ops(ft.from_onnx(model))
        assert_matches_ort(model, {"data": data, "ids": indices}, exact=True)


def test_gather_with_constant_indices_stays_static():
    node = helper.make_node("Gather", ["data", "ids"], ["y"], axis=0)
    model = one_node_model(node, {"data": np.zeros((4, 2), np.float32)},
                           initializers={"ids": np.array([3, -1], np.int64)})
    assert _ops(ft.from_onnx(model)) == {"input", "gather"}


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements(rng, axis):
    data = rng.standard_normal((3, 4)).astype(np.float32)
    indices = rng.integers(-3, 3, (3, 4)).astype(np.int64)
    assert_matches_ort(_model("GatherElements", {"data": data, "i": indices}, axis=axis),
                       {"data": data, "i": indices}, exact=True)


@pytest.mark.parametrize("axis, shape", [(0, (1, 1, 1)), (2, (1, 2, 1)), (1, (1, 2, 2))])
def test_gather_elements_with_indices_smaller_than_the_data(rng, axis, shape):
    """The output has the indices' shape: off the axis, the data is read in the indices' window
    (numpy's take_along_axis would broadcast instead), in the interpreter and compiled."""
    data = rng.standard_normal((1, 3, 2)).astype(np.float32)
    indices = rng.integers(0, data.shape[axis], shape).astype(np.int64)
    got = assert_matches_ort(_model("GatherElements", {"data": data, "i": indices}, axis=axis),
                             {"data": data, "i": indices}, exact=True)
    program = ft.Program({"y": T.gather_elements(T.param("d", data), T.var("i", shape, "int64"), axis=axis)})
    np.testing.assert_array_equal(ft.compile(program).run(i=indices)["y"], ft.evaluate(program, {"i": indices})["y"])
    assert ft.evaluate(program, {"i": indices})["y"].shape == shape and got is not None


@pytest.mark.parametrize("batch_dims, shape", [(0, (2, 2)), (0, (3, 1)), (1, (2, 1))])
def test_gather_nd(rng, batch_dims, shape):
    data = rng.standard_normal((2, 3, 4)).astype(np.float32)
    indices = rng.integers(-2, 2, shape).astype(np.int64)
    assert_matches_ort(_model("GatherND", {"data": data, "i": indices}, batch_dims=batch_dims),
                       {"data": data, "i": indices}, exact=True)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatters(rng, reduction):
    data = rng.standard_normal((4, 3)).astype(np.float32)
    elements = np.array([[1, -1, 0], [3, 2, 0]], np.int64)
    updates = rng.standard_normal((2, 3)).astype(np.float32)
    feeds = {"data": data, "i": elements, "u": updates}
    assert_matches_ort(_model("ScatterElements", feeds, axis=0, reduction=reduction), feeds)
    rows = np.array([[3], [-4]], np.int64)
    feeds = {"data": data, "i": rows, "u": updates}
    assert_matches_ort(_model("ScatterND", feeds, reduction=reduction), feeds)


def test_one_hot_out_of_range_is_all_off():
    indices = np.array([[0, 3, -1], [-4, 4, -5]], np.int64)
    node = helper.make_node("OneHot", ["i", "depth", "values"], ["y"], axis=1)
    model = one_node_model(node, {"i": indices}, initializers={"depth": np.array(4, np.int64),
                                                               "values": np.array([-1.0, 2.0], np.float32)})
    got = assert_matches_ort(model, {"i": indices}, exact=True)
    assert got.shape == (2, 4, 3) and (got[1, :, 1:] == -1).all()


@pytest.mark.parametrize("bad", [7, -8, 2**62, -(2**63)])
def test_an_index_out_of_range_is_a_runtime_input_error(bad):
    table = T.param("table", np.zeros((7, 2), np.float32))
    program = ft.Program({"y": T.take(table, T.var("ids", (2, 2), "int64"))})
    ids = np.array([[0, 1], [bad, 2]], np.int64)
    message = rf"take: index {bad} at position \(1, 0\) of the indices is outside the valid range \[-7, 7\)"
    with pytest.raises(ft.RuntimeInputError, match=message):
        ft.evaluate(program, {"ids": ids})


def test_nd_indices_are_checked_per_axis():
    data = T.var("d", (2, 5), "float32")
    program = ft.Program({"y": T.gather_nd(data, T.var("i", (1, 2), "int64"))})
    inputs = {"d": np.zeros((2, 5), np.float32)}
    ft.evaluate(program, inputs | {"i": np.array([[1, 4]], np.int64)})
    with pytest.raises(ft.RuntimeInputError, match=r"index 2 at position \(0, 0\).*\[-2, 2\)"):
        ft.evaluate(program, inputs | {"i": np.array([[2, 4]], np.int64)})


def test_types_are_checked():
    data = T.var("d", (3, 4))
    with pytest.raises(ft.FrittataTypeError, match="indices of dtype int32 or int64"):
        T.take(data, T.var("i", (2,), "float32"))
    with pytest.raises(ft.FrittataTypeError, match="rank 2"):
        T.gather_elements(data, T.var("i", (2,), "int64"))
    with pytest.raises(ft.FrittataTypeError, match="reduction"):
        T.scatter_elements(data, T.var("i", (3, 4), "int64"), data, reduction="xor")
    with pytest.raises(ft.FrittataTypeError, match=r"gather_nd: expected batch_dims in \[0, 2\), got 2"):
        T.gather_nd(data, T.var("i", (3, 1), "int64"), batch_dims=2)
    assert T.take(data, T.var("i", (2, 6), "int32"), axis=-1).shape == (3, 2, 6)
    assert Op.TAKE.is_a("indexed") and not Op.ONE_HOT.is_a("indexed")


@pytest.mark.parametrize("indices, updates", [((2, 3), (2,)), ((2, 1), (2, 5)), ((2,), (4,))])
def test_scatter_nd_states_the_updates_shape_it_expects(indices, updates):
    """ONNX's rule: indices [..., k] with 1 <= k <= rank(data), updates indices[:-1] + data[k:]."""
    data = T.var("d", (3, 4))
    expected = r"expected indices \[\.\.\., k\] \(1 <= k <= 2\) and updates of shape indices\[:-1\] \+ data\[k:\]"
    with pytest.raises(ft.FrittataTypeError, match=expected):
        T.scatter_nd(data, T.var("i", indices, "int64"), T.var("u", updates))
    assert T.scatter_nd(data, T.var("i", (2, 1), "int64"), T.var("u", (2, 4))).type == data.type


def test_export_round_trip(rng):
    data, ids = T.var("d", (6, 3)), T.var("i", (2,), "int64")
    program = ft.Program({"a": T.take(data, ids), "b": T.one_hot(ids, 6, off=-1.0, on=3.0),
                          "c": T.scatter_nd(data, T.reshape(ids, (2, 1)), T.take(data, ids), "add")})
    inputs = {"d": rng.standard_normal((6, 3)).astype(np.float32), "i": np.array([5, -6], np.int64)}
    model = to_onnx(program)
    want, again = ft.evaluate(program, inputs), ft.evaluate(ft.from_onnx(model), inputs)
    for (name, value), ort_value in zip(want.items(), run_ort(model, inputs)):
        np.testing.assert_array_equal(again[name], value)
        np.testing.assert_array_equal(ort_value, value)


@pytest.mark.parametrize("batch_dims, depth, out_shape", [
    (1, 2, (2, 5)), (1, 3, None), (0, 3, (2, 5)), (0, 1, (2, 5, 3, 4)), (0, 4, None)])
def test_gather_nd_index_depth_reaches_the_axes_after_the_batch_only(batch_dims, depth, out_shape):
    """Each index row addresses at most the data's axes after the batch: k <= rank - batch_dims;
    the data's axes after the ones it addresses trail the output (refused: out_shape None)."""
    data, indices = T.var("d", (2, 3, 4)), T.var("i", (2, 5, depth), "int64")
    if out_shape is not None:
        assert T.gather_nd(data, indices, batch_dims=batch_dims).shape == out_shape
        return
    batch = "2, " * batch_dims  # the data's batch axes, then any number of index axes
    message = f"gather_nd: expected indices [{batch}..., k] with 1 <= k <= {3 - batch_dims}, got"
    with pytest.raises(ft.FrittataTypeError, match=re.escape(message)):
        T.gather_nd(data, indices, batch_dims=batch_dims)
