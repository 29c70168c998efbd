"""Activation functions: relu, leaky_relu, prelu, sigmoid, gelu, clip, hard_sigmoid, hard_swish (elementwise)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from frittata.terms.dtypes import TensorType, is_int
from frittata.terms.elementwise import binary_op, unary_op
from frittata.terms.infer import fail
from frittata.terms.attr_forms import as_float
from frittata.terms.ops import Attr, Onnx, Op
from frittata.terms.term import Term, build

__all__ = ["relu", "leaky_relu", "prelu", "sigmoid", "gelu", "clip", "hard_sigmoid", "hard_swish"]


def _special(name: str):
    """A scipy.special function, imported on first use (scipy.special takes about a second to
    import, and loading a saved module needs none of the interpreter)."""
    from scipy import special

    return getattr(special, name)


def _expit(x: np.ndarray) -> np.ndarray:
    return _special("expit")(x)


def _approximate(value: Any, first: TensorType | None) -> str:
    if value not in ("none", "tanh"):
        raise fail(Op.GELU, "approximate 'none' or 'tanh'", repr(value))
    return value


def _bound(value: Any, first: TensorType | None) -> int | float | None:
    """A clip bound in the number kind of the operand (int for integer tensors)."""
    if value is None or first is None:
        return value
    return int(value) if is_int(first.dtype) else float(value)


def _check_clip(op: Op, x: TensorType, attrs: dict[str, Any]) -> None:
    lo, hi = attrs["lo"], attrs["hi"]
    if lo is not None and hi is not None and lo > hi:
        raise fail(op, "lo <= hi", (lo, hi))


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _special("erf")(x / np.sqrt(2)))


def _gelu_scalar(p, x, approximate: str):
    """0.5 x (1 + erf(x / sqrt 2)), or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "tanh":
        inner = p.add(x, p.mul(p.const(0.044715, x), p.mul(p.mul(x, x), x)))
        core = p.tanh(p.mul(p.const(math.sqrt(2 / math.pi), x), inner))
    else:
        core = p.erf(p.mul(x, p.const(1 / math.sqrt(2), x)))
    return p.mul(p.mul(p.const(0.5, x), x), p.add(p.const(1.0, x), core))


def _gelu_slope(b, x: Term, approximate: str) -> Term:
    """d gelu / dx: Phi(x) + x phi(x) exactly; for the tanh form 0.5 (1 + t) + 0.5 x (1 - t^2) u'
    with t = tanh(u), u = c (x + 0.044715 x^3), u' = c (1 + 3 * 0.044715 x^2), c = sqrt(2 / pi)."""
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        t = b.tanh(b.mul(b.add(x, b.mul(b.mul(b.mul(x, x), x), 0.044715)), c))
        du = b.mul(b.add(b.mul(b.mul(x, x), 3 * 0.044715), 1), c)
        return b.add(b.mul(b.add(t, 1), 0.5), b.mul(b.mul(x, 0.5), b.mul(b.sub(1, b.mul(t, t)), du)))
    cdf = b.mul(b.add(b.erf(b.mul(x, 1 / math.sqrt(2))), 1), 0.5)
    pdf = b.mul(b.exp(b.mul(b.mul(x, x), -0.5)), 1 / math.sqrt(2 * math.pi))
    return b.add(cdf, b.mul(x, pdf))


def _prelu_vjp(b, x: Term, slope: Term, g: Term) -> tuple[Term, Term]:
    positive = b.greater_equal(x, 0)
    return (b.sum_to(b.where(positive, g, b.mul(g, slope)), x),
            b.sum_to(b.where(positive, 0, b.mul(g, x)), slope))


def _hard_swish_vjp(b, x: Term, g: Term) -> tuple[Term]:
    """x relu6(x + 3) / 6 has slope 0 below -3, 1 above 3 and x / 3 + 1/2 between."""
    inner = b.where(b.greater(x, 3), g, b.mul(g, b.add(b.div(x, 3), 0.5)))
    return (b.where(b.less(x, -3), 0, inner),)


def _import_clip(n) -> Term:
    """Constant bounds become `clip`; computed ones `maximum` / `minimum`. Before opset 11 the
    bounds are the `min` / `max` attributes."""
    x = n.term(0)
    if n.opset < 11:
        return clip(x, n.attr("min"), n.attr("max"))
    bounds = [n.values[i] if n.has(i) else None for i in (1, 2)]
    if all(b is None or isinstance(b, np.ndarray) for b in bounds):
        return clip(x, *(None if b is None else b.item() for b in bounds))
    lo, hi = (n.term(i) if n.has(i) else None for i in (1, 2))
    x = x if lo is None else Term.make(Op.MAXIMUM, (x, lo))
    return x if hi is None else Term.make(Op.MINIMUM, (x, hi))


def _export_clip(g, node: Term, args: list[str], out: str | None) -> str:
    bounds = [("" if v is None else g.constant(v, node.dtype)) for v in (node.attr("lo"), node.attr("hi"))]
    return g.node("Clip", args + bounds, out)


RELU = unary_op("relu", lambda x: np.maximum(x, np.zeros((), x.dtype)), lambda p, x: p.clip(x, 0, None),
                onnx=Onnx("Relu"), vjp=lambda b, n, g: (b.where(b.greater(n.args[0], 0), g, 0),))
