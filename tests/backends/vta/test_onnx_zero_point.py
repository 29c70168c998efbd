"""uint8 activations (onnxruntime's default quantization, zero point 0 included) and int8
ones with non-zero zero points run their contraction on VTA: `quant_vta.rules` recentres x - zx onto int8 plus a folded
correction. Compiled for vta, the models match onnxruntime bit for bit.

onnxruntime's u8 x s8 kernels sum pairs of products in int16 with saturation on AVX2 / AVX-512
CPUs, so the weights here stay in [-64, 64): then |pair| <= 2 * 255 * 64 < 2^15 and onnxruntime
is exact. The rules themselves are also checked exactly on uint8 instances here, at shapes and
zero points of our choosing (`frittata rules check` draws int8 and uint8 instances at random).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper

import frittata as ft
from frittata.rewrites.library import library_rules
from frittata.rewrites.matching import match
from frittata.rewrites.rule_format import PVar
from frittata.terms import builders as tb
from frittata.terms.term import Term
from tests.backends.vta.onnx_models import check_on_vta, one_node_model

def _activations(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


def _weights(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-64, 64, shape).astype(np.int8)


def _scalar(value, dtype=np.float32) -> np.ndarray:
    return np.array(value, dtype=dtype)


def _qlinear(op: str, x_dtype, x_zp: int, w: np.ndarray, w_scale: np.ndarray, extra: dict, **attrs):
    names = ["x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp"] + list(extra)
    consts = {"x_scale": _scalar(0.02), "x_zp": _scalar(x_zp, x_dtype), "w": w, "w_scale": w_scale,
              "w_zp": np.zeros(w_scale.shape, np.int8), "y_scale": _scalar(2.5), "y_zp": _scalar(x_zp // 2, x_dtype),
              **extra}
    return helper.make_node(op, names, ["y"], **attrs), consts


@pytest.mark.parametrize("x_dtype,x_zp", [(np.uint8, 131), (np.uint8, 128), (np.uint8, 0), (np.int8, -5)])
def test_qlinear_matmul_with_zero_points_runs_on_vta(x_dtype, x_zp, rng):
    node, consts = _qlinear("QLinearMatMul", x_dtype, x_zp, _weights(rng, (256, 256)), _scalar(0.01), {})
    model = one_node_model(node, {"x": ((64, 256), x_dtype)}, ((64, 256), x_dtype), consts)
    split = check_on_vta(model, _activations(rng, (64, 256), x_dtype))
    assert split["vta"] == ["vta_dense"] and "matmul" not in split["cpu"]


def test_matmul_integer_uint8_zero_point_runs_on_vta(rng):
    node = helper.make_node("MatMulInteger", ["x", "w", "x_zp"], ["y"])
    model = one_node_model(node, {"x": ((64, 256), np.uint8)}, ((64, 256), np.int32),
                   {"w": _weights(rng, (256, 256)), "x_zp": _scalar(7, np.uint8)})
    split = check_on_vta(model, _activations(rng, (64, 256), np.uint8))
    assert split["vta"] == ["vta_dense"] and "matmul" not in split["cpu"]


@pytest.mark.parametrize("pads", [[1, 1, 1, 1], [0, 0, 0, 0]])
def test_conv_integer_uint8_zero_point_runs_on_vta(pads, rng):
    node = helper.make_node("ConvInteger", ["x", "w", "x_zp"], ["y"], pads=pads)
    out = 14 if pads[0] else 12
    model = one_node_model(node, {"x": ((1, 64, 14, 14), np.uint8)}, ((1, 64, out, out), np.int32),
                   {"w": _weights(rng, (64, 64, 3, 3)), "x_zp": _scalar(120, np.uint8)})
    assert check_on_vta(model, _activations(rng, (1, 64, 14, 14), np.uint8))["vta"] == ["vta_conv2d"]


@pytest.mark.parametrize("x_zp", [0, 97, 255])
def test_qlinear_conv_uint8_per_channel_scales_runs_on_vta(x_zp, rng):
    scales = rng.uniform(0.005, 0.02, 64).astype(np.float32)
    bias = {"b": rng.integers(-5000, 5000, 64).astype(np.int32)}
    node, consts = _qlinear("QLinearConv", np.uint8, x_zp, _weights(rng, (64, 64, 3, 3)), scales, bias,
                            pads=[1, 1, 1, 1])
    model = one_node_model(node, {"x": ((1, 64, 14, 14), np.uint8)}, ((1, 64, 14, 14), np.uint8), consts)
    assert check_on_vta(model, _activations(rng, (1, 64, 14, 14), np.uint8))["vta"] == ["vta_conv2d"]


# the rules on uint8 instances (k = 128) at chosen shapes and zero points

RULES = {r.name: r for r in library_rules() if r.family == "quant_vta"}


def _apply(rule, lhs: Term) -> Term | None:
    """The right side of `rule` at `lhs` (matched at its root), or None if it does not fire."""
    terms: dict[str, Term] = {}

    def walk(pattern, term: Term) -> None:
        if isinstance(pattern, PVar):
            terms[pattern.name] = term
            return
        for p, t in zip(pattern.args, term.args):
            walk(p, t)
        nodes.append(term.attrs)

    nodes: list[tuple] = []
    walk(rule.lhs, lhs)
    types = {n: t.type for n, t in terms.items()} | {"$root": lhs.type}
    found = match(rule, nodes, types)
    return None if found is None else _build(rule.rhs, terms, iter(found))


def _build(pattern, terms: dict[str, Term], attrs) -> Term:
    if isinstance(pattern, PVar):
        return terms[pattern.name]
    kids = tuple(_build(a, terms, attrs) for a in pattern.args)
    return Term.make(pattern.op, kids, next(attrs))


def _centered(x: Term, zp: int) -> Term:
    return tb.sub(tb.cast(x, "int32"), tb.const(zp, "int32"))


@given(data=st.data(), zp=st.integers(0, 255), padded=st.booleans(),
       stride=st.sampled_from([1, 2]), c=st.sampled_from([1, 3, 8]), o=st.sampled_from([1, 4]))
def test_conv_rules_exact_on_uint8(data, zp, padded, stride, c, o):
    pads = (1, 0, 2, 1) if padded else (0, 0, 0, 0)
    rule = RULES["tensorize-vta-zero-point-conv2d" + ("-padded" if padded else "")]
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = tb.var("x", (2, c, 5, 6), "uint8")
    w = tb.param("w", rng.integers(-128, 128, (o, c, 3, 3)).astype(np.int8))
    lhs = tb.conv2d(_centered(x, zp), w, strides=(stride, stride), pads=pads)
    rhs = _apply(rule, lhs)
    assert rhs is not None, rule.name
    inputs = {"x": rng.integers(0, 256, (2, c, 5, 6)).astype(np.uint8)}
    np.testing.assert_array_equal(ft.evaluate(rhs, inputs), ft.evaluate(lhs, inputs))


@pytest.mark.parametrize("op", ["matmul", "dense"])
@pytest.mark.parametrize("zp", [0, 77, 255])
def test_contraction_rules_exact_on_uint8(op, zp, rng):
    x = tb.var("x", (3, 16), "uint8")
    w = tb.param("w", rng.integers(-128, 128, (16, 5) if op == "matmul" else (5, 16)).astype(np.int8))
    lhs = getattr(tb, op)(_centered(x, zp), w)
    rhs = _apply(RULES[f"tensorize-vta-zero-point-{op}"], lhs)
    inputs = {"x": _activations(rng, (3, 16), np.uint8)}
    np.testing.assert_array_equal(ft.evaluate(rhs, inputs), ft.evaluate(lhs, inputs))
