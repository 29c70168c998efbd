"""One ONNX node as import sees it: static shapes folded to constants, outputs it cannot give."""

import numpy as np
import onnx
import pytest
from onnx import helper

import frittata as ft

X = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3, 4])


def model(node, out_type=onnx.TensorProto.INT64):
    graph = helper.make_graph([node], "g", [X], [helper.make_tensor_value_info(node.output[0], out_type, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


@pytest.mark.parametrize("attrs, dims", [({}, slice(None)), ({"start": -2}, slice(-2, None)),
                                         ({"start": 1, "end": -1}, slice(1, -1)), ({"end": 1}, slice(0, 1)),
                                         ({"start": 5}, slice(5, None))])
def test_the_shape_of_a_static_input_is_a_constant_sliced_as_python_slices(attrs, dims):
    program = ft.from_onnx(model(helper.make_node("Shape", ["x"], ["s"], **attrs)))
    assert program.inputs == {}
    (value,) = ft.evaluate(program, {}).values()
    assert value.dtype == np.int64 and value.tolist() == [2, 3, 4][dims]


def test_the_size_of_a_static_input_is_a_scalar_constant():
    program = ft.from_onnx(model(helper.make_node("Size", ["x"], ["n"])))
    (value,) = ft.evaluate(program, {}).values()
    assert value.shape == () and value.dtype == np.int64 and int(value) == 24


def test_a_second_output_we_cannot_give_is_named():
    node = helper.make_node("Identity", ["x"], ["y", "z"], name="copy")
    with pytest.raises(ft.FrontendError, match=r"node 'copy' \(Identity\): expected only the first output to be "
                                               r"used, got outputs \['z'\]"):
        ft.from_onnx(model(node, onnx.TensorProto.FLOAT))
