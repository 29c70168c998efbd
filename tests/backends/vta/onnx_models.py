"""One-node ONNX models for the accelerator tests, and their check against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import frittata as ft

ELEM = {np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8,
        np.dtype(np.int32): TensorProto.INT32}


def one_node_model(node, inputs: dict[str, tuple], output: tuple, initializers: dict[str, np.ndarray]):
    """A model of `node` with graph inputs {name: (shape, dtype)}, output "y" (shape, dtype)."""
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, ELEM[np.dtype(d)], s) for n, (s, d) in inputs.items()],
        [helper.make_tensor_value_info("y", ELEM[np.dtype(output[1])], output[0])],
        [numpy_helper.from_array(a, n) for n, a in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def check_on_vta(model, x: np.ndarray) -> dict:
    """Compile for vta, compare with onnxruntime bit for bit; return the backend's split."""
    module = ft.compile(ft.from_onnx(model), target="vta")
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(module.run(x=x)["y"], want)
    return module.report["backend"]["split"]
