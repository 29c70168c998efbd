"""ReduceProd (a reduction of its own, lowered by the llvm backend) and Hardmax (arg_max compared
with each position), imported, evaluated and compiled, against onnxruntime."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper

import frittata as ft
from tests.terms.conftest import assert_matches_ort, one_node_model, run_ort


def _compiled_matches(model, inputs, exact: bool) -> None:
    """The llvm module of `model` gives onnxruntime's outputs."""
    program = ft.from_onnx(model)
    got = ft.compile(program, optimize=False).run(**{n: inputs[n] for n in program.inputs})
    for value, want in zip(got.values(), run_ort(model, inputs)):
        if exact:
            np.testing.assert_array_equal(value, want)
        else:
            np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-6)


@st.composite
def _tensor_and_axis(draw, dtypes=("float32", "int32")):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).uniform(-2, 2, shape)
    array = values.astype(np.float32) if dtype == "float32" else np.rint(values * 2).astype(dtype)
    return array, draw(st.integers(-len(shape), len(shape) - 1)), draw(st.booleans())


@given(_tensor_and_axis())
def test_reduce_prod_matches_onnxruntime(case):
    x, axis, keepdims = case
    node = helper.make_node("ReduceProd", ["x", "axes"], ["y"], keepdims=int(keepdims))
    model = one_node_model(node, {"x": x}, str(x.dtype), {"axes": np.array([axis], np.int64)}, opset=18)
    assert_matches_ort(model, {"x": x}, exact=x.dtype != np.float32)


def test_reduce_prod_compiles_for_llvm():
    rng = np.random.default_rng(2)
    for dtype, axis, keepdims in (("float32", 1, True), ("int32", -1, False), ("int64", 0, True)):
        x = rng.uniform(-2, 2, (3, 4, 5)).astype(np.float32)
        x = x if dtype == "float32" else np.rint(x * 2).astype(dtype)
        node = helper.make_node("ReduceProd", ["x", "axes"], ["y"], keepdims=int(keepdims))
        model = one_node_model(node, {"x": x}, dtype, {"axes": np.array([axis], np.int64)}, opset=18)
        _compiled_matches(model, {"x": x}, exact=dtype != "float32")


def test_reduce_prod_over_every_axis_and_an_empty_one():
    x = np.array([[1.5, -2.0, 0.5], [3.0, 1.0, -1.0]], np.float32)
    model = one_node_model(helper.make_node("ReduceProd", ["x"], ["y"], keepdims=0), {"x": x}, opset=13)
    assert assert_matches_ort(model, {"x": x}).shape == ()
    _compiled_matches(model, {"x": x}, exact=False)
    empty = np.zeros((2, 0), np.float32)
    node = helper.make_node("ReduceProd", ["x", "axes"], ["y"], keepdims=1)
    model = one_node_model(node, {"x": empty}, initializers={"axes": np.array([1], np.int64)}, opset=18)
    np.testing.assert_array_equal(assert_matches_ort(model, {"x": empty}), np.ones((2, 1), np.float32))


@given(_tensor_and_axis(dtypes=("float32",)), st.sampled_from([11, 13]))
def test_hardmax_matches_onnxruntime(case, opset):
    """Ties (values rounded to halves) pick the first maximum; before opset 13 the axes from
    `axis` on are flattened into one."""
    x, axis, _ = case
    x = np.round(x * 2) / 2
    node = helper.make_node("Hardmax", ["x"], ["y"], axis=axis)
    assert_matches_ort(one_node_model(node, {"x": x}, opset=opset), {"x": x}, exact=True)


def test_hardmax_compiles_for_llvm():
    x = np.round(np.random.default_rng(3).uniform(-2, 2, (2, 3, 4)) * 2).astype(np.float32) / 2
    for opset, axis in ((13, 1), (11, 1), (13, -1)):
        node = helper.make_node("Hardmax", ["x"], ["y"], axis=axis)
        _compiled_matches(one_node_model(node, {"x": x}, opset=opset), {"x": x}, exact=True)
