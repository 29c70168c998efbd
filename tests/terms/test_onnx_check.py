"""`frittata onnx check`: what of an ONNX model imports, reported without importing it."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import frittata as ft
from frittata.cli import main
from frittata.terms.dtypes import DTYPES
from frittata.terms.onnx_check import check_onnx

RELU = helper.make_node("Relu", ["x"], ["r"])
SHAPE = helper.make_node("Shape", ["r"], ["s"])
RESHAPE = helper.make_node("Reshape", ["r", "s"], ["y"])
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])


def _model(nodes, inputs, outputs, opset: int = 13, *domains: str) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, [2, 3])
                                                   for o in outputs])
    ids = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=ids)


def test_a_model_that_checks_imports_and_matches_onnxruntime(tmp_path):
    model = _model([RELU, SHAPE, RESHAPE], [X], ["y"])
    onnx.save(model, tmp_path / "good.onnx")
    coverage = check_onnx(tmp_path / "good.onnx")
    assert coverage.supported and coverage.opset == 13
    assert {op: dict(c) for op, c in coverage.operators.items()} == {
        "Relu": {"converted": 1}, "Shape": {"folded": 1}, "Reshape": {"converted": 1}}
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    got = ft.evaluate(ft.from_onnx(tmp_path / "good.onnx"), {"x": x})["y"]
    np.testing.assert_allclose(got, want)


def test_unsupported_operators_name_their_nodes_and_input_dtypes_are_checked():
    custom = helper.make_node("Foo", ["y"], ["z"], domain="com.example", name="custom_op")
    unknown = helper.make_node("NoSuchOp", ["y"], ["w"])
    b = helper.make_tensor_value_info("b", TensorProto.BFLOAT16, [2])
    coverage = check_onnx(_model([RELU, SHAPE, RESHAPE, custom, unknown], [X, b], ["z", "w"], 13, "com.example"))
    assert not coverage.supported
    assert coverage.unsupported == {"com.example.Foo": ["custom_op"], "NoSuchOp": ["<unnamed, output 'w'>"]}
    assert coverage.problems == [f"input 'b': expected a dtype in {list(DTYPES)}, got bfloat16"]
    text = str(coverage)
    assert "unsupported com.example.Foo x1: custom_op" in text and "does not import" in text


def test_an_input_of_undefined_dtype_is_a_problem_as_import_refuses_it():
    """The check agrees with import: a model whose input has no element type is not supported."""
    model = _model([RELU], [helper.make_tensor_value_info("x", TensorProto.UNDEFINED, [2, 3])], ["r"])
    coverage = check_onnx(model)
    assert not coverage.supported
    assert coverage.problems == [f"input 'x': expected a dtype in {list(DTYPES)}, got undefined"]
    with pytest.raises(ft.FrittataError, match="graph input 'x': expected a dtype in"):
        ft.from_onnx(model)


def test_an_opset_import_cannot_read_is_a_problem():
    coverage = check_onnx(_model([RELU], [X], ["r"], opset=99))
    assert coverage.opset == 99 and "expected default-domain opset" in coverage.problems[0]


def test_cli_exit_codes(tmp_path, capsys):
    onnx.save(_model([RELU, SHAPE, RESHAPE], [X], ["y"]), tmp_path / "good.onnx")
    onnx.save(_model([RELU, helper.make_node("NoSuchOp", ["r"], ["y"])], [X], ["y"]), tmp_path / "bad.onnx")
    assert main(["onnx", "check", str(tmp_path / "good.onnx")]) == 0
    assert "every operator imports" in capsys.readouterr().out
    assert main(["onnx", "check", str(tmp_path / "bad.onnx")]) == 1
    assert "unsupported NoSuchOp x1" in capsys.readouterr().out
    assert main(["onnx", "check", str(tmp_path / "missing.onnx")]) == 2
    assert "expected a readable file" in capsys.readouterr().err
