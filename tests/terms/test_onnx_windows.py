"""Windows the importer builds from other ops, against onnxruntime on generated geometry: MaxPool
and AveragePool over 1-D, 2-D and 3-D windows with strides, dilations, padding, ceil mode and
count_include_pad; CumSum along each axis, of integers; Einsum with ellipses and diagonals.
A few compile for LLVM as well."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import frittata as ft
from tests.terms.conftest import assert_matches_ort, one_node_model, run_ort


@st.composite
def pools(draw):
    """(node, input) of a pooling node whose windows all start inside the padded input."""
    rank = draw(st.integers(1, 3))
    op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
    kernel = [draw(st.integers(1, 3)) for _ in range(rank)]
    strides = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilations = [draw(st.integers(1, 2)) for _ in range(rank)]
    pads = [draw(st.integers(0, k - 1)) for k in kernel] * 2
    size = [draw(st.integers((k - 1) * d + 1, 9)) for k, d in zip(kernel, dilations)]
    attrs = dict(kernel_shape=kernel, strides=strides, dilations=dilations, pads=pads,
                 ceil_mode=draw(st.integers(0, 1)))
    if op == "AveragePool":
        attrs["count_include_pad"] = draw(st.integers(0, 1))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal([2, 3] + size).astype(np.float32)
    return helper.make_node(op, ["x"], ["y"], **attrs), x


@given(pools(), st.integers(0, 1))
def test_max_pool_indices_match_onnxruntime(case, storage_order):
    """The second output of MaxPool: each window's first maximum's flat input position."""
    node, x = case
    assume(node.op_type == "MaxPool" and x.ndim == 4)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    pool = helper.make_node("MaxPool", ["x"], ["y", "i"], storage_order=storage_order, **attrs)
    graph = helper.make_graph([pool], "case", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("i", TensorProto.INT64, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=10)
    try:
        want = run_ort(model, {"x": x})
    except Exception as e:  # noqa: BLE001 - geometry onnxruntime itself refuses is not a case
        assume(False, f"onnxruntime refuses it: {e}")
    got = ft.evaluate(ft.from_onnx(model), {"x": x})
    np.testing.assert_array_equal(got["y"], want[0])
    np.testing.assert_array_equal(got["i"], want[1])


@given(pools())
def test_pooling_windows_match_onnxruntime(case):
    node, x = case
    model = one_node_model(node, {"x": x}, opset=19)
    try:
        run_ort(model, {"x": x})
    except Exception as e:  # noqa: BLE001 - geometry onnxruntime itself refuses is not a case
        assume(False, f"onnxruntime refuses it: {e}")
    assert_matches_ort(model, {"x": x})


def test_a_3d_dilated_ceil_mode_average_compiles_for_llvm():
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 6, 5)).astype(np.float32)
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 2, 2], strides=[2, 2, 1],
                            dilations=[2, 1, 2], pads=[1, 0, 1, 1, 1, 0], ceil_mode=1, count_include_pad=1)
    model = one_node_model(node, {"x": x}, opset=19)
    got = ft.compile(ft.from_onnx(model), target="llvm").run(x=x)["y"]
    np.testing.assert_allclose(got, run_ort(model, {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["int32", "uint32"])
def test_cumsum_of_32_bit_integers_matches_running_sums(dtype):
    """Exclusive running sums against numpy's (onnxruntime has no uint32 CumSum; for int32 it
    agrees, checked too), interpreted and compiled."""
    x = np.random.default_rng(2).integers(0, 120, (3, 70)).astype(dtype)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=1)
    model = one_node_model(node, {"x": x}, out_dtype=dtype, initializers={"axis": np.array(1, np.int64)})
    want = np.concatenate([np.zeros((3, 1), dtype), np.cumsum(x, axis=1, dtype=dtype)[:, :-1]], axis=1)
    if dtype == "int32":
        np.testing.assert_array_equal(run_ort(model, {"x": x})[0], want)
    program = ft.from_onnx(model)
    np.testing.assert_array_equal(ft.evaluate(program, {"x": x})["y"], want)
    np.testing.assert_array_equal(ft.compile(program, target="llvm").run(x=x)["y"], want)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive, reverse", [(0, 0), (1, 1)])
def test_cumsum_along_each_axis_matches_onnxruntime(axis, exclusive, reverse):
    """Float running sums along a leading, a middle and the last axis (the importer moves the
    axis last for its matmul and back)."""
    x = np.random.default_rng(3).standard_normal((3, 4, 5)).astype(np.float32)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)
    model = one_node_model(node, {"x": x}, initializers={"axis": np.array(axis, np.int64)})
    assert_matches_ort(model, {"x": x})


def test_cumsum_of_64_bit_integers_is_refused_by_name():
    x = np.arange(6, dtype=np.int64).reshape(2, 3)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"])
    model = one_node_model(node, {"x": x}, out_dtype="int64", initializers={"axis": np.array(0, np.int64)})
    with pytest.raises(ft.FrontendError, match=r"CumSum of int64\[2, 3\]; expected a float tensor or integers"):
        ft.from_onnx(model)


@pytest.mark.parametrize("equation, shapes", [
    ("...ii->...i", [(2, 3, 3)]), ("ii", [(4, 4)]), ("bii->b", [(2, 3, 3)]), ("ij,jj->i", [(2, 3), (3, 3)]),
    ("...ij,...jk->...ik", [(2, 2, 3, 4), (2, 2, 4, 5)]), ("i...->...", [(3, 2, 4)]), ("...,...", [(2, 3), (2, 3)]),
])
def test_einsum_ellipses_and_diagonals_match_onnxruntime(equation, shapes):
    rng = np.random.default_rng(5)
    inputs = {f"x{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    model = one_node_model(helper.make_node("Einsum", list(inputs), ["y"], equation=equation), inputs)
    want = assert_matches_ort(model, inputs, rtol=1e-5, atol=1e-5)
    got = ft.compile(ft.from_onnx(model), target="llvm").run(**inputs)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
