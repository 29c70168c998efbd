"""TopK with k known at import time: k rounds of picking the best remaining element, against
onnxruntime (values and indices, ties in increasing index), interpreted and compiled."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import frittata as ft
from frittata.errors import FrontendError
from tests.terms.conftest import one_node_model, run_ort


def _model(x: np.ndarray, k: int, axis: int, largest: bool, opset: int = 11):
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=axis, largest=int(largest))
    model = one_node_model(node, {"x": x}, str(x.dtype), {"k": np.array([k], np.int64)}, opset=opset)
    model.graph.output.append(helper.make_tensor_value_info("indices", TensorProto.INT64, None))
    return model


def _check(model, x: np.ndarray, compiled: bool = False) -> None:
    want = run_ort(model, {"x": x})
    program = ft.from_onnx(model)
    got = ft.compile(program, optimize=False).run(x=x) if compiled else ft.evaluate(program, {"x": x})
    for value, expected in zip(got.values(), want):
        assert value.dtype == expected.dtype and value.shape == expected.shape
        np.testing.assert_array_equal(value, expected)


@st.composite
def _cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    dtype = draw(st.sampled_from(["float32", "int32", "int64"]))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).integers(-3, 4, shape).astype(dtype)  # small range: many ties
    return x, draw(st.integers(0, shape[axis])), axis, draw(st.booleans())


@given(_cases())
def test_topk_matches_onnxruntime(case):
    x, k, axis, largest = case
    _check(_model(x, k, axis, largest), x)


def test_topk_compiles_for_llvm_with_infinities_and_extremes():
    x = np.array([[3, 1, 3, -np.inf, 2], [-np.inf, -np.inf, 0, 5, np.inf]], np.float32)
    for largest in (True, False):
        _check(_model(x, 4, 1, largest), x, compiled=True)
    ints = np.array([[np.iinfo(np.int32).min, 7, np.iinfo(np.int32).min, np.iinfo(np.int32).max]], np.int32)
    for largest in (True, False):
        _check(_model(ints, 3, -1, largest), ints, compiled=True)


def test_topk_before_opset_10_takes_k_as_an_attribute():
    x = np.array([[0.5, 2.0, -1.0, 2.0]], np.float32)
    node = helper.make_node("TopK", ["x"], ["values", "indices"], k=2)
    model = one_node_model(node, {"x": x}, opset=9)
    model.graph.output.append(helper.make_tensor_value_info("indices", TensorProto.INT64, None))
    _check(model, x)


def test_topk_with_k_larger_than_the_axis_is_refused():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(FrontendError, match=r"TopK with k=4 along an axis of 3; expected 0 <= k <= 3"):
        ft.from_onnx(_model(x, 4, 1, True))
