"""Resize's filtered forms (cubic with any A and exclude_outside, antialiased linear and cubic,
tf_crop_and_resize with a region and an extrapolation value) against onnxruntime on generated
shapes and output sizes, and compiled for LLVM.

Sizes, not scales: when a scale is not the ratio of the sizes (3 x 0.4 -> 1), the ONNX text, its
reference implementation and onnxruntime disagree on the coordinates (the text and onnxruntime
test the resized length before the rounding, or after it; the reference puts a length-1
pytorch_half_pixel output at -0.5 where the text says 0), so no oracle settles those cases. And
onnxruntime leaves an axis whose size does not change unresampled even when tf_crop_and_resize's
region crops it (the reference and frittata crop it), so the generated crops change both sizes.
Nor does one settle a tf_crop_and_resize coordinate that lands on an edge of the input (6 rows
cropped to [0.1, 1.2] at 12 outputs put output 9 at row 5.0): the text keeps it inside, and
onnxruntime, computing in float32, may put it just past the edge and extrapolate; the generator
leaves out regions whose float32 and exact coordinates fall on different sides of an edge."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from onnx import helper

import frittata as ft

from tests.terms.conftest import one_node_model, run_ort


@st.composite
def resizes(draw):
    """(model, input): a 4-D NCHW input resized over H and W to generated sizes."""
    h, w = draw(st.integers(2, 9)), draw(st.integers(2, 9))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((1, 2, h, w)).astype(np.float32)
    mode = draw(st.sampled_from(["cubic", "linear"]))
    coordinates = draw(st.sampled_from(["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel",
                                        "tf_crop_and_resize"]))
    attrs = dict(mode=mode, coordinate_transformation_mode=coordinates)
    if mode == "cubic":
        attrs.update(cubic_coeff_a=draw(st.sampled_from([-0.75, -0.5])), exclude_outside=draw(st.integers(0, 1)))
    if coordinates == "tf_crop_and_resize":
        starts = [draw(st.sampled_from([0.0, 0.1, 0.25])) for _ in range(2)]
        ends = [draw(st.sampled_from([0.6, 0.9, 1.2])) for _ in range(2)]
        roi = np.array([0, 0, *starts, 1, 1, *ends], np.float32)
        attrs["extrapolation_value"] = draw(st.sampled_from([0.0, 10.0]))
    else:
        roi = np.array([], np.float32)
        attrs["antialias"] = draw(st.integers(0, 1))
    out_h, out_w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    if coordinates == "tf_crop_and_resize":  # onnxruntime leaves an axis of unchanged size uncropped
        out_h, out_w = out_h + (out_h == h), out_w + (out_w == w)
        for size, out, start, end in ((h, out_h, starts[0], ends[0]), (w, out_w, starts[1], ends[1])):
            assume(_same_side_in_float32(size, out, start, end))
    sizes = np.array([1, 2, out_h, out_w], np.int64)
    node = helper.make_node("Resize", ["x", "roi", "", "sizes"], ["y"], **attrs)
    return one_node_model(node, {"x": x}, initializers={"roi": roi, "sizes": sizes}, opset=19), x


def _same_side_in_float32(size: int, out: int, start: float, end: float) -> bool:
    """Whether every crop coordinate is inside the axis (0 to size - 1) both exactly and as
    onnxruntime computes it, in float32, or outside both ways (no coordinate on an edge that
    float32 rounding moves across it)."""
    if out == 1:
        return True
    steps = np.arange(out)
    exact = start * (size - 1) + steps * (end - start) * (size - 1) / (out - 1)
    f = np.float32
    rounded = (f(start) * f(size - 1) + steps.astype(f) * (f(end) - f(start)) * f(size - 1) / f(out - 1))
    return bool(np.array_equal((exact >= 0) & (exact <= size - 1), (rounded >= 0) & (rounded <= size - 1)))


@given(resizes())
def test_filtered_resizes_match_onnxruntime(case):
    model, x = case
    want = run_ort(model, {"x": x})[0]
    program = ft.from_onnx(model)
    got = ft.evaluate(program, {"x": x} if "x" in program.inputs else {})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_an_antialiased_cubic_downsample_compiles_for_llvm():
    x = np.random.default_rng(3).standard_normal((1, 3, 17, 12)).astype(np.float32)
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="cubic", antialias=1)
    model = one_node_model(node, {"x": x}, initializers={"sizes": np.array([1, 3, 6, 5], np.int64)}, opset=19)
    got = ft.compile(ft.from_onnx(model), target="llvm").run(x=x)["y"]
    np.testing.assert_allclose(got, run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-4)



@pytest.mark.parametrize("nearest", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("coordinates", ["half_pixel", "asymmetric", "tf_crop_and_resize"])
def test_nearest_resizes_match_onnxruntime(nearest, coordinates):
    """Nearest-neighbour resizes by ratios that are not integers (5x7 -> 8x3, up and down), each
    rounding mode, plain (a gather) and through a cropped region (taps, with the extrapolation
    value outside the image), against onnxruntime."""
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 7)).astype(np.float32)
    crop = coordinates == "tf_crop_and_resize"
    roi = np.array([0, 0, 0.1, -0.2, 1, 1, 0.9, 0.8] if crop else [], np.float32)  # no source coordinate at a tie
    node = helper.make_node("Resize", ["x", "roi", "", "sizes"], ["y"], mode="nearest", nearest_mode=nearest,
                            coordinate_transformation_mode=coordinates, extrapolation_value=7.0)
    model = one_node_model(node, {"x": x}, initializers={"roi": roi, "sizes": np.array([1, 2, 8, 3], np.int64)},
                           opset=19)
    np.testing.assert_array_equal(ft.evaluate(ft.from_onnx(model), {"x": x})["y"], run_ort(model, {"x": x})[0])
