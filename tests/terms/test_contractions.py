"""Contractions exported to ONNX: the op each becomes, and onnxruntime's values."""

import numpy as np
import pytest

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms.onnx_export import to_onnx

from tests.terms.conftest import run_ort


@pytest.mark.parametrize("dtype, ops", [("float32", ["Gemm"]), ("int32", ["Transpose", "MatMul"])])
def test_dense_exports_as_one_gemm_for_float32_only(dtype, ops, rng):
    """A float32 dense is one Gemm with transB (onnxruntime's fused GEMM, no transposed copy of
    the weights); onnxruntime's Gemm takes no integers, so an integer dense is MatMul of the
    transposed weights. Both match the interpreter."""
    x = rng.integers(-50, 50, (5, 12)).astype(dtype)
    w = rng.integers(-50, 50, (7, 12)).astype(dtype)
    program = ft.Program({"y": tb.dense(tb.var("x", x.shape, dtype), tb.param("w", w))})
    model = to_onnx(program)
    assert [n.op_type for n in model.graph.node] == ops
    (got,) = run_ort(model, {"x": x})
    np.testing.assert_array_equal(got, ft.evaluate(program, {"x": x})["y"])
