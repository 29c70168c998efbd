"""Hardmax (one-hot of the first maximum along an axis) against onnxruntime."""

import numpy as np
import pytest
from onnx import helper

from tests.terms.conftest import assert_matches_ort, one_node_model


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_hardmax_matches_onnxruntime_with_ties(axis, rng):
    x = rng.integers(0, 3, (3, 4, 5)).astype(np.float32)  # ties: the first maximum wins
    model = one_node_model(helper.make_node("Hardmax", ["x"], ["y"], axis=axis), {"x": x})
    assert_matches_ort(model, {"x": x}, exact=True)
