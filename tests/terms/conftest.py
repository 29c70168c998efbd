"""ONNX test helpers: build one-node models, run them in onnxruntime and in the interpreter."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

import frittata as ft


def one_node_model(node: onnx.NodeProto, inputs: dict[str, np.ndarray], out_dtype: str = "float32",
                   initializers: dict[str, np.ndarray] | None = None, opset: int = 21) -> onnx.ModelProto:
    """A model of one node; `inputs` become graph inputs, `initializers` initializers."""
    infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
             for n, a in inputs.items()]
    out_type = helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype))
    outputs = [helper.make_tensor_value_info(node.output[0], out_type, None)]
    inits = [numpy_helper.from_array(a, n) for n, a in (initializers or {}).items()]
    graph = helper.make_graph([node], "case", infos, outputs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def run_ort(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def assert_matches_ort(model: onnx.ModelProto, inputs: dict[str, np.ndarray], exact: bool = False,
                       rtol: float = 1e-5, atol: float = 1e-5) -> np.ndarray:
    """Import `model`, evaluate it, and compare every output with onnxruntime's."""
    expected = run_ort(model, inputs)
    program = ft.from_onnx(model)
    got = ft.evaluate(program, {n: inputs[n] for n in program.inputs})
    for (name, value), want in zip(got.items(), expected):
        assert value.shape == want.shape and value.dtype == want.dtype, (name, value.dtype, want.dtype)
        if exact:
            np.testing.assert_array_equal(value, want, err_msg=name)
        else:
            np.testing.assert_allclose(value, want, rtol=rtol, atol=atol, err_msg=name)
    return got[next(iter(got))]
