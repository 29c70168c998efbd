"""ONNX Expand: the broadcast of the input's shape and the shape input, both ways, against
onnxruntime; a shape that does not broadcast is refused naming both."""

import re

import numpy as np
import pytest
from onnx import helper

import frittata as ft
from tests.terms.conftest import assert_matches_ort, one_node_model


def _expand(x: np.ndarray, shape: list[int]):
    node = helper.make_node("Expand", ["x", "shape"], ["y"])
    return one_node_model(node, {"x": x}, initializers={"shape": np.array(shape, np.int64)})


@pytest.mark.parametrize("x_shape, shape, out", [
    ((3, 1), [2, 3, 4], (2, 3, 4)),      # new leading axis, the 1 widened
    ((2, 3, 4), [3, 1], (2, 3, 4)),      # the shape smaller: the input's shape wins
    ((4,), [4], (4,)),                   # nothing to broadcast
])
def test_expand_broadcasts_both_ways_like_onnxruntime(x_shape, shape, out):
    x = np.arange(np.prod(x_shape), dtype=np.float32).reshape(x_shape)
    assert assert_matches_ort(_expand(x, shape), {"x": x}, exact=True).shape == out


def test_expand_to_a_shape_that_does_not_broadcast_is_refused():
    """The input is named by its type (its term's repr is the whole graph above it)."""
    message = "(Expand): broadcast_to: expected a shape that broadcasts with the input's float32[3, 2], got (3, 4)"
    with pytest.raises(ft.FrittataError, match=re.escape(message)):
        ft.from_onnx(_expand(np.zeros((3, 2), np.float32), [3, 4]))