LEAKY_RELU = unary_op(
    "leaky_relu", lambda x, alpha: np.where(x >= 0, x, x * np.float32(alpha)),
    lambda p, x, alpha: p.select(p.ge(x, p.const(0.0, x)), x, p.mul(x, p.const(alpha, x))),
    float_only=True, attrs=(Attr("alpha", float, 0.01, as_float, lambda x: [0.1, 0.2]),),
    onnx=Onnx("LeakyRelu", {"alpha": "alpha"}),
    vjp=lambda b, n, g: (b.where(b.greater_equal(n.args[0], 0), g, b.mul(g, n.attr("alpha"))),))
PRELU = binary_op("prelu", lambda x, slope: np.where(x >= 0, x, x * slope),
                  lambda p, x, slope: p.select(p.ge(x, p.const(0.0, x)), x, p.mul(x, slope)),
                  float_only=True, onnx=Onnx("PRelu"), vjp=lambda b, n, g: _prelu_vjp(b, n.args[0], n.args[1], g))
SIGMOID = unary_op("sigmoid", _expit,
                   lambda p, x: p.div(p.const(1.0, x), p.add(p.const(1.0, x), p.exp(p.neg(x)))),
                   float_only=True, transcendental=True, onnx=Onnx("Sigmoid"),
                   vjp=lambda b, n, g: (b.mul(g, b.mul(n, b.sub(1, n))),))
GELU = unary_op("gelu", _gelu, _gelu_scalar, float_only=True, transcendental=True,
                attrs=(Attr("approximate", str, "none", _approximate,
                            lambda x: ["none", "tanh"]),),
                onnx=Onnx("Gelu", {"approximate": "approximate"}),
                vjp=lambda b, n, g: (b.mul(g, _gelu_slope(b, n.args[0], n.attr("approximate"))),))
CLIP = unary_op("clip", lambda x, lo, hi: np.clip(x, lo, hi), lambda p, x, lo, hi: p.clip(x, lo, hi),
                attrs=(Attr("lo", (int, float, type(None)), None, _bound,
                            lambda x: [None, -1, 0]),
                       Attr("hi", (int, float, type(None)), None, _bound,
                            lambda x: [None, 1, 6])),
                check=_check_clip, onnx_import={"Clip": _import_clip}, onnx_export=_export_clip,
                vjp=lambda b, n, g: (b.where(b.equal(n, n.args[0]), g, 0),))


def _hard_sigmoid(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return np.clip(x * np.float32(alpha) + np.float32(beta), 0, 1)


def _hard_sigmoid_scalar(p, x, alpha: float, beta: float):
    return p.clip(p.add(p.mul(x, p.const(alpha, x)), p.const(beta, x)), 0.0, 1.0)


HARD_SIGMOID = unary_op(
    "hard_sigmoid", _hard_sigmoid, _hard_sigmoid_scalar, float_only=True,
    attrs=(Attr("alpha", float, 0.2, as_float, lambda x: [0.2, 1 / 6]),
           Attr("beta", float, 0.5, as_float, lambda x: [0.5])),
    onnx=Onnx("HardSigmoid", {"alpha": "alpha", "beta": "beta"}),
    vjp=lambda b, n, g: (b.where(b.logical_and(b.greater(n, 0), b.less(n, 1)), b.mul(g, n.attr("alpha")), 0),))
HARD_SWISH_ALPHA, HARD_SWISH_BETA = 1 / 6, 0.5
"""The hard sigmoid inside a hard swish (ONNX HardSwish's fixed alpha and beta)."""
HARD_SWISH = unary_op("hard_swish", lambda x: x * _hard_sigmoid(x, HARD_SWISH_ALPHA, HARD_SWISH_BETA),
                      lambda p, x: p.mul(x, _hard_sigmoid_scalar(p, x, HARD_SWISH_ALPHA, HARD_SWISH_BETA)),
                      float_only=True, onnx=Onnx("HardSwish"), vjp=lambda b, n, g: _hard_swish_vjp(b, n.args[0], g))


def relu(x: Term) -> Term:
    return Term.make(RELU, (x,))


def leaky_relu(x: Term, alpha: float = 0.01) -> Term:
    """x if x >= 0 else alpha * x."""
    return build(LEAKY_RELU, (x,), alpha=alpha)


def prelu(x: Term, slope: Term) -> Term:
    """x if x >= 0 else slope x; slope broadcasts against x (ONNX PRelu, per-channel slopes)."""
    return Term.make(PRELU, (x, slope))


def sigmoid(x: Term) -> Term:
    return Term.make(SIGMOID, (x,))


def gelu(x: Term, approximate: str = "none") -> Term:
    """0.5 x (1 + erf(x / sqrt 2)); with approximate="tanh" the tanh formula."""
    return build(GELU, (x,), approximate=approximate)


def clip(x: Term, lo: float | int | None = None, hi: float | int | None = None) -> Term:
    """min(max(x, lo), hi); a bound of None is absent. Bounds take the dtype of x."""
    return build(CLIP, (x,), lo=lo, hi=hi)


def hard_sigmoid(x: Term, alpha: float = 0.2, beta: float = 0.5) -> Term:
    """max(0, min(1, alpha x + beta)) (ONNX HardSigmoid)."""
    return build(HARD_SIGMOID, (x,), alpha=alpha, beta=beta)


def hard_swish(x: Term) -> Term:
    """x hard_sigmoid(x) with alpha = 1/6, beta = 1/2: x relu6(x + 3) / 6 (ONNX HardSwish, MobileNetV3)."""
    return Term.make(HARD_SWISH, (x,))
