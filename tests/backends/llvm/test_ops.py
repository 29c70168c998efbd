"""Differential tests: every operator compiled for llvm equals the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from tests.backends.llvm.helpers import check, rand

X4 = (2, 3, 6, 5)

UNARY = {
    "neg": T.neg, "abs": T.abs, "round": lambda x: T.round(T.mul(x, 2.0)), "exp": T.exp,
    "log": lambda x: T.log(T.add(T.abs(x), 0.1)),
    "sqrt": lambda x: T.sqrt(T.abs(x)), "erf": T.erf, "tanh": T.tanh, "sigmoid": T.sigmoid,
    "relu": T.relu, "leaky_relu": lambda x: T.leaky_relu(x, 0.2), "gelu": T.gelu,
    "gelu_tanh": lambda x: T.gelu(x, "tanh"), "clip": lambda x: T.clip(x, -0.5, None),
    "cast_int8": lambda x: T.cast(T.mul(x, 50.0), "int8"), "cast_bool": lambda x: T.cast(T.relu(x), "bool"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name):
    check(ft.Program({"out": UNARY[name](T.var("x", (3, 17)))}))


BINARY = {"add": T.add, "sub": T.sub, "mul": T.mul, "div": T.div, "maximum": T.maximum, "minimum": T.minimum,
          "pow": lambda a, b: T.pow(T.abs(a), b)}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcast(name):
    a, b = T.var("a", (2, 3, 4)), T.var("b", (3, 1))
    check(ft.Program({"out": BINARY[name](a, b), "swapped": BINARY[name](b, a)}))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64"])
def test_integer_arithmetic(dtype):
    a, b = T.var("a", (4, 9), dtype), T.var("b", (9,), dtype)
    outs = {"add": T.add(a, b), "mul": T.mul(a, b), "div": T.div(a, b), "max": T.maximum(a, b),
            "neg": T.neg(a), "abs": T.abs(a), "f": T.cast(a, "float32"), "clip": T.clip(a, -3, 5),
            "shift": T.right_shift(a, 3), "wide": T.cast(a, "int32")}
    inputs = {"a": rand((4, 9), dtype, 1), "b": rand((9,), dtype, 2)}
    inputs["b"][0] = 0
    check(ft.Program(outs), inputs)


def test_where_and_constants():
    x = T.var("x", (5, 6))
    check(ft.Program({"out": T.where(T.cast(T.relu(x), "bool"), x, T.mul(x, -2.0)), "c": T.const(3.5)}))


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_matmul_batched(dtype):
    a, b = T.var("a", (2, 1, 5, 7), dtype), T.var("b", (3, 7, 4), dtype)
    check(ft.Program({"out": T.matmul(a, b)}), {"a": rand((2, 1, 5, 7), dtype), "b": rand((3, 7, 4), dtype, 1)})


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_dense(dtype):
    x = T.var("x", (3, 2, 19), dtype)
    check(ft.Program({"out": T.dense(x, T.param("w", rand((11, 19), dtype, 3)))}), {"x": rand((3, 2, 19), dtype)})


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("attrs", [dict(), dict(strides=2, pads=1), dict(pads=(0, 1, 2, 1), dilations=2),
                                   dict(groups=3, pads=1), dict(strides=(1, 2), groups=3)])
def test_conv2d(dtype, attrs):
    x = T.var("x", X4, dtype)
    groups = attrs.get("groups", 1)
    w = T.param("w", rand((6, 3 // groups, 3, 2), dtype, 4))
    check(ft.Program({"out": T.conv2d(x, w, **attrs)}), {"x": rand(X4, dtype)})


@pytest.mark.parametrize("epilogue", [(), (("relu",),), (("add",), ("clip", 0.0, 6.0))])
def test_fused_conv2d_and_dense(epilogue):
    x = T.var("x", X4)
    w, b = T.param("w", rand((4, 3, 3, 3), seed=5)), T.param("b", rand((4,), seed=6))
    res = (T.var("r", (2, 4, 6, 5)),) if ("add",) in epilogue else ()
    conv = T.fused_conv2d(x, w, b, *res, pads=(1, 1, 1, 1), epilogue=epilogue)
    xd = T.var("xd", (3, 8))
    dres = (T.var("rd", (3, 5)),) if ("add",) in epilogue else ()
    dense = T.fused_dense(xd, T.param("wd", rand((5, 8), seed=7)), T.param("bd", rand((5,), seed=8)), *dres,
                          epilogue=epilogue)
    check(ft.Program({"conv": conv, "dense": dense}))


def test_int8_requantize_epilogue():
    x = T.var("x", (1, 4, 6, 6), "int8")
    w, b = T.param("w", rand((8, 4, 3, 3), "int8", 1)), T.param("b", rand((8,), "int8", 2).astype("int32"))
    epilogue = (("relu",), ("shift", 6), ("clip", -127, 127), ("cast", "int8"))
    conv = T.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=epilogue)
    xd = T.var("xd", (2, 30), "int8")
    dense = T.fused_dense(xd, T.param("wd", rand((7, 30), "int8", 3)), T.param("bd", rand((7,), "int32", 4)),
                          epilogue=(("shift", 4), ("cast", "int8")))
    check(ft.Program({"conv": conv, "dense": dense}))


@pytest.mark.parametrize("kind", ["max", "avg", "avg_incl", "global"])
def test_pooling(kind):
    x = T.var("x", X4)
    pools = {"max": lambda: T.max_pool2d(x, 3, 2, 1), "avg": lambda: T.avg_pool2d(x, (2, 3), 1, (1, 1, 0, 1)),
             "avg_incl": lambda: T.avg_pool2d(x, 3, 2, 1, count_include_pad=True),
             "global": lambda: T.global_avg_pool(x)}
    check(ft.Program({"out": pools[kind]()}))


@pytest.mark.parametrize("kernel,strides,pads", [(3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (0, 2, 1, 0)), (2, 2, 0),
                                                 (3, 3, 2)])
def test_max_pool_windows(kernel, strides, pads):
    """Edge and interior windows, padding up to kernel - 1 on odd and even sizes."""
    x = T.var("x", (2, 3, 9, 12))
    check(ft.Program({"out": T.max_pool2d(x, kernel, strides, pads)}))


def test_max_pool_propagates_nan_and_int8():
    x, q = T.var("x", (1, 2, 7, 20)), T.var("q", (1, 2, 7, 20), "int8")
    xs = rand((1, 2, 7, 20))
    xs[0, 0, 3, 9] = xs[0, 1, 0, 0] = xs[0, 1, 6, 19] = np.nan
    out = check(ft.Program({"out": T.max_pool2d(x, 3, 2, 1), "q": T.max_pool2d(q, 3, 2, 1)}),
                {"x": xs, "q": rand((1, 2, 7, 20), "int8")}).run(x=xs, q=rand((1, 2, 7, 20), "int8"))["out"]
    assert np.isnan(out).sum() == 4 + 1 + 1


def test_normalizations():
    x = T.var("x", X4)
    c = (3,)
    bn = T.batch_norm(x, T.param("s", rand(c, seed=1)), T.param("b", rand(c, seed=2)), T.param("m", rand(c, seed=3)),
                      T.param("v", rand(c, seed=4) ** 2 + 0.5))
    ln = T.layer_norm(x, T.param("ls", rand((6, 5), seed=5)), T.param("lb", rand((6, 5), seed=6)), axis=2)
    check(ft.Program({"bn": bn, "ln": ln, "sm": T.softmax(x, axis=1), "sm_last": T.softmax(x)}))


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8"])
def test_reductions(dtype):
    x = T.var("x", X4, dtype)
    outs = {"sum": T.reduce_sum(x, (1, 3)), "max": T.reduce_max(x, 2, keepdims=True), "all": T.reduce_sum(x)}
    if dtype == "float32":
        outs["mean"] = T.reduce_mean(x, (0, 2), keepdims=True)
    check(ft.Program(outs), {"x": rand(X4, dtype)})


def test_movement():
    x = T.var("x", X4)
    outs = {"reshape": T.reshape(x, (6, 30)), "transpose": T.transpose(x, (2, 0, 3, 1)),
            "concat": T.concat(x, T.neg(x), axis=2), "slice": T.slice(x, [(None, None, 1), (2, 0, -1),
                                                                          (1, 6, 2), (None, None, -2)]),
            "pad": T.pad(x, [(0, 1), (1, 0), (2, 2), (0, 1)], 0.5),
            "gather": T.gather(x, [[2, 0], [1, -1]], axis=3), "input_out": x}
    check(ft.Program(outs))


def test_nchwc_layout():
    x = T.var("x", (2, 8, 3, 4))
    packed = T.pack_nchwc(x, 4)
    check(ft.Program({"packed": packed, "round": T.unpack_nchwc(T.relu(packed), 4)}))


def test_an_output_that_reshapes_a_step_is_written_by_the_step():
    """No copy step: the relu writes the caller's array of the reshaped output directly."""
    x = T.var("x", (4, 6))
    mod = check(ft.Program({"r": T.reshape(T.relu(x), (24,)), "s": T.reshape(x, (3, 8))}))
    assert [s["name"] for s in mod.steps] == ["k0_relu", "k1_reshape_copy"], mod.steps  # the copy is of x


