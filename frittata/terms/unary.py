"""Unary math operators: neg, abs, exp, log, sqrt, erf, tanh, round (elementwise)."""

from __future__ import annotations

import numpy as np
from scipy import special

from frittata.terms.elementwise import unary_op
from frittata.terms.ops import Onnx
from frittata.terms.term import Term

__all__ = ["neg", "abs", "exp", "log", "sqrt", "erf", "tanh", "round"]

NEG = unary_op("neg", np.negative, lambda p, x: p.neg(x), onnx=Onnx("Neg"))
ABS = unary_op("abs", np.abs, lambda p, x: p.abs(x), onnx=Onnx("Abs"))
EXP = unary_op("exp", np.exp, lambda p, x: p.exp(x), float_only=True, transcendental=True, onnx=Onnx("Exp"))
LOG = unary_op("log", np.log, lambda p, x: p.log(x), float_only=True, transcendental=True, onnx=Onnx("Log"))
SQRT = unary_op("sqrt", np.sqrt, lambda p, x: p.sqrt(x), float_only=True, transcendental=True,
                onnx=Onnx("Sqrt"))
ERF = unary_op("erf", special.erf, lambda p, x: p.erf(x), float_only=True, transcendental=True,
               onnx=Onnx("Erf"))
TANH = unary_op("tanh", np.tanh, lambda p, x: p.tanh(x), float_only=True, transcendental=True,
                onnx=Onnx("Tanh"))
ROUND = unary_op("round", np.rint, lambda p, x: p.round(x), float_only=True, onnx=Onnx("Round"))


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
