"""Unary math operators: neg, abs, exp, log, sqrt, erf, tanh, round, floor, ceil, reciprocal, sign.

round, floor, ceil and sign are piecewise constant and have no VJP: a gradient through them is
refused rather than silently zero."""

from __future__ import annotations

import math

import numpy as np

from frittata.terms.elementwise import unary_op
from frittata.terms.ops import Onnx
from frittata.terms.term import Term

__all__ = ["neg", "abs", "exp", "log", "sqrt", "erf", "tanh", "round", "floor", "ceil", "reciprocal", "sign"]


def _erf(x: np.ndarray) -> np.ndarray:
    """scipy's erf, imported on first use (scipy.special takes about a second to import, and
    loading a saved module needs none of the interpreter)."""
    from scipy import special

    return special.erf(x)


def _flat(b, node: Term, g: Term) -> tuple[Term]:
    """Piecewise-constant ops (round, floor, ceil, sign): the derivative is 0 wherever it
    exists, and 0 is what PyTorch and JAX give at the steps too."""
    return (b.zeros(node.shape, g.dtype),)


NEG = unary_op("neg", np.negative, lambda p, x: p.neg(x), onnx=Onnx("Neg"), vjp=lambda b, n, g: (b.neg(g),))
ABS = unary_op("abs", np.abs, lambda p, x: p.abs(x), onnx=Onnx("Abs"),
               vjp=lambda b, n, g: (b.mul(g, b.sign(n.args[0])),))
EXP = unary_op("exp", np.exp, lambda p, x: p.exp(x), float_only=True, transcendental=True, onnx=Onnx("Exp"),
               vjp=lambda b, n, g: (b.mul(g, n),))
LOG = unary_op("log", np.log, lambda p, x: p.log(x), float_only=True, transcendental=True, onnx=Onnx("Log"),
               vjp=lambda b, n, g: (b.div(g, n.args[0]),))
SQRT = unary_op("sqrt", np.sqrt, lambda p, x: p.sqrt(x), float_only=True, transcendental=True,
                onnx=Onnx("Sqrt"), vjp=lambda b, n, g: (b.div(b.mul(g, 0.5), n),))
ERF = unary_op("erf", _erf, lambda p, x: p.erf(x), float_only=True, transcendental=True,
               onnx=Onnx("Erf"),
               vjp=lambda b, n, g: (b.mul(g, b.mul(b.exp(b.neg(b.mul(*n.args * 2))), 2 / math.sqrt(math.pi))),))
TANH = unary_op("tanh", np.tanh, lambda p, x: p.tanh(x), float_only=True, transcendental=True,
                onnx=Onnx("Tanh"), vjp=lambda b, n, g: (b.mul(g, b.sub(1, b.mul(n, n))),))
ROUND = unary_op("round", np.rint, lambda p, x: p.round(x), float_only=True, onnx=Onnx("Round"), vjp=_flat)
FLOOR = unary_op("floor", np.floor, lambda p, x: p.floor(x), float_only=True, onnx=Onnx("Floor"), vjp=_flat)
CEIL = unary_op("ceil", np.ceil, lambda p, x: p.ceil(x), float_only=True, onnx=Onnx("Ceil"), vjp=_flat)
RECIPROCAL = unary_op("reciprocal", np.reciprocal, lambda p, x: p.div(p.const(1.0, x), x), float_only=True,
                      onnx=Onnx("Reciprocal"), vjp=lambda b, n, g: (b.neg(b.mul(g, b.mul(n, n))),))


def _sign_scalar(p, x):
    """1 above zero, -1 below, else x * 0 (0, or NaN for NaN)."""
    zero = p.const(0, x)
    below = p.select(p.compare("<", x, zero), p.const(-1, x), p.mul(x, zero))
    return p.select(p.compare(">", x, zero), p.const(1, x), below)


SIGN = unary_op("sign", np.sign, _sign_scalar, onnx=Onnx("Sign"), vjp=_flat)


def neg(x: Term) -> Term:
    return Term.make(NEG, (x,))


def abs(x: Term) -> Term:  # noqa: A001 - named like the operator
    return Term.make(ABS, (x,))


def exp(x: Term) -> Term:
    return Term.make(EXP, (x,))


def log(x: Term) -> Term:
    return Term.make(LOG, (x,))


def sqrt(x: Term) -> Term:
    return Term.make(SQRT, (x,))


def erf(x: Term) -> Term:
    return Term.make(ERF, (x,))


def tanh(x: Term) -> Term:
    return Term.make(TANH, (x,))


def round(x: Term) -> Term:  # noqa: A001
    """Round to the nearest integer, ties to even (numpy rint, ONNX Round); stays float."""
    return Term.make(ROUND, (x,))


def floor(x: Term) -> Term:
    return Term.make(FLOOR, (x,))


def ceil(x: Term) -> Term:
    return Term.make(CEIL, (x,))


def reciprocal(x: Term) -> Term:
    """1 / x (floats)."""
    return Term.make(RECIPROCAL, (x,))


def sign(x: Term) -> Term:
    """-1, 0 or 1 by the sign of x (NaN stays NaN); integers too."""
    return Term.make(SIGN, (x,))
