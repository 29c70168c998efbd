"""Outputs written into the input of the same name (`Module.run_in_place`): which ones the plan
allows, that the results equal a plain run's, and that a training step updates its parameter
and state arrays without new ones."""

from __future__ import annotations

import numpy as np

import frittata as ft
import frittata.terms as T
from frittata.autodiff.models import classifier, mlp
from frittata.backends.llvm import build


def test_elementwise_updates_read_before_written_go_in_place():
    w, g = T.var("w", (4, 5)), T.var("g", (4, 5))
    program = ft.Program({"w": T.sub(w, T.mul(g, 0.1)), "loss": T.reduce_sum(T.mul(g, g))})
    mod = build(program, threads=2)
    assert mod.in_place == ("w",)
    rng = np.random.default_rng(0)
    weights, grads = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    want = mod.run(w=weights, g=grads)
    kept = weights.copy()
    got = mod.run_in_place(w=weights, g=grads)
    assert got["w"] is weights
    np.testing.assert_array_equal(got["w"], want["w"])
    np.testing.assert_array_equal(mod.run(w=kept, g=grads)["w"], want["w"])


def test_unsafe_pairs_stay_out_of_place():
    """A transpose reads other elements than it writes; a later step still reads the input (the
    whole-row sum, and the broadcast add reading one element of r for many of s)."""
    x = T.var("x", (4, 4))
    row = T.var("r", (1, 4))
    cases = {
        "transpose": ft.Program({"x": T.transpose(x)}),
        "read later": ft.Program({"x": T.add(x, 1.0), "y": T.reduce_sum(T.mul(x, T.add(x, 1.0)), [1])}),
        "broadcast": ft.Program({"r": T.add(row, T.reduce_sum(row, [0], keepdims=True)), "s": T.add(x, row)}),
    }
    for what, program in cases.items():
        mod = build(program, threads=1)
        inputs = {n: np.random.default_rng(1).standard_normal(t.shape).astype(np.float32)
                  for n, t in program.inputs.items()}
        want = mod.run(**inputs)
        got = mod.run_in_place(**{n: a.copy() for n, a in inputs.items()})
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-6, err_msg=what)
        assert mod.in_place == (), (what, mod.in_place)


def test_a_shared_input_array_is_not_overwritten():
    w = T.var("w", (3,))
    v = T.var("v", (3,))
    mod = build(ft.Program({"w": T.add(w, v), "v": T.mul(v, 2.0)}), threads=1)
    shared = np.arange(3, dtype=np.float32)
    got = mod.run_in_place(w=shared, v=shared)
    np.testing.assert_array_equal(got["w"], [0, 2, 4])
    np.testing.assert_array_equal(got["v"], [0, 2, 4])
    np.testing.assert_array_equal(shared, [0, 1, 2])


def test_a_compiled_adam_step_updates_every_parameter_and_slot_in_place():
    step = ft.optim.TrainStep(classifier(mlp(8)), ft.optim.Adam(lr=1e-2)).compile("llvm", threads=2)
    reference = ft.optim.TrainStep(classifier(mlp(8)), ft.optim.Adam(lr=1e-2))
    module = step._module
    assert set(module.in_place) == set(step.params) | set(step.state)
    arrays = {n: a for n, a in {**step.params, **step.state}.items()}
    rng = np.random.default_rng(2)
    batch = {"x": rng.random((8, 64)).astype(np.float32), "y": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]}
    for _ in range(3):
        np.testing.assert_allclose(step.step(**batch), reference.step(**batch), rtol=1e-4)
    for name, array in arrays.items():
        table = step.params if name in step.params else step.state
        assert table[name] is array, name
        np.testing.assert_allclose(array, {**reference.params, **reference.state}[name], rtol=1e-3, atol=1e-5)
