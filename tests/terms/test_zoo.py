"""The model zoo: each model exports to ONNX, imports back, and evaluates like onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.terms import zoo
from frittata.terms.onnx_export import save_onnx, to_onnx
from tests.terms.conftest import run_ort


@pytest.fixture(scope="module", params=sorted(zoo.ZOO))
def model(request):
    program = zoo.get(request.param)
    return request.param, program, to_onnx(program)


def test_roundtrip_matches_onnxruntime(model):
    name, program, proto = model
    inputs = zoo.example_input(program)
    imported = ft.from_onnx(proto.SerializeToString())
    assert imported.inputs == program.inputs
    got = ft.evaluate(imported, inputs)["y"]
    want = run_ort(proto, inputs)[0]
    scale = float(np.abs(want).max())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale, err_msg=name)


def test_outputs_are_order_one(model):
    _, program, _ = model
    out = ft.evaluate(program, zoo.example_input(program))["y"]
    assert np.isfinite(out).all()
    assert 0.1 < float(out.std()) < 10


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = zoo.mlp(seed=1), zoo.mlp(seed=1), zoo.mlp(seed=2)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["w1"], c.params["w1"])


def test_resnet18_topology():
    counts = zoo.resnet18().op_counts()
    assert counts["conv2d"] == 20 and counts["batch_norm"] == 20
    assert counts["max_pool2d"] == 1 and counts["global_avg_pool"] == 1 and counts["dense"] == 1


def test_mobilenet_v2_has_depthwise_convs():
    depthwise = [t for t in zoo.mobilenet_v2().terms()
                 if t.op.value == "conv2d" and t.attr("groups") == t.shape[1] > 1]
    assert len(depthwise) == 17


def test_save_onnx_and_load_from_path(tmp_path):
    path = tmp_path / "mlp.onnx"
    save_onnx(zoo.mlp(), path)
    assert ft.from_onnx(str(path)).inputs == zoo.mlp().inputs


def test_unknown_zoo_name():
    with pytest.raises(ft.FrontendError, match="expected a model name in .*'resnet18'.*got 'vgg'"):
        zoo.get("vgg")


def test_efficientnet_style_at_a_small_size_matches_onnxruntime():
    """The compile-benchmark model (MBConv blocks, squeeze-and-excite, SiLU) at 32x32."""
    program = zoo.efficientnet_style(size=32)
    depthwise = [t for t in program.terms() if t.op.value == "conv2d" and t.attr("groups") == t.shape[1] > 1]
    assert len(depthwise) == 16  # EfficientNet-B0's MBConv blocks: 1 + 2 + 2 + 3 + 3 + 4 + 1
    inputs = zoo.example_input(program)
    got = ft.evaluate(program, inputs)["y"]
    want = run_ort(to_onnx(program), inputs)[0]
    assert got.shape == (1, 1000) and np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))


def test_the_mobilenet_stages_halve_the_image_five_times():
    """The stem and the first block of four stages have stride 2 (MobileNetV2's table), so a
    64x64 image reaches the last 1x1 conv at 2x2."""
    program = zoo.mobilenet_v2(size=64)
    convs = [t for t in program.terms() if t.op.value == "conv2d"]
    assert sum(t.attr("strides") == (2, 2) for t in convs) == 5
    assert convs[-1].shape[1:] == (1280, 2, 2)
    assert program.outputs["y"].shape == (1, 1000)  # ImageNet's classes


def test_small_cnn_matches_onnxruntime():
    """The deployment tests' small CNN (not in the zoo table): built, exported and run."""
    program = zoo.small_cnn()
    inputs = zoo.example_input(program)
    got = ft.evaluate(program, inputs)["logits"]
    assert got.shape == (1, 10)
    np.testing.assert_allclose(got, run_ort(to_onnx(program), inputs)[0], rtol=1e-4, atol=1e-4)
