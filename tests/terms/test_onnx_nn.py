"""One-dimensional convolutions (imported as 2-D ones over a unit height) against onnxruntime."""

import numpy as np
import pytest
from onnx import helper

from tests.terms.conftest import assert_matches_ort, one_node_model


@pytest.mark.parametrize("attrs", [
    dict(strides=[1], dilations=[1], pads=[0, 0]),
    dict(strides=[2], dilations=[2], pads=[1, 2]),
    dict(strides=[1], dilations=[3], pads=[3, 3]),
    dict(strides=[2], auto_pad="SAME_UPPER"),
    dict(strides=[1], dilations=[1], pads=[1, 1], group=2),
])
def test_conv1d_matches_onnxruntime(attrs, rng):
    x = rng.standard_normal((2, 4, 17)).astype(np.float32)
    w = rng.standard_normal((6, 4 // attrs.get("group", 1), 3)).astype(np.float32)
    model = one_node_model(helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3], **attrs), {"x": x},
                           initializers={"w": w})
    assert_matches_ort(model, {"x": x}, rtol=1e-4, atol=1e-4)
