"""ONNX initializers as numpy arrays, each checked before it is read: a known data type, data
of exactly the size its dims say, and external data that exists. A malformed one is a
`FrontendError` naming the tensor, never a numpy error from deep inside `onnx`."""

from __future__ import annotations

import math
import os

import numpy as np
import onnx
from onnx import external_data_helper, helper, numpy_helper

from frittata.errors import FrontendError

TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
"""The repeated fields a TensorProto may hold its values in instead of `raw_data`."""


def initializer_array(init: onnx.TensorProto, base_dir: str | None) -> np.ndarray:
    """The value of initializer `init`; external data is read relative to `base_dir` (the
    model file's folder, None for a model given as bytes or a ModelProto)."""
    where = f"initializer {init.name!r}"
    dtype = _dtype(init, where)
    if init.data_location == onnx.TensorProto.EXTERNAL:
        _load_external(init, base_dir, where)
    count = math.prod(init.dims)
    if init.HasField("raw_data") and len(init.raw_data) != count * dtype.itemsize and dtype.kind != "O":
        raise FrontendError(f"{where}: expected {count * dtype.itemsize} bytes of raw data for dims"
                            f" {list(init.dims)} of {dtype.name}, got {len(init.raw_data)}")
    try:
        return numpy_helper.to_array(init)
    except Exception:  # onnx reports a size mismatch of a typed field as a numpy reshape error
        held = max(len(getattr(init, f)) for f in TYPED_FIELDS)
        raise FrontendError(f"{where}: expected {count} values for dims {list(init.dims)} of {dtype.name},"
                            f" got {held}") from None


def _dtype(init: onnx.TensorProto, where: str) -> np.dtype:
    code = init.data_type
    known = set(onnx.TensorProto.DataType.values()) - {onnx.TensorProto.UNDEFINED}
    if code not in known:
        raise FrontendError(f"{where}: expected an ONNX data type code in {sorted(known)}, got {code}")
    return np.dtype(helper.tensor_dtype_to_np_dtype(code))


def _load_external(init: onnx.TensorProto, base_dir: str | None, where: str) -> None:
    info = {entry.key: entry.value for entry in init.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise FrontendError(f"{where}: expected its data in the file {location!r} beside the model, got a model"
                            " given in memory; pass the model's path (or onnx.load it first)")
    path = os.path.join(base_dir, location)
    if not location or not os.path.isfile(path):
        raise FrontendError(f"{where}: expected its external data in {path!r}, got no such file")
    try:
        external_data_helper.load_external_data_for_tensor(init, base_dir)
    except Exception as e:  # onnx refuses locations outside the model's folder, unreadable files, ...
        raise FrontendError(f"{where}: expected readable external data in {path!r}, got {e}") from None
    init.data_location = onnx.TensorProto.DEFAULT
    del init.external_data[:]
