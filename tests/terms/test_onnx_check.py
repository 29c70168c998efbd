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
    assert coverage.problems == [f"graph input 'b': expected a tensor of a dtype in {DTYPES}, got a tensor of bfloat16"]
    text = str(coverage)
    assert "unsupported com.example.Foo x1: custom_op" in text and "does not import" in text


@pytest.mark.parametrize("value, got", [
    (helper.make_tensor_value_info("s", TensorProto.UNDEFINED, [2, 3]), "a tensor of undefined element type"),
    (helper.make_tensor_value_info("s", TensorProto.STRING, [2]), "a tensor of string"),
    (helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2, 3]), "a sequence"),
    (onnx.ValueInfoProto(name="s"), "no type"),
])
def test_an_input_import_refuses_is_a_problem_in_the_words_of_the_refusal(value, got):
    """The check agrees with import on every graph input, used or not: one that is not a tensor
    of a frittata dtype makes the model unsupported, and import refuses it with the same message."""
    model = _model([RELU], [X, value], ["r"])
    message = f"graph input 's': expected a tensor of a dtype in {DTYPES}, got {got}"
    coverage = check_onnx(model)
    assert not coverage.supported and coverage.problems == [message]
    with pytest.raises(ft.FrontendError) as refusal:
        ft.from_onnx(model)
    assert str(refusal.value) == message


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
