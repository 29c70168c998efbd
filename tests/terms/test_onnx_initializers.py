"""Malformed initializers are FrontendErrors naming the tensor: data shorter or longer than its
dims, an unknown data type, external data that is missing; well-formed external data loads."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import frittata as ft


def _model(init: TensorProto) -> onnx.ModelProto:
    node = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])], initializer=[init])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _tensor(dims, data_type=TensorProto.FLOAT, raw: bytes | None = None, floats=None) -> TensorProto:
    t = TensorProto(name="w", data_type=data_type, dims=dims)
    if raw is not None:
        t.raw_data = raw
    t.float_data.extend(floats or [])
    return t


@pytest.mark.parametrize("init, message", [
    (_tensor([1000, 1000], raw=b"\0" * 16), r"initializer 'w': expected 4000000 bytes of raw data for dims"
                                            r" \[1000, 1000\] of float32, got 16"),
    (_tensor([2, 2], raw=b"\0" * 20), r"expected 16 bytes of raw data .* got 20"),
    (_tensor([2, 2], floats=[1, 2, 3]), r"initializer 'w': expected 4 values for dims \[2, 2\] of float32, got 3"),
    (_tensor([2, 2], floats=[1, 2, 3, 4, 5]), r"expected 4 values .* got 5"),
    (_tensor([2, 2], data_type=99, raw=b"\0" * 16), r"initializer 'w': expected an ONNX data type code .* got 99"),
    (_tensor([2, 2], data_type=0, raw=b"\0" * 16), r"expected an ONNX data type code .* got 0"),
])
def test_malformed_initializer(init, message):
    with pytest.raises(ft.FrontendError, match=message):
        ft.from_onnx(_model(init))


def _external(folder, write: bool):
    init = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(2, 2), "w")
    if write:
        (folder / "w.bin").write_bytes(init.raw_data)
    init.ClearField("raw_data")
    init.data_location = TensorProto.EXTERNAL
    init.external_data.add(key="location", value="w.bin")
    path = folder / "model.onnx"
    path.write_bytes(_model(init).SerializeToString())
    return path


def test_missing_external_data(tmp_path):
    path = _external(tmp_path, write=False)
    with pytest.raises(ft.FrontendError, match=r"initializer 'w': expected its external data in '.*w.bin',"
                                               " got no such file"):
        ft.from_onnx(path)
    with pytest.raises(ft.FrontendError, match="given in memory"):
        ft.from_onnx(path.read_bytes())


def test_external_data_beside_the_model_loads(tmp_path):
    path = _external(tmp_path, write=True)
    x = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(ft.evaluate(ft.from_onnx(path), {"x": x})["y"], x + np.arange(4).reshape(2, 2))
