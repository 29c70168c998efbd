"""Reverse mode: every op's VJP against finite differences (float64, hypothesis), the errors
of what has no gradient, and the shape of the gradient program."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.autodiff import GRAD_PREFIX, grad, softmax_cross_entropy
from frittata.autodiff.cases import CASES
from frittata.autodiff.check import assert_gradients, case_program, check_gradients
from frittata.terms.ops import Op


class HypothesisDraw:
    """A case's choices drawn by hypothesis (so failures shrink)."""

    def __init__(self, data) -> None:
        self.data = data

    def dim(self, low: int = 1, high: int = 4) -> int:
        return self.data.draw(st.integers(low, high))

    def choice(self, options):
        return self.data.draw(st.sampled_from(list(options)))


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_vjp_matches_finite_differences(name, data, seed):
    program, inputs = case_program(CASES[name], HypothesisDraw(data), np.random.default_rng(seed))
    assert_gradients(program, inputs, list(program.inputs), coordinates=6)


def test_every_op_with_a_vjp_has_a_case():
    assert sorted(op.name for op in Op if op.vjp is not None) == sorted(CASES)


def test_a_wrong_gradient_is_reported(monkeypatch):
    x = T.var("x", (3,), "float64")
    program = ft.Program({"loss": T.reduce_sum(T.mul(x, x))})
    at = {"x": np.array([1.0, 2.0, 3.0])}
    assert check_gradients(program, at, ["x"]) == []

    def doubled(p, wrt, of):
        right = grad(p, wrt, of)
        return right.with_outputs({of: right.outputs[of], "grad_x": T.mul(right.outputs["grad_x"], 2.0)})

    monkeypatch.setattr("frittata.autodiff.check.grad", doubled)
    (problem,) = check_gradients(program, at, ["x"])
    assert problem.name == "x" and problem.analytic == pytest.approx(2 * problem.numeric)
    assert "finite differences" in str(problem)


def test_params_become_inputs_and_constants_stay():
    w = T.param("w", np.arange(6, dtype=np.float32).reshape(2, 3))
    b = T.param("b", np.ones(2, np.float32))
    x = T.var("x", (4, 3))
    program = ft.Program({"loss": T.reduce_sum(T.add(T.dense(x, w), b))})
    g = ft.grad(program, wrt=["w"])
    assert list(g.inputs) == ["x", "w"] and list(g.params) == ["b"]
    assert list(g.outputs) == ["loss", GRAD_PREFIX + "w"]
    xs = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out = ft.evaluate(g, {"x": xs, "w": w.attr("ref").data})
    np.testing.assert_allclose(out["grad_w"], np.broadcast_to(xs.sum(0), (2, 3)), rtol=1e-6)


def test_gradient_of_an_unused_input_is_zero():
    x, y = T.var("x", (2,)), T.var("y", (3,))
    g = ft.grad(ft.Program({"loss": T.reduce_sum(x), "other": y}), wrt=["x", "y"])
    out = ft.evaluate(g, {"x": np.ones(2, np.float32)})
    assert out["grad_y"].shape == (3,) and not out["grad_y"].any()


def test_softmax_cross_entropy_gradient_is_softmax_minus_targets(rng):
    logits = T.var("logits", (5, 4), "float64")
    targets = T.var("t", (5, 4), "float64")
    program = ft.Program({"loss": softmax_cross_entropy(logits, targets)})
    z = rng.standard_normal((5, 4)) * 3
    onehot = np.eye(4)[rng.integers(0, 4, 5)]
    out = ft.evaluate(grad(program, ["logits"]), {"logits": z, "t": onehot})
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(out["loss"], -np.mean(np.log((p * onehot).sum(1))), rtol=1e-12)
    np.testing.assert_allclose(out["grad_logits"], (p - onehot) / 5, atol=1e-12)
    assert_gradients(program, {"logits": z, "t": onehot}, ["logits", "t"])


@pytest.mark.parametrize("make, name", [
    (lambda x: T.cast(T.arg_max(x, 1), "float32"), "arg_max"),
    (lambda x: T.cast(T.greater(x, 0.0), "float32"), "cast"),
    (lambda x: T.scatter_elements(x, T.param("i", np.zeros((2, 3), np.int64)), x, 0, "max"), "scatter_elements"),
    (lambda x: T.cast(T.cast(x, "int32"), "float32"), "cast"),
])
def test_non_differentiable_ops_are_named(make, name):
    x = T.var("x", (2, 3))
    program = ft.Program({"loss": T.reduce_sum(make(x))})
    with pytest.raises(ft.GradientError, match=name):
        ft.grad(program, wrt=["x"])


def test_steps_have_zero_gradients_as_pytorch_gives():
    x = T.var("x", (4,), "float64")
    program = ft.Program({"loss": T.reduce_sum(T.mul(x, T.add(T.floor(x), T.sign(x))))})
    values = np.array([-1.5, 0.25, 2.0, 3.75])
    got = ft.evaluate(ft.grad(program, ["x"]), {"x": values})["grad_x"]
    np.testing.assert_array_equal(got, np.floor(values) + np.sign(values))


def test_a_bool_condition_needs_no_gradient():
    x = T.var("x", (3,), "float64")
    program = ft.Program({"loss": T.reduce_sum(T.where(T.greater(x, 0.0), x, T.mul(x, x)))})
    assert_gradients(program, {"x": np.array([-1.0, 0.5, 2.0])}, ["x"])


@pytest.mark.parametrize("wrt, of, match", [
    (["nope"], "loss", "wrt"), (["x"], "y", "of"), (["x"], "vector", "scalar"), (["i"], "loss", "float"),
])
def test_bad_requests_raise(wrt, of, match):
    x, i = T.var("x", (3,)), T.var("i", (3,), "int32")
    program = ft.Program({"loss": T.reduce_sum(T.add(x, T.cast(i, "float32"))), "vector": x})
    with pytest.raises(ft.GradientError, match=match):
        ft.grad(program, wrt, of)


def test_kernel_ops_differentiate_through_their_expansion(rng):
    x, w, b = T.var("x", (2, 3, 5, 5), "float64"), T.var("w", (4, 3, 3, 3), "float64"), T.var("b", (4,), "float64")
    r = T.var("r", (2, 4, 3, 3), "float64")
    fused = T.fused_conv2d(x, w, b, r, epilogue=(("add",), ("relu",)))
    program = ft.Program({"loss": T.reduce_sum(T.tanh(fused))})
    inputs = {n: rng.standard_normal(t.shape) for n, t in program.inputs.items()}
    assert_gradients(program, inputs, ["x", "w", "b", "r"])


def test_grad_check_command(capsys):
    from frittata.cli import main

    assert main(["grad", "check", "conv2d", "softmax", "--examples", "2"]) == 0
    assert "2 of 2 ops pass" in capsys.readouterr().out
    assert main(["grad", "check", "arg_max"]) == 2
