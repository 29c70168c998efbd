"""numpy scalars are accepted wherever a 0-d array is (the input check `evaluate` and every module share)."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import frittata as ft
from frittata.errors import RuntimeInputError


@pytest.fixture(scope="module")
def scaled():
    """y = s * x for a 0-d input s, as ONNX (checked in onnxruntime) and compiled for llvm."""
    graph = helper.make_graph([helper.make_node("Mul", ["s", "x"], ["y"])], "g",
                              [helper.make_tensor_value_info("s", TensorProto.FLOAT, []),
                               helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model, ft.compile(ft.from_onnx(model))


def test_a_numpy_scalar_runs_like_a_0d_array(scaled):
    model, module = scaled
    x = np.arange(4, dtype=np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"s": np.array(2.5, np.float32), "x": x})[0]
    np.testing.assert_array_equal(module.run(s=np.float32(2.5), x=x)["y"], want)
    np.testing.assert_array_equal(module(s=np.array(2.5, np.float32), x=x)["y"], want)


def test_a_numpy_scalar_of_another_dtype_is_rejected(scaled):
    _, module = scaled
    with pytest.raises(RuntimeInputError, match=r"input 's': expected float32\[\], got float64\[\]"):
        module.run(s=np.float64(2.5), x=np.zeros(4, np.float32))
    with pytest.raises(RuntimeInputError, match="expected a numpy array float32\\[\\], got float"):
        module.run(s=2.5, x=np.zeros(4, np.float32))
