"""Mod (integer and float, fmod 0 and 1, broadcasting), imported, evaluated and compiled, against
onnxruntime, and against numpy where onnxruntime has no kernel (floats with fmod=0)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper

import frittata as ft
from tests.conftest import compiling
from tests.terms.conftest import one_node_model, run_ort

INTEGERS = ("int8", "int32", "int64", "uint8", "uint32")


@st.composite
def _operands(draw, dtypes):
    """Two broadcasting operands with mixed signs and no zero divisor (undefined for integers)."""
    dtype = draw(st.sampled_from(dtypes))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    divisor_shape = shape[draw(st.integers(0, len(shape))):]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    info = np.iinfo(dtype) if dtype in INTEGERS else None
    if info is not None:
        a = np.asarray(rng.integers(info.min, info.max, shape, endpoint=True), dtype)
        b = np.asarray(rng.integers(info.min // 4, info.max // 4, divisor_shape, endpoint=True), dtype)
        b[b == 0] = 3
    else:
        a = np.asarray(rng.standard_normal(shape) * 100, dtype)
        b = np.asarray(rng.standard_normal(divisor_shape) * 7, dtype)
        b[b == 0] = 1.5
    return a, b


def _model(a: np.ndarray, b: np.ndarray, fmod: int):
    node = helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)
    return one_node_model(node, {"a": a, "b": b}, str(a.dtype), opset=13)


@compiling
@given(_operands(INTEGERS), st.sampled_from([0, 1]))
def test_integer_mod_matches_onnxruntime_exactly_evaluated_and_compiled(case, fmod):
    a, b = case
    model = _model(a, b, fmod)
    (want,) = run_ort(model, {"a": a, "b": b})
    program = ft.from_onnx(model)
    np.testing.assert_array_equal(ft.evaluate(program, {"a": a, "b": b})["y"], want)
    np.testing.assert_array_equal(ft.compile(program, optimize=False).run(a=a, b=b)["y"], want)


@compiling
@given(_operands(("float32", "float64")), st.sampled_from([0, 1]))
def test_float_mod_matches_c_fmod_or_python_modulo(case, fmod):
    """fmod=1 is C's fmod (onnxruntime's kernel); fmod=0 is Python's % (numpy's np.mod), which
    onnxruntime does not implement for floats."""
    a, b = case
    model = _model(a, b, fmod)
    want = run_ort(model, {"a": a, "b": b})[0] if fmod else np.mod(a, b)
    program = ft.from_onnx(model)
    for got in (ft.evaluate(program, {"a": a, "b": b})["y"], ft.compile(program, optimize=False).run(a=a, b=b)["y"]):
        assert got.dtype == a.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * float(np.max(np.abs(b))))


def test_float_mod_edge_cases_follow_c_and_python():
    a = np.array([0.0, -3.0, 3.0, 1.0, np.inf, 1.0, np.nan, 5.0], np.float32)
    b = np.array([-2.0, np.inf, -np.inf, -np.inf, 2.0, 0.0, 2.0, np.nan], np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        for fmod, want in ((1, np.fmod(a, b)), (0, np.mod(a, b))):
            program = ft.from_onnx(_model(a, b, fmod))
            np.testing.assert_array_equal(ft.evaluate(program, {"a": a, "b": b})["y"], want)
