"""Gather with indices known at import (a gather of constants) or computed at run time (take)."""

import numpy as np
import pytest
from onnx import helper

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