def test_shared_outputs_and_aliases():
    x = T.var("x", (4, 6))
    y = T.relu(x)
    check(ft.Program({"a": y, "b": y, "r": T.reshape(y, (24,)), "s": T.exp(y)}))


@pytest.mark.parametrize("shape, attrs", [((1, 5, 9, 19), dict(pads=1)),
                                          ((2, 4, 11, 12), dict(strides=2, pads=(1, 0, 2, 1))),
                                          ((1, 7, 8, 8), dict(dilations=(2, 1), pads=2))])
def test_fast_conv_tiles_and_tails(shape, attrs):
    """More output channels than a register tile, partial pixel tiles, strides and dilations."""
    x, r = T.var("x", shape), None
    w, b = T.param("w", rand((20, shape[1], 3, 3), seed=9)), T.param("b", rand((20,), seed=10))
    conv = T.conv2d(x, w, **attrs)
    r = T.var("r", conv.shape)
    fused = T.fused_conv2d(x, w, b, r, epilogue=(("add",), ("relu",)), **{k: T.conv2d(x, w, **attrs).attr(k)
                                                                           for k in ("strides", "pads", "dilations")})
    check(ft.Program({"conv": conv, "fused": fused}), rtol=2e-4, atol=1e-4)


@pytest.mark.parametrize("m, k, n", [(13, 300, 40), (1, 7, 3), (30, 520, 17)])
def test_fast_gemm_blocks_and_tails(m, k, n):
    """Row tails, column tails and several K blocks, for dense (packed weights) and matmul (packed at run time)."""
    x, y = T.var("x", (m, k)), T.var("y", (k, n))
    w, b = T.param("w", rand((n, k), seed=11)), T.param("b", rand((n,), seed=12))
    r = T.var("r", (m, n))
    outs = {"mm": T.matmul(x, y), "dense": T.dense(x, w), "mm_param": T.matmul(x, T.param("wp", rand((k, n), seed=13))),
            "fused": T.fused_dense(x, w, b, r, epilogue=(("add",), ("clip", -1.0, 1.0)))}
    check(ft.Program(outs), rtol=2e-4, atol=1e-4)


def test_a_deep_gemm_stays_within_float32_blocked_summation_error():
    """[64, 4096] x [4096, 64], standard normal: each output sums K blocks of at most
    GEMM_K_BLOCK_MAX steps in float32 chains, so its error against float64 stays near numpy's
    (max 1.4e-4, RMS 2.6e-5 in blocks of 512 over 4 seeds; one block of 4096 made 6.7e-4 and 7.4e-5)."""
    k = 4096
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in ((64, k), (k, 64)))
    got = build(ft.Program({"y": T.matmul(T.var("a", a.shape), T.var("b", b.shape))}), threads=1).run(a=a, b=b)["y"]
    error = got - a.astype(np.float64) @ b.astype(np.float64)
    assert np.abs(error).max() < 2.5e-4 and np.sqrt((error**2).mean()) < 3.2e-5
