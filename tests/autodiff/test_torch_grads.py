"""Gradients of the zoo MLP and the small digits CNN against torch's autograd."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.autodiff import batch_norm_train, softmax_cross_entropy
from frittata.autodiff.models import classifier, small_cnn
from frittata.terms import builders as tb
from frittata.terms import zoo

torch = pytest.importorskip("torch", reason="torch is not installed: no autograd to compare with")
F = torch.nn.functional


def _torch_grads(program: ft.Program, inputs: dict, forward) -> tuple[float, dict]:
    params = {n: torch.tensor(a, requires_grad=True) for n, a in program.params.items()}
    loss = forward(params, {n: torch.tensor(a) for n, a in inputs.items()})
    loss.backward()
    return loss.item(), {n: p.grad.numpy() for n, p in params.items()}


def _compare(program: ft.Program, inputs: dict, forward) -> None:
    want_loss, want = _torch_grads(program, inputs, forward)
    grads = ft.grad(program)
    got = ft.evaluate(grads, {**inputs, **program.params})
    np.testing.assert_allclose(got["loss"], want_loss, rtol=1e-5)
    assert sorted(want) == sorted(n.removeprefix("grad_") for n in got if n != "loss")
    for name, g in want.items():
        np.testing.assert_allclose(got["grad_" + name], g, rtol=2e-4, atol=2e-6, err_msg=name)


def test_zoo_mlp_gradients_match_torch(rng):
    model = zoo.mlp(batch=8)
    logits = model.outputs["y"]
    program = ft.Program({"loss": softmax_cross_entropy(logits, tb.var("t", logits.shape))})
    inputs = {"x": rng.standard_normal((8, 784)).astype(np.float32),
              "t": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]}

    def forward(p, i):
        h = F.relu(F.linear(i["x"], p["w1"], p["b2"]))
        h = F.relu(F.linear(h, p["w3"], p["b4"]))
        return F.cross_entropy(F.linear(h, p["w5"], p["b6"]), i["t"])

    _compare(program, inputs, forward)


def test_small_cnn_gradients_match_torch(rng):
    program = classifier(small_cnn(batch=4))
    program = program.with_outputs({"loss": program.outputs["loss"]})
    inputs = {"x": rng.standard_normal((4, 1, 8, 8)).astype(np.float32),
              "y": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 4)]}

    def forward(p, i):
        h = i["x"]
        for k in range(2):
            h = F.max_pool2d(F.relu(F.conv2d(h, p[f"conv{k}.w"], padding=1) + p[f"conv{k}.b"]), 2)
        return F.cross_entropy(F.linear(h.reshape(4, -1), p["fc.w"], p["fc.b"]), i["y"])

    _compare(program, inputs, forward)


def test_training_mode_batch_norm_and_strided_grouped_conv_match_torch(rng):
    x = tb.var("x", (3, 4, 7, 7))
    w = tb.param("w", (rng.standard_normal((6, 2, 3, 3)) * 0.3).astype(np.float32))
    scale = tb.param("scale", (1 + 0.1 * rng.standard_normal(6)).astype(np.float32))
    bias = tb.param("bias", (0.1 * rng.standard_normal(6)).astype(np.float32))
    y = tb.conv2d(x, w, strides=2, pads=(1, 0, 1, 2), dilations=(1, 2), groups=2)
    h = tb.avg_pool2d(tb.relu(batch_norm_train(y, scale, bias)), 2, 1)
    r = rng.standard_normal(h.shape).astype(np.float32)
    program = ft.Program({"loss": tb.reduce_mean(tb.mul(h, tb.param("r", r)))})
    inputs = {"x": rng.standard_normal((3, 4, 7, 7)).astype(np.float32)}

    def forward(p, i):
        y = F.conv2d(F.pad(i["x"], (0, 2, 1, 1)), p["w"], stride=2, dilation=(1, 2), groups=2)
        h = F.batch_norm(y, None, None, p["scale"], p["bias"], training=True, eps=1e-5)
        return (F.avg_pool2d(F.relu(h), 2, 1) * p["r"]).mean()

    _compare(program, inputs, forward)


def test_gradients_of_an_imported_onnx_model_match_the_built_one(rng):
    from frittata.terms.onnx_export import to_onnx

    built = classifier(small_cnn(batch=2))
    logits = ft.from_onnx(to_onnx(built.with_outputs({"logits": built.outputs["logits"]})).SerializeToString())
    y = tb.var("y", (2, 10))
    imported = ft.Program({"loss": softmax_cross_entropy(logits.outputs["logits"], y)})
    inputs = {"x": rng.standard_normal((2, 1, 8, 8)).astype(np.float32),
              "y": np.eye(10, dtype=np.float32)[[3, 7]]}
    ours = ft.evaluate(ft.grad(built.with_outputs({"loss": built.outputs["loss"]})), {**inputs, **built.params})
    theirs = ft.evaluate(ft.grad(imported), {**inputs, **imported.params})
    assert sorted(theirs) == sorted(ours)
    for name, want in ours.items():
        np.testing.assert_allclose(theirs[name], want, rtol=1e-5, atol=1e-7, err_msg=name)
