"""ONNX Clip with bounds computed at run time (graph inputs): a maximum / minimum of the input
and the bound, against onnxruntime."""

import numpy as np
import pytest
from onnx import helper

import frittata as ft
from tests.terms.conftest import assert_matches_ort, one_node_model


@pytest.mark.parametrize("given", [("lo", "hi"), ("hi",), ("lo",)])
def test_clip_with_run_time_bounds_matches_onnxruntime(given):
    x = np.linspace(-2.0, 2.0, 24, dtype=np.float32).reshape(2, 3, 4)
    bounds = {"lo": np.array(-0.75, np.float32), "hi": np.array(0.5, np.float32)}
    inputs = {"x": x, **{k: bounds[k] for k in given}}
    node = helper.make_node("Clip", ["x"] + [k if k in given else "" for k in ("lo", "hi")], ["y"])
    model = one_node_model(node, inputs)
    assert set(ft.from_onnx(model).inputs) == set(inputs)
    y = assert_matches_ort(model, inputs, exact=True)
    assert y.min() == (-0.75 if "lo" in given else -2.0) and y.max() == (0.5 if "hi" in given else 2.0)
