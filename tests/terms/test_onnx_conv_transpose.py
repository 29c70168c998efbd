"""ConvTranspose imported as a convolution of the spread, padded input with the flipped kernel,
against onnxruntime: 1-D as the 2-D one of height 1 (compiled for LLVM too), and 2-D with a bias,
strides, groups, dilations and output padding."""

import numpy as np
import pytest
from onnx import helper

import frittata as ft
from tests.terms.conftest import assert_matches_ort, one_node_model


@pytest.mark.parametrize("attrs", [dict(strides=[2], pads=[1, 0], output_padding=[1]),
                                   dict(group=2, dilations=[2]), dict(strides=[3], output_shape=[16])],
                         ids=["strided", "grouped-dilated", "output-shape"])
def test_conv_transpose_1d_is_the_2d_one_of_height_1(attrs):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], **attrs)
    model = one_node_model(node, {"x": x}, initializers={"w": w})
    want = assert_matches_ort(model, {"x": x})
    np.testing.assert_allclose(ft.compile(ft.from_onnx(model), target="llvm").run(x=x)["y"], want, rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("attrs", [dict(strides=[2, 3], pads=[1, 0, 0, 2], output_padding=[1, 2]),
                                   dict(group=2, dilations=[2, 1], pads=[0, 1, 1, 0]),
                                   dict(strides=[2, 2], auto_pad="SAME_UPPER"), dict(pads=[3, 2, 0, 1])],
                         ids=["strided", "grouped-dilated", "same-upper", "pads-past-the-kernel"])
def test_conv_transpose_2d_adds_its_bias_per_output_channel(attrs):
    """4 input channels to 3 per group (6 with two groups), each output channel with its own
    bias; pads past the kernel's reach crop the spread input instead of padding it."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(3 * attrs.get("group", 1)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    model = one_node_model(node, {"x": x}, initializers={"w": w, "b": bias})
    assert_matches_ort(model, {"x": x})
