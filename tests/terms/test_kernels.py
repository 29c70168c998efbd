"""Fused kernels and blocked layouts: their meaning against numpy, and the checks of their operands."""

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T


def run(term: T.Term, inputs: dict[str, np.ndarray]) -> np.ndarray:
    return ft.evaluate(T.Program({"y": term}), inputs)["y"]


def test_an_int8_dense_epilogue_shifts_with_rounding_clips_and_truncates():
    rng = np.random.default_rng(0)
    x, w = rng.integers(-128, 128, (3, 40)).astype(np.int8), rng.integers(-128, 128, (5, 40)).astype(np.int8)
    b = rng.integers(-1000, 1000, 5).astype(np.int32)
    r = rng.integers(-5000, 5000, (3, 5)).astype(np.int32)
    term = T.fused_dense(T.var("x", x.shape, "int8"), T.param("w", w), T.param("b", b), T.var("r", r.shape, "int32"),
                         epilogue=[("add",), ("shift", 4), ("relu",), ("clip", -10, 100), ("cast", "int8")])
    acc = x.astype(np.int64) @ w.T.astype(np.int64) + b + r
    expected = np.clip((acc + 8) >> 4, 0, 100).astype(np.int8)  # shift rounds half up; relu then clip
    got = run(term, {"x": x, "r": r})
    assert got.dtype == np.int8 and np.array_equal(got, expected)


def test_a_float_conv_epilogue_adds_a_bias_per_output_channel():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((1, 2, 5, 5), (3, 2, 1, 1), (3,)))
    term = T.fused_conv2d(T.var("x", x.shape), T.param("w", w), T.param("b", b), strides=2,
                          epilogue=[("relu",)])
    conv = np.einsum("nchw,oc->nohw", x[:, :, ::2, ::2], w[:, :, 0, 0])
    np.testing.assert_allclose(run(term, {"x": x}), np.maximum(conv + b[None, :, None, None], 0), rtol=1e-5, atol=1e-6)


def test_pack_and_unpack_nchwc_move_channel_blocks_last():
    x = np.arange(2 * 6 * 2 * 3, dtype=np.float32).reshape(2, 6, 2, 3)
    packed = run(T.pack_nchwc(T.var("x", x.shape), 3), {"x": x})
    assert np.array_equal(packed, x.reshape(2, 2, 3, 2, 3).transpose(0, 1, 3, 4, 2))
    unpacked = run(T.unpack_nchwc(T.var("p", packed.shape), 3), {"p": packed})
    assert np.array_equal(unpacked, x)


X8, W8 = T.var("x", (3, 4), "int8"), T.param("w", np.ones((5, 4), np.int8))
B32 = T.param("b", np.zeros(5, np.int32))
XF, WF, BF = T.var("x", (3, 4)), T.param("w", np.ones((5, 4), np.float32)), T.param("b", np.zeros(5, np.float32))


@pytest.mark.parametrize("build, message", [
    (lambda: T.fused_dense(X8, W8, T.param("b", np.zeros(4, np.int32))),
     r"fused_dense: expected bias int32\[5\], got int32\[4\]"),
    (lambda: T.fused_dense(X8, W8, T.param("b", np.zeros(5, np.int8))),
     r"fused_dense: expected bias int32\[5\], got int8\[5\]"),
    (lambda: T.fused_dense(X8, W8, B32, epilogue=[("add",)]),
     r"fused_dense: expected 1 residual operand\(s\) for epilogue \(\('add',\),\), got 0"),
    (lambda: T.fused_dense(X8, W8, B32, T.var("r", (3, 5), "int32")),
     r"fused_dense: expected 0 residual operand\(s\) for epilogue \(\), got 1"),
    (lambda: T.fused_dense(X8, W8, B32, T.var("r", (3, 5), "int8"), epilogue=[("add",)]),
     r"fused_dense: expected residual int32\[3, 5\], got int8\[3, 5\]"),
    (lambda: T.fused_dense(XF, WF, BF, epilogue=[("shift", 2)]),
     "fused_dense: expected an integer accumulator before a shift step, got float32"),
    (lambda: T.fused_dense(X8, W8, B32, epilogue=[("sigmoid",)]),
     "fused_dense: expected a float accumulator before a sigmoid step, got int32"),
    (lambda: T.fused_dense(XF, WF, BF, epilogue=[("cast", "int32"), ("silu",)]),
     "fused_dense: expected a float accumulator before a silu step, got int32"),
    (lambda: T.fused_dense(XF, WF, BF, epilogue=[("shift", 32)]),
     r"epilogue: expected add, relu, .* got \('shift', 32\)"),
    (lambda: T.fused_dense(XF, WF, BF, epilogue=[("clip", 1)]), r"epilogue: expected .*clip lo hi.* got \('clip', 1\)"),
    (lambda: T.fused_dense(XF, WF, BF, epilogue=[("cast", "complex64")]), "epilogue cast: expected a dtype in"),
    (lambda: T.unpack_nchwc(T.var("p", (1, 2, 3, 3, 4)), 8), r"unpack_nchwc: expected an NCHWc tensor with c = 8"),
    (lambda: T.unpack_nchwc(T.var("p", (1, 2, 3, 4)), 4), r"unpack_nchwc: expected an NCHWc tensor with c = 4"),
    (lambda: T.pack_nchwc(T.var("p", (1, 8, 3)), 4), "pack_nchwc: expected an NCHW tensor whose channels divide by 4"),
])
def test_a_bad_kernel_says_what_it_expected_and_got(build, message):
    with pytest.raises(ft.FrittataTypeError, match=message):
        build()


def test_a_shift_step_after_a_cast_to_an_integer_type_is_allowed():
    assert T.fused_dense(XF, WF, BF, epilogue=[("cast", "int32"), ("shift", 1)]).dtype == "int32"
