"""ONNX export: every term op, exported and run in onnxruntime, agrees with the interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms import kernels
from frittata.terms.onnx_export import to_onnx
from frittata.terms.ops import ELEMENTWISE, Op
from frittata.terms.term import build
from tests.terms.conftest import run_ort

R = np.random.default_rng(4)  # the module's fixed parameters only, drawn once at import; tests use `rng`
X = tb.var("x", (2, 4, 6, 6))
M = tb.var("m", (3, 5))
I32 = tb.var("i", (3, 5), "int32")
I8 = tb.var("q", (1, 4, 5, 5), "int8")
W8 = tb.param("w8", R.integers(-128, 128, (3, 4, 3, 3)).astype(np.int8))
W = tb.param("w", R.standard_normal((4, 2, 3, 3)).astype(np.float32))
V = tb.param("v", R.standard_normal(4).astype(np.float32))
VAR = tb.param("var", (R.random(4) + 0.5).astype(np.float32))

ROW = tb.slice(M, [(0, 1, 1), (0, 5, 1)])
CASES = {
    "binary": tb.add(tb.sub(tb.mul(M, 2.0), tb.div(M, 3.0)), tb.maximum(tb.minimum(M, 0.5), -0.5)),
    "pow": tb.pow(tb.abs(M), 1.5),
    "round": tb.round(tb.mul(M, 3.0)),
    "unary": tb.neg(tb.sqrt(tb.exp(tb.erf(tb.tanh(tb.sigmoid(tb.relu(tb.log(tb.abs(M))))))))),
    "activations": tb.add(tb.leaky_relu(M, 0.3), tb.gelu(M, "tanh")),
    "clip_where": tb.where(tb.cast(tb.clip(M, 0.0), "bool"), tb.clip(M, None, 0.2), tb.gelu(M)),
    "int_div": tb.div(I32, tb.sub(I32, 2)),
    "right_shift": tb.right_shift(tb.mul(I32, 1000), 4),
    "int_matmul": tb.matmul(I32, tb.transpose(I32)),
    "int_dense": tb.dense(I32, I32),
    "int8_conv": tb.conv2d(I8, W8, pads=1),
    "conv_pools": tb.avg_pool2d(tb.max_pool2d(tb.conv2d(X, W, 2, (1, 0, 2, 1), 1, 2), 2, 1, 1), 3, 2, 1, True),
    "norms": tb.softmax(tb.layer_norm(tb.batch_norm(X, V, V, V, VAR), tb.param("s", np.ones((6, 6), np.float32)),
                                      tb.param("b", np.zeros((6, 6), np.float32)), axis=2), axis=1),
    "gap_dense": tb.dense(tb.flatten(tb.global_avg_pool(X)), tb.param("d", np.ones((3, 4), np.float32))),
    "reduce": tb.add(tb.reduce_sum(M, 1, True), tb.reduce_max(M, (), False)),
    "reduce_min": tb.reduce_min(M, (0,), True),
    "reduce_prod": tb.reduce_prod(M, (1,), True),
    "arg_reductions": tb.add(tb.arg_max(M, 1, True), tb.arg_min(tb.neg(M), 1, True, last=True)),
    "broadcast_to": tb.broadcast_to(tb.reduce_sum(M, 1, True), (2, 3, 5)),
    "reduce_mean_all": tb.reduce_mean(M),
    "movement": tb.concat(tb.slice(tb.pad(M, [(1, 0), (0, 2)], 9.0), [(None, None, -1), (5, 0, -2)]),
                          tb.reshape(tb.gather(M, [-1, 0, 2], axis=1), (3, 3)), axis=0),
    "indexing": tb.add(tb.add(tb.reduce_sum(tb.take_add(M, tb.param("ti", np.array([[1, -1], [0, 2]])),
                                                        tb.param("ta", np.array([0.5, -1.0], np.float32)), 1)),
                              tb.reduce_sum(tb.gather_elements(M, tb.param("ei", np.array([[2, -3, 0, 1, -1]])), 0))),
                       tb.add(tb.reduce_sum(tb.gather_nd(M, tb.param("ni", np.array([[1, 2], [0, -1]])))),
                              tb.reduce_sum(tb.one_hot(tb.param("hi", np.array([3, -1, 9])), 4)))),
    "scatters": tb.scatter_nd(tb.scatter_elements(M, tb.param("si", np.array([[2, -3, 0, 2, -1]])), ROW, 0, "add"),
                              tb.param("ri", np.array([[1]])), tb.take(M, tb.param("tk", np.array([-1])))),
    "fused_conv2d": kernels.unpack_nchwc(kernels.pack_nchwc(kernels.fused_conv2d(
        X, W, V, X, pads=(1, 1, 1, 1), groups=2, epilogue=(("add",), ("relu",), ("clip", 0.0, 1.0))), 2), 2),
    "winograd_conv2d": tb.winograd_conv2d(X, tb.param("ww", R.standard_normal((3, 4, 3, 3)).astype(np.float32)),
                                          tb.param("wb", R.standard_normal(3).astype(np.float32)), pads=(1, 1, 1, 1),
                                          epilogue=(("relu",),), tile=2),
    "bitserial": tb.add(
        tb.cast(tb.reduce_sum(tb.bitserial_conv2d(tb.bitpack(I8, 2, 1, "uint8"), tb.bitpack(W8, 1, 1, "uint8"), 1, 1,
                                                  encoding="bipolar"), (1, 2, 3)), "int32"),
        tb.reduce_sum(tb.bitserial_dense(tb.bitpack(tb.reshape(I8, (5, 20)), 2, 1, "int32"),
                                         tb.bitpack(tb.bitunpack(tb.bitpack(tb.reshape(W8, (9, 12)), 1, 1, "uint8"),
                                                                 12, 1), 1, 1, "int32")), (1,))),
    "fused_dense_int": kernels.fused_dense(I32, I32, tb.param("ib", np.arange(3, dtype=np.int32)),
                                           epilogue=(("shift", 3), ("clip", -100, 100), ("cast", "int8"))),
    "fused_elementwise": tb.fused_elementwise(M, tb.param("row", np.arange(5, dtype=np.float32)), expr=(
        "clip", ("gelu", ("sub", ("arg", 0), ("mul", ("arg", 1), ("const", 0.5, "float32"))), "tanh"), -0.1, 2.0)),
    "fused_softmax": tb.fused_softmax(M, tb.param("mask", np.triu(np.full((3, 5), -1e9, np.float32), 1)), expr=(
        "add", ("mul", ("arg", 0), ("const", 0.125, "float32")), ("arg", 1))),
    "tiled_ops": tb.tiled_dense(tb.flatten(tb.tiled_conv2d(
        X, tb.param("w5", R.standard_normal((5, 4, 3, 3)).astype(np.float32)), tb.param("b5", np.ones(5, np.float32)),
        pads=(1, 1, 1, 1), epilogue=(("relu",),), schedule=(("vec", 8), ("oc_block", 4), ("oc_tail", 1),
                                                            ("ow_block", 8), ("ow_tail", 6), ("c_block", 3),
                                                            ("c_tail", 1), ("parallel", "oc")))),
        tb.param("wt", R.standard_normal((3, 180)).astype(np.float32)), tb.param("bt", np.zeros(3, np.float32)),
        schedule=(("vec", 8), ("m_block", 6), ("m_tail", 2), ("n_block", 8), ("n_tail", 3), ("k_block", 64),
                  ("parallel", "n"))),
    "vta_ops": tb.vta_unpack(tb.vta_conv2d(
        tb.vta_pack(I8, "act", (1, 2, 3)),
        tb.vta_pack(tb.param("w6", R.integers(-128, 128, (6, 4, 3, 3)).astype(np.int8)), "wgt", (1, 2, 3)),
        tb.param("b6", np.arange(-3, 3, dtype=np.int32) * 50), (2, 1), (1, 0, 1, 2),
        (("shift", 4), ("clip", -100, 100), ("relu",), ("cast", "int8")), (1, 2, 3)), (1, 2, 3)),
    "vta_dense": tb.vta_unpack(tb.vta_dense(
        tb.vta_pack(tb.cast(I32, "int8"), "act", (3, 1, 2)),
        tb.vta_pack(tb.param("wd", R.integers(-128, 128, (4, 5)).astype(np.int8)), "wgt", (3, 1, 2)),
        tb.param("bd", np.array([5, -7, 100, 0], np.int32)), (("shift", 2), ("cast", "int8")), (3, 1, 2)),
        (3, 1, 2)),
}


def _inputs(term, rng: np.random.Generator) -> dict[str, np.ndarray]:
    program = ft.Program({"y": term})
    out = {}
    for name, ty in program.inputs.items():
        values = rng.standard_normal(ty.shape) * (40 if ty.dtype != "float32" else 1)
        out[name] = values.astype(ty.dtype)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_runs_in_onnxruntime(name, rng):
    term = CASES[name]
    program, inputs = ft.Program({"y": term}), _inputs(term, rng)
    want = ft.evaluate(program, inputs)["y"]
    got = run_ort(to_onnx(program), inputs)[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _elementwise_case(op: Op):
    """`op` over float operands (integers for integer-only ops), first attribute choices."""
    dtype = "int32" if op is Op.RIGHT_SHIFT else "float32"
    xs = [tb.var(f"e{i}", (3, 5), dtype) for i in range(op.arity.low)]
    if op is Op.WHERE:
        xs[0] = tb.cast(xs[0], "bool")
    if op.is_a("logic"):
        xs = [tb.cast(x, "bool") for x in xs]
    return build(op, xs, **{a.name: a.choices(xs[-1].type)[0] for a in op.attrs})


@pytest.mark.parametrize("op", sorted(ELEMENTWISE, key=lambda op: op.value), ids=lambda op: op.value)
def test_every_elementwise_op_exports(op, rng):
    """Every elementwise op of the table, generated from its entry (attributes from its samplers)."""
    term = _elementwise_case(op)
    program, inputs = ft.Program({"y": term}), _inputs(term, rng)
    with np.errstate(all="ignore"):
        want = ft.evaluate(program, inputs)["y"]
    got = run_ort(to_onnx(program), inputs)[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_every_op_is_exported_by_some_case():
    used = {t.op for term in CASES.values() for t in ft.Program({"y": term}).terms()}
    assert used | ELEMENTWISE == set(Op)


def test_outputs_that_are_inputs_or_shared_get_identity_nodes(rng):
    program = ft.Program({"a": M, "b": tb.relu(M), "c": tb.relu(M)})
    model = to_onnx(program)
    assert [o.name for o in model.graph.output] == ["a", "b", "c"]
    inputs = {"m": rng.standard_normal((3, 5)).astype(np.float32)}
    for got, want in zip(run_ort(model, inputs), ft.evaluate(program, inputs).values()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("reduce", [tb.reduce_sum, tb.reduce_mean, tb.reduce_max])
def test_reductions_export_their_axes(reduce, rng):
    """Reduce* over axis 1 only (an export that dropped the axes would reduce all of them)."""
    program = ft.Program({"y": reduce(tb.var("m", (3, 5, 2)), (1,), keepdims=False)})
    inputs = {"m": rng.standard_normal((3, 5, 2)).astype(np.float32)}
    got = run_ort(to_onnx(program), inputs)[0]
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, ft.evaluate(program, inputs)["y"], rtol=1e-5, atol=1e-5)
