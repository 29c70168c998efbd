"""Smooth activation functions: elu, selu, celu, softplus, softsign, mish (elementwise, floats)."""

from __future__ import annotations

import numpy as np

from frittata.terms.attr_forms import as_float
from frittata.terms.elementwise import unary_op
from frittata.terms.ops import Attr, Onnx
from frittata.terms.term import Term, build

__all__ = ["elu", "selu", "celu", "softplus", "softsign", "mish"]

SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875
"""ONNX Selu's defaults (float32 values of the constants of Klambauer et al. 2017)."""


def _expm1_scalar(p, x):
    return p.sub(p.exp(x), p.const(1.0, x))


def _elu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x >= 0, x, np.float32(alpha) * (np.exp(x) - 1))


def _elu_scalar(p, x, alpha: float):
    return p.select(p.ge(x, p.const(0.0, x)), x, p.mul(p.const(alpha, x), _expm1_scalar(p, x)))


def _selu(x: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    return np.float32(gamma) * np.where(x > 0, x, np.float32(alpha) * (np.exp(x) - 1))


def _selu_scalar(p, x, alpha: float, gamma: float):
    negative = p.mul(p.const(alpha, x), _expm1_scalar(p, x))
    return p.mul(p.const(gamma, x), p.select(p.compare(">", x, p.const(0.0, x)), x, negative))


def _celu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.maximum(x, 0) + np.minimum(0, np.float32(alpha) * (np.exp(x / np.float32(alpha)) - 1))


def _celu_scalar(p, x, alpha: float):
    a = p.const(alpha, x)
    inner = p.mul(a, _expm1_scalar(p, p.div(x, a)))
    return p.add(p.maximum(x, p.const(0.0, x)), p.minimum(p.const(0.0, x), inner))


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) as max(x, 0) + log(1 + exp(-|x|)), which does not overflow."""
    return np.maximum(x, 0) + np.log(1 + np.exp(-np.abs(x)))


def _softplus_scalar(p, x):
    tail = p.log(p.add(p.const(1.0, x), p.exp(p.neg(p.abs(x)))))
    return p.add(p.maximum(x, p.const(0.0, x)), tail)


def _mish_vjp(b, x: Term, g: Term) -> tuple[Term]:
    """d/dx x tanh(softplus(x)) = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""
    t = b.tanh(b.softplus(x))
    return (b.mul(g, b.add(t, b.mul(b.mul(x, b.sigmoid(x)), b.sub(1, b.mul(t, t))))),)


ALPHA = Attr("alpha", float, 1.0, as_float, lambda x: [1.0, 0.5])
ELU = unary_op("elu", _elu, _elu_scalar, float_only=True, transcendental=True, attrs=(ALPHA,),
               onnx=Onnx("Elu", {"alpha": "alpha"}),
               vjp=lambda b, n, g: (b.where(b.greater_equal(n.args[0], 0), g, b.mul(g, b.add(n, n.attr("alpha")))),))
SELU = unary_op("selu", _selu, _selu_scalar, float_only=True, transcendental=True,
                attrs=(Attr("alpha", float, SELU_ALPHA, as_float, lambda x: [SELU_ALPHA, 2.0]),
                       Attr("gamma", float, SELU_GAMMA, as_float, lambda x: [SELU_GAMMA, 3.0])),
                onnx=Onnx("Selu", {"alpha": "alpha", "gamma": "gamma"}),
                vjp=lambda b, n, g: (b.mul(g, b.where(b.greater(n.args[0], 0), n.attr("gamma"),
                                                      b.add(n, n.attr("alpha") * n.attr("gamma")))),))
CELU = unary_op("celu", _celu, _celu_scalar, float_only=True, transcendental=True, attrs=(ALPHA,),
                onnx=Onnx("Celu", {"alpha": "alpha"}),
                vjp=lambda b, n, g: (b.mul(g, b.minimum(b.exp(b.div(n.args[0], n.attr("alpha"))), 1)),))
SOFTPLUS = unary_op("softplus", _softplus, _softplus_scalar, float_only=True, transcendental=True,
                    onnx=Onnx("Softplus"), vjp=lambda b, n, g: (b.mul(g, b.sigmoid(n.args[0])),))
SOFTSIGN = unary_op("softsign", lambda x: x / (1 + np.abs(x)),
                    lambda p, x: p.div(x, p.add(p.const(1.0, x), p.abs(x))), float_only=True,
                    onnx=Onnx("Softsign"),
                    vjp=lambda b, n, g: (b.div(g, b.pow(b.add(b.abs(n.args[0]), 1), 2)),))
MISH = unary_op("mish", lambda x: x * np.tanh(_softplus(x)), lambda p, x: p.mul(x, p.tanh(_softplus_scalar(p, x))),
                float_only=True, transcendental=True, onnx=Onnx("Mish"), vjp=lambda b, n, g: _mish_vjp(b, n.args[0], g))


def elu(x: Term, alpha: float = 1.0) -> Term:
    """x if x >= 0 else alpha (exp(x) - 1)."""
    return build(ELU, (x,), alpha=alpha)


def selu(x: Term, alpha: float = SELU_ALPHA, gamma: float = SELU_GAMMA) -> Term:
    """gamma (x if x > 0 else alpha (exp(x) - 1))."""
    return build(SELU, (x,), alpha=alpha, gamma=gamma)


def celu(x: Term, alpha: float = 1.0) -> Term:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    return build(CELU, (x,), alpha=alpha)


def softplus(x: Term) -> Term:
    """log(1 + exp(x))."""
    return Term.make(SOFTPLUS, (x,))


def softsign(x: Term) -> Term:
    """x / (1 + |x|)."""
    return Term.make(SOFTSIGN, (x,))


def mish(x: Term) -> Term:
    """x tanh(softplus(x))."""
    return Term.make(MISH, (x,))
