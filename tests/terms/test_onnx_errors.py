"""Bad inputs to ONNX import and evaluation raise one clear error of the right type."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import frittata as ft
from frittata.terms import zoo
from frittata.terms.onnx_export import to_onnx
from tests.terms.conftest import one_node_model


def graph_model(nodes, inputs, opset: int = 21, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(nodes[-1].output[0], 1, None)],
                              initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


X = helper.make_tensor_value_info("x", 1, [2, 3])


def test_wrong_shape_and_dtype_to_evaluate():
    program = zoo.mlp()
    with pytest.raises(ft.RuntimeInputError, match=r"input 'x': expected float32\[1, 784\], got float32\[1, 783\]"):
        ft.evaluate(program, {"x": np.zeros((1, 783), np.float32)})
    with pytest.raises(ft.RuntimeInputError, match=r"expected float32\[1, 784\], got float64\[1, 784\]"):
        ft.evaluate(program, {"x": np.zeros((1, 784))})


def test_unsupported_ops_listed_once_with_counts_and_names():
    nodes = [helper.make_node("RoiAlign", ["x", "k", "k"], ["v"], name="roi_a"),
             helper.make_node("Relu", ["v"], ["r"], name="relu"),
             helper.make_node("Det", ["r"], ["e"], name="det"),
             helper.make_node("RoiAlign", ["e", "k", "k"], ["y"], name="roi_b"),
             helper.make_node("FusedGemm", ["y"], ["z"], name="custom", domain="com.microsoft")]
    model = graph_model(nodes, [X], inits=[helper.make_tensor("k", 7, [1], [1])])
    with pytest.raises(ft.FrontendError) as info:
        ft.from_onnx(model)
    message = str(info.value)
    assert "4 node(s) of 3 unsupported operator type(s)" in message
    assert "RoiAlign x2: roi_a, roi_b" in message
    assert "Det x1: det" in message and "com.microsoft.FusedGemm x1: custom" in message
    assert "Relu" not in message


def test_truncated_file(tmp_path):
    data = to_onnx(zoo.mlp()).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ft.FrontendError, match="truncated"):
        ft.from_onnx(path)
    with pytest.raises(ft.FrontendError, match="truncated"):
        ft.from_onnx(data[:100])


def test_not_a_model_and_missing_file(tmp_path):
    with pytest.raises(ft.FrontendError, match="not an ONNX model"):
        ft.from_onnx(b"\x00\x01 this is not protobuf \xff")
    with pytest.raises(ft.FrontendError, match="expected a readable file"):
        ft.from_onnx(tmp_path / "absent.onnx")


def test_symbolic_dims_need_shapes():
    symbolic = helper.make_tensor_value_info("x", 1, ["batch", 3])
    model = graph_model([helper.make_node("Relu", ["x"], ["y"])], [symbolic])
    expected = r"graph input 'x': expected static dimensions, got \('batch', 3\).*shapes="
    with pytest.raises(ft.FrontendError, match=expected):
        ft.from_onnx(model)
    assert ft.from_onnx(model, shapes={"x": (5, 3)}).inputs["x"].shape == (5, 3)
    with pytest.raises(ft.FrontendError, match=r"shapes= gives \(5, 4\), which does not match"):
        ft.from_onnx(model, shapes={"x": (5, 4)})
    with pytest.raises(ft.FrontendError, match="expected graph input names"):
        ft.from_onnx(model, shapes={"z": (1,)})


def test_undefined_input_names_the_node():
    model = graph_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add_1")], [X])
    with pytest.raises(ft.FrontendError, match="node 'add_1' \\(Add\\): input 'ghost' is not defined"):
        ft.from_onnx(model)


def test_type_error_is_reraised_naming_the_node():
    ints = np.zeros((2, 3), np.int32)
    model = one_node_model(helper.make_node("Add", ["x", "c"], ["y"], name="mixed_add"),
                           {"x": np.zeros((2, 3), np.float32)}, initializers={"c": ints})
    expected = r"node 'mixed_add' \(Add\): add: expected operands of one dtype"
    with pytest.raises(ft.FrontendError, match=expected) as info:
        ft.from_onnx(model)
    assert isinstance(info.value.__cause__, ft.FrittataTypeError)


def test_computed_reshape_target_is_an_error():
    shape = helper.make_tensor_value_info("s", 7, [2])
    model = graph_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="dyn")], [X, shape])
    expected = r"node 'dyn' \(Reshape\): expected input 1 \(shape\) to be a constant"
    with pytest.raises(ft.FrontendError, match=expected):
        ft.from_onnx(model)


def test_opset_out_of_range():
    newest = onnx.defs.onnx_opset_version()
    model = graph_model([helper.make_node("Relu", ["x"], ["y"])], [X], opset=newest + 1)
    with pytest.raises(ft.FrontendError, match=rf"expected default-domain opset in 7..{newest}, got \[{newest + 1}\]"):
        ft.from_onnx(model)


def test_opsets_before_7_import_only_operators_unchanged_since():
    """Relu changed at opset 6 (and 13): an opset-5 Relu is rejected; Not (opset 1 only) imports."""
    model = graph_model([helper.make_node("Relu", ["x"], ["y"])], [X], opset=5)
    with pytest.raises(ft.FrontendError, match=r"got \[5\], where \['Relu'\] mean something else"):
        ft.from_onnx(model)
    b = helper.make_tensor_value_info("b", onnx.TensorProto.BOOL, [2, 3])
    model = graph_model([helper.make_node("Not", ["b"], ["y"])], [b], opset=1)
    flags = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(ft.evaluate(ft.from_onnx(model), {"b": flags})["y"], ~flags)


def test_unsupported_attribute_value():
    model = one_node_model(helper.make_node("Resize", ["x", "", "s"], ["y"], name="blur", mode="nearest", antialias=1),
                           {"x": np.zeros((2, 3), np.float32)}, initializers={"s": np.ones(2, np.float32)})
    with pytest.raises(ft.FrontendError, match="node 'blur' \\(Resize\\): unsupported: Resize mode 'nearest' with"
                                               " antialias=1"):
        ft.from_onnx(model)


def test_absent_required_inputs_are_frontend_errors():
    """An absent required input is named (it used to surface as a TypeError on None)."""
    unsqueeze = helper.make_node("Unsqueeze", ["x"], ["y"])
    with pytest.raises(ft.FrontendError, match="Unsqueeze: expected axes"):
        ft.from_onnx(graph_model([unsqueeze], [X]))
    slice_ = helper.make_node("Slice", ["x", "s"], ["y"])
    with pytest.raises(ft.FrontendError, match="expected input 2, got none"):
        ft.from_onnx(graph_model([slice_], [X], inits=[helper.make_tensor("s", 7, [1], [0])]))
