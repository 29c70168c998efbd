"""Sigmoid, SiLU and hard-swish epilogue steps: fused into convolutions and dense layers by the
rules from the forms exporters write, and computed in registers by every float kernel (GEMM,
blocked and Winograd convolution, depthwise) and by the generic loops, equal to the interpreter
on the 8- and 16-lane variants."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper, numpy_helper

import frittata as ft
from frittata.backends.llvm import build, vmath
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling

ACTIVATIONS = ("sigmoid", "silu", "hard_swish")


@st.composite
def contractions(draw):
    """A fused dense or convolution (1x1, 3x3 Winograd-shaped, depthwise, or grouped, which only
    the generic loops run) whose epilogue holds an activation step, maybe after a residual add."""
    kind = draw(st.sampled_from(["dense", "conv1x1", "conv3x3", "depthwise", "grouped"]))
    steps = ((("add",),) if draw(st.booleans()) else ()) + ((draw(st.sampled_from(ACTIVATIONS)),),)
    scale = draw(st.sampled_from([0.3, 3.0]))
    if kind == "dense":
        rows, depth, width = draw(st.integers(1, 9)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
        x, w = tb.var("x", (rows, depth)), tb.param("w", rand((width, depth), seed=1, scale=scale))
        out_shape, bias = (rows, width), tb.param("b", rand((width,), seed=2))
        residual = (tb.var("r", out_shape),) if ("add",) in steps else ()
        return tb.fused_dense(x, w, bias, *residual, epilogue=steps)
    channels = draw(st.sampled_from([4, 8, 16]))
    size = draw(st.integers(4, 10))
    x = tb.var("x", (1, channels, size, size))
    k, groups, out = {"conv1x1": (1, 1, 2 * channels), "conv3x3": (3, 1, channels),
                      "depthwise": (3, channels, channels), "grouped": (3, 2, channels)}[kind]
    w = tb.param("w", rand((out, channels // groups, k, k), seed=1, scale=scale / k))
    pads = (k // 2,) * 4
    bias = tb.param("b", rand((out,), seed=2))
    out_shape = (1, out, size, size)
    residual = (tb.var("r", out_shape),) if ("add",) in steps else ()
    return tb.fused_conv2d(x, w, bias, *residual, pads=pads, groups=groups, epilogue=steps)


@compiling
@given(term=contractions(), isa=st.sampled_from(["avx2", "avx512"]), threads=st.sampled_from([1, 2]))
def test_activation_epilogues_equal_the_interpreter(term, isa, threads):
    check_on(ft.Program({"y": term}), targets()[isa], threads)


EDGES = np.array([np.inf, -np.inf, np.nan, 0.0, 1.0, -17.0, 17.0, 87.5, -87.5, 88.0, -88.0, 88.5, -88.5, -103.0,
                  3e38, -3e38], np.float32)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_sigmoid_and_silu_registers_are_within_a_few_ulp_and_saturate(isa):
    """The vector sigmoid (an estimated reciprocal on AVX2 and AVX-512) in a depthwise kernel
    that passes its input on (a 3x3 identity), over 16 channels of 130 rows of 32: rows 0-127 a
    sweep of [-100, 100], row 129 the edge cases at even columns (a NaN or infinity times a zero
    tap spoils its neighbours, so row 128 and the odd columns are zeros, not compared)."""
    x = np.zeros((1, 16, 130, 32), np.float32)
    x[0, :, :128] = np.linspace(-100, 100, 16 * 128 * 32, dtype=np.float32).reshape(16, 128, 32)
    x[0, :, 129, 0::2] = EDGES
    compared = np.ones(x.shape, bool)
    compared[0, :, 128] = compared[0, :, 129, 1::2] = False
    _check_sigmoid_and_silu(x, compared, isa)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_sigmoid_and_silu_registers_hold_at_every_float32_exponent(isa):
    """As above over every finite float32 exponent (subnormals included), 64 mantissas spread
    over each binade, both signs: 16 channels of 64 rows of 32."""
    mantissas = np.arange(64, dtype=np.uint32) * (1 << 17) + 12345
    bits = (np.arange(255, dtype=np.uint32)[:, None] << 23 | mantissas).ravel()
    values = np.concatenate([bits.view(np.float32), -bits.view(np.float32)])
    x = np.zeros((1, 16, 64, 32), np.float32)
    x.ravel()[:values.size] = values
    _check_sigmoid_and_silu(x, np.ones(x.shape, bool), isa)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize("kind", ["depthwise", "pointwise"])
def test_relu_and_clip_keep_nan_and_clamp_infinities(kind, isa):
    """ReLU and ReLU6 in registers (a 1x1 depthwise identity; a pointwise convolution copying one
    channel to 16 on the direct kernel): NaN stays NaN, infinities clamp, values in range pass,
    as np.clip."""
    row = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 3.0, 6.0, 6.5, -2.0, 1e30, -1e30, 5.99,
                    1e-30, -1e-30, 0.5, 7.0], np.float32)
    channels = 16 if kind == "depthwise" else 1
    x = np.zeros((1, channels, 4, 32), np.float32)
    x[0, :, 1, :16] = row
    w = np.ones((16, 1, 1, 1), np.float32)
    for epilogue, lo, hi in (((("relu",),), 0.0, None), ((("clip", 0.0, 6.0),), 0.0, 6.0)):
        term = tb.fused_conv2d(tb.var("x", x.shape), tb.param("w", w), tb.param("b", np.zeros(16, np.float32)),
                               groups=channels if kind == "depthwise" else 1, epilogue=epilogue)
        module = build(ft.Program({"y": term}), threads=1, target=targets()[isa])
        assert module.report["backend"]["fast_paths"] == [term.op.value]
        got, want = module.run(x=x)["y"], np.clip(np.broadcast_to(x, (1, 16, 4, 32)), lo, hi)
        np.testing.assert_array_equal(got, want, err_msg=str(epilogue))


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize("kind", ["depthwise", "pointwise"])
def test_relu_and_a_lower_clip_alone_give_positive_zero(kind, isa):
    """A fused ReLU, or clip with only a lower bound of 0, of a -0.0 (-1e-30 times 1e-30 plus a
    bias of -0.0) gives +0.0, as np.maximum(x, 0) in the interpreter and the unfused scalar
    loops; with both bounds np.clip keeps the -0.0 (checked against the interpreter)."""
    channels = 16 if kind == "depthwise" else 1
    x = np.full((1, channels, 2, 8), -1e-30, np.float32)
    w = np.full((16, 1, 1, 1), 1e-30, np.float32)
    for epilogue in ((("relu",),), (("clip", 0.0, None),)):
        term = tb.fused_conv2d(tb.var("x", x.shape), tb.param("w", w), tb.param("b", np.full(16, -0.0, np.float32)),
                               groups=channels, epilogue=epilogue)
        program = ft.Program({"y": term})
        module = build(program, threads=1, target=targets()[isa])
        assert module.report["backend"]["fast_paths"] == [term.op.value]
        got, want = module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"]
        np.testing.assert_array_equal(got, 0.0, err_msg=str(epilogue))
        assert not np.signbit(want).any() and not np.signbit(got).any(), epilogue


def _check_sigmoid_and_silu(x: np.ndarray, compared: np.ndarray, isa: str) -> None:
    """Sigmoid and SiLU of `x` (1 x 16 channels) within 4 ulp of float64, or 1e-35 (a reciprocal
    estimate flushes a result below 2^-126 to 0); 0 below x = -88 (SiLU of a huge negative
    number is 0, not huge times tiny); infinities saturate (SiLU of -inf is -inf times 0, NaN)
    and NaN stays NaN."""
    for step in ("sigmoid", "silu"):
        w = np.zeros((16, 1, 3, 3), np.float32)
        w[:, 0, 1, 1] = 1.0
        term = tb.fused_conv2d(tb.var("x", x.shape), tb.param("w", w), tb.param("b", np.zeros(16, np.float32)),
                               pads=(1,) * 4, groups=16, epilogue=((step,),))
        module = build(ft.Program({"y": term}), threads=1, target=targets()[isa])
        assert module.report["backend"]["fast_paths"] == [term.op.value]
        got = module.run(x=x)["y"][compared]
        x64 = x[compared].astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            gate = np.where(x64 < -88, 0.0, 1 / (1 + np.exp(-x64)))
            want = gate * x64 if step == "silu" else gate
        assert np.array_equal(np.isnan(got), np.isnan(want)), step
        finite = np.isfinite(want)
        assert np.array_equal(got[~finite], want[~finite], equal_nan=True), step
        allowed = np.maximum(4 * np.spacing(np.abs(want[finite]).astype(np.float32)), 1e-35)
        assert np.all(np.abs(got[finite] - want[finite]) <= allowed), step


def test_the_sigmoid_polynomial_is_a_minimax_fit_of_e_to_the_r():
    """vmath's degree-6 coefficients approximate e^r within 4e-9 (relative, exact arithmetic) on
    |r| <= ln2 / 2, and Lawson's iteration (weighted least squares, each point's weight
    multiplied by its error) on the relative error with 1 + r fixed finds them again."""
    r = np.linspace(-np.log(2) / 2, np.log(2) / 2, 20001)
    powers = np.stack([r**k for k in range(2, 7)], 1) / np.exp(r)[:, None]
    target = (np.exp(r) - 1 - r) / np.exp(r)
    stored = np.array(vmath.SIGMOID_EXP_P, np.float64)
    assert np.max(np.abs(powers @ stored - target)) < 4e-9
    weights = np.full(r.size, 1 / r.size)
    for _ in range(300):
        root = np.sqrt(weights)
        fitted = np.linalg.lstsq(powers * root[:, None], target * root, rcond=None)[0]
        weights *= np.abs(powers @ fitted - target)
        weights /= weights.sum()
    np.testing.assert_allclose(fitted.astype(np.float32), stored, rtol=1e-6)


def test_activation_steps_take_the_fast_paths():
    """Depthwise, blocked 1x1 and dense kernels keep their fast path with an activation step."""
    x = tb.var("x", (1, 16, 12, 12))
    depthwise = tb.fused_conv2d(x, tb.param("w", rand((16, 1, 3, 3))), tb.param("b", rand((16,))), pads=(1,) * 4,
                                groups=16, epilogue=(("silu",),))
    pointwise = tb.fused_conv2d(x, tb.param("v", rand((32, 16, 1, 1))), tb.param("c", rand((32,))),
                                epilogue=(("hard_swish",),))
    dense = tb.fused_dense(tb.var("d", (4, 64)), tb.param("u", rand((48, 64))), tb.param("e", rand((48,))),
                           epilogue=(("sigmoid",),))
    for term in (depthwise, pointwise, dense):
        module = check_on(ft.Program({"y": term}), targets()["avx2"], threads=1)
        assert module.report["backend"]["fast_paths"] == [term.op.value], term.op


def test_an_integer_accumulator_refuses_an_activation_step():
    x, w = tb.var("q", (1, 4, 5, 5), "int8"), tb.param("wq", rand((8, 4, 3, 3), "int8"))
    with pytest.raises(ft.FrittataTypeError, match="expected a float accumulator before a silu step"):
        tb.fused_conv2d(x, w, tb.param("bq", np.zeros(8, np.int32)), epilogue=(("silu",),))


def _conv_model(activation: str) -> onnx.ModelProto:
    """Conv with a bias, then SiLU as torch exports it (Sigmoid, Mul) or HardSwish."""
    w = numpy_helper.from_array(rand((8, 4, 1, 1), seed=3), "w")
    b = numpy_helper.from_array(rand((8,), seed=4), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"])]
    if activation == "silu":
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    else:
        nodes.append(helper.make_node("HardSwish", ["c"], ["y"]))
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 9, 9])]
    outputs = [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "block", inputs, outputs, initializer=[w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("activation", ["silu", "hard_swish"])
def test_an_exported_conv_with_its_activation_compiles_to_one_kernel(activation):
    import onnxruntime as ort

    model = _conv_model(activation)
    module = ft.compile(ft.from_onnx(model), threads=1)
    (out,) = module.program.outputs.values()
    assert out.op.value in ("fused_conv2d", "tiled_conv2d") and out.attr("epilogue") == ((activation,),)
    x = rand((1, 4, 9, 9), seed=5)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(module.run(x=x)["y"], want, rtol=1e-5, atol=1e-5)
