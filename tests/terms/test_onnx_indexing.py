"""Gather and ScatterElements with indices known at import (static forms) or computed at run time."""

import numpy as np
import pytest
from onnx import helper

import frittata as ft

from tests.terms.conftest import assert_matches_ort, one_node_model


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_of_constant_indices_matches_onnxruntime(axis, rng):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    indices = np.array([[3, 0], [-1, 2]], np.int64)
    model = one_node_model(helper.make_node("Gather", ["x", "i"], ["y"], axis=axis), {"x": x},
                           initializers={"i": indices})
    assert_matches_ort(model, {"x": x}, exact=True)


def test_gather_of_run_time_indices_matches_onnxruntime(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    inputs = {"x": x, "i": np.array([2, 0, 3], np.int64)}
    model = one_node_model(helper.make_node("Gather", ["x", "i"], ["y"], axis=0), inputs)
    assert_matches_ort(model, inputs, exact=True)


def _scatter_model(indices, axis=0):
    x = np.zeros((4, 5), np.float32)
    u = np.arange(1, 1 + indices.size, dtype=np.float32).reshape(indices.shape)
    node = helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=axis, name="scatter")
    return one_node_model(node, {"x": x, "u": u}, initializers={"i": indices}), {"x": x, "u": u}


def test_scatter_elements_of_constant_indices_is_a_static_gather_matching_onnxruntime():
    """Indices known at import keep the static form (the written positions traced at import),
    duplicates resolved as onnxruntime does: the last update written wins (rows 1 and 3 are each
    written twice in a column, by distinct updates)."""
    model, inputs = _scatter_model(np.array([[1, 0, 3, 3, 2], [1, 2, 0, -1, 3]], np.int64), axis=0)
    assert_matches_ort(model, inputs, exact=True)
    assert "scatter_elements" not in {t.op.value for t in ft.from_onnx(model).terms()}


def test_scatter_elements_of_constant_indices_out_of_range_is_refused_at_import():
    """A constant index outside the data is a defect of the model: refused when it is imported,
    naming the node and the index, not when the compiled program first runs."""
    model, _ = _scatter_model(np.array([[1, 0, 7, 3, 2]], np.int64))
    with pytest.raises(ft.FrittataError, match=r"'scatter' \(ScatterElements\).*index 7 is out of bounds for axis 0"):
        ft.from_onnx(model)
