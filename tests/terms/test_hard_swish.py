"""hard_swish and hard_sigmoid end to end: added in one module (`frittata.terms.activations`),
they build, type, evaluate, import from and export to ONNX, fuse, and compile for llvm."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms.onnx_export import to_onnx
from frittata.terms.ops import Op
from tests.terms.conftest import assert_matches_ort, one_node_model, run_ort

X = (np.random.default_rng(14).standard_normal((3, 4, 5)) * 3).astype(np.float32)  # fixed data, drawn once


def relu6(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0), 6)


def test_builder_type_and_repr():
    x = tb.var("x", (3, 4, 5))
    y = tb.hard_swish(x)
    assert y.op is Op.HARD_SWISH and y.type == x.type
    assert eval(repr(y), vars(ft.terms)) is y
    assert eval(repr(tb.hard_sigmoid(x, 0.25)), vars(ft.terms)) is tb.hard_sigmoid(x, 0.25, 0.5)
    with pytest.raises(ft.FrittataTypeError, match="hard_swish: expected a float tensor"):
        tb.hard_swish(tb.var("i", (3,), "int32"))


def test_interpreter_is_x_relu6_of_x_plus_3_over_6():
    got = ft.evaluate(tb.hard_swish(tb.var("x", X.shape)), {"x": X})
    np.testing.assert_allclose(got, X * relu6(X + 3) / 6, rtol=1e-6, atol=1e-6)
    sig = ft.evaluate(tb.hard_sigmoid(tb.var("x", X.shape), 0.3, 0.4), {"x": X})
    np.testing.assert_allclose(sig, np.clip(0.3 * X + 0.4, 0, 1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("node", [
    helper.make_node("HardSwish", ["x"], ["y"]),
    helper.make_node("HardSigmoid", ["x"], ["y"]),
    helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.6),
], ids=["HardSwish", "HardSigmoid", "HardSigmoid-attrs"])
def test_onnx_import_matches_onnxruntime(node):
    assert_matches_ort(one_node_model(node, {"x": X}), {"x": X})


def test_onnx_export_runs_in_onnxruntime():
    x = tb.var("x", X.shape)
    program = ft.Program({"y": tb.add(tb.hard_swish(x), tb.hard_sigmoid(x, 0.3, 0.6))})
    assert [n.op_type for n in to_onnx(program).graph.node] == ["HardSwish", "HardSigmoid", "Add"]
    np.testing.assert_allclose(run_ort(to_onnx(program), {"x": X})[0], ft.evaluate(program, {"x": X})["y"],
                               rtol=1e-6, atol=1e-6)


def test_compiled_for_llvm_fuses_and_matches_interpreter_and_onnxruntime(rng):
    """A MobileNetV3-style tail: hard_swish of a biased value, then a scaled hard_sigmoid gate."""
    x = tb.var("x", X.shape)
    bias = tb.param("b", rng.standard_normal(5).astype(np.float32))
    h = tb.hard_swish(tb.add(x, bias))
    program = ft.Program({"y": tb.mul(h, tb.hard_sigmoid(h))})
    module = ft.compile(program, target="llvm")
    got = module.run(x=X)["y"]
    np.testing.assert_allclose(got, ft.evaluate(program, {"x": X})["y"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, run_ort(to_onnx(program), {"x": X})[0], rtol=1e-5, atol=1e-5)
    fused = [t for t in module.program.terms() if t.op is Op.FUSED_ELEMENTWISE]
    assert fused and "hard_swish" in repr(fused[0].attr("expr")), module.program.op_counts()
