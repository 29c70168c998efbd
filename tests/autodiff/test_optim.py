"""Optimizer steps as terms against torch.optim, and the compiled training step against the
interpreted one."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.autodiff import softmax_cross_entropy
from frittata.autodiff.models import classifier, mlp
from frittata.terms.dtypes import TensorType

torch = pytest.importorskip("torch", reason="torch is not installed: no optimizer to compare with")


@pytest.mark.parametrize("ours, theirs", [
    (ft.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    (ft.optim.SGD(lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    (ft.optim.Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
])
def test_step_programs_match_torch_optim(ours, theirs, rng):
    w = rng.standard_normal((3, 4)).astype(np.float32)
    program = ft.optim.step_program(ours, {"w": TensorType((3, 4), "float32")})
    tensor = torch.tensor(w.copy(), requires_grad=True)
    optimizer = theirs([tensor])
    state = {f"{s}.w": np.zeros_like(w) for s in ours.slots}
    for step in range(1, 4):
        g = rng.standard_normal((3, 4)).astype(np.float32)
        feed = {"w": w, "grad_w": g, **state, "step": np.float32(step)}
        out = ft.evaluate(program, {n: feed[n] for n in program.inputs})
        w, state = out["w"], {n: out[n] for n in state}
        tensor.grad = torch.tensor(g)
        optimizer.step()
        np.testing.assert_allclose(w, tensor.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_compiled_train_step_equals_interpreted(rng):
    """The digits example's MLP step (the same program, so a test session compiles it once)."""
    model = classifier(mlp(64))
    optimizer = ft.optim.Adam(lr=3e-3)
    interpreted = ft.optim.TrainStep(model, optimizer)
    compiled = ft.optim.TrainStep(model, optimizer).compile("llvm")
    for _ in range(3):
        batch = {"x": rng.random((64, 64)).astype(np.float32),
                 "y": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]}
        assert compiled.step(**batch) == pytest.approx(interpreted.step(**batch), rel=1e-5)
        assert sorted(compiled.state) == sorted(interpreted.state)
        for name, ref in interpreted.state.items():
            np.testing.assert_allclose(compiled.state[name], ref, rtol=1e-4, atol=1e-7, err_msg=name)
        # Adam moves each weight by about lr per step in the direction of m / sqrt(v), which
        # for a gradient element near 0 turns on its last bits: weights agree to 2% of lr.
        for name, ref in interpreted.params.items():
            np.testing.assert_allclose(compiled.params[name], ref, rtol=0, atol=0.02 * optimizer.lr * compiled.steps,
                                       err_msg=name)


def test_train_step_names_missing_batch_inputs():
    model = classifier(mlp(2, (3, 2)))
    step = ft.optim.TrainStep(model, ft.optim.SGD())
    with pytest.raises(ft.FrittataTypeError, match="'y'"):
        step.step(x=np.zeros((2, 3), np.float32))


def test_compiled_embedding_step_equals_interpreted(rng):
    """take's VJP (a scatter-add into the embedding rows) compiled for llvm, repeated tokens too."""
    tokens = T.var("tok", (8,), "int64")
    table = T.param("emb", rng.standard_normal((50, 16)).astype(np.float32))
    w = T.param("w", (rng.standard_normal((5, 16)) * 0.3).astype(np.float32))
    logits = T.dense(T.take(table, tokens, 0), w)
    model = ft.Program({"loss": softmax_cross_entropy(logits, T.var("y", (8, 5)))})
    interpreted = ft.optim.TrainStep(model, ft.optim.SGD(lr=0.5, momentum=0.9))
    compiled = ft.optim.TrainStep(model, ft.optim.SGD(lr=0.5, momentum=0.9)).compile("llvm")
    for _ in range(3):
        batch = {"tok": rng.integers(0, 50, 8), "y": np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]}
        batch["tok"][1] = batch["tok"][0]
        assert compiled.step(**batch) == pytest.approx(interpreted.step(**batch), rel=1e-5)
        for name, ref in {**interpreted.params, **interpreted.state}.items():
            got = compiled.params.get(name, compiled.state.get(name))
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6, err_msg=name)
