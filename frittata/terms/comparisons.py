"""Comparisons (equal, less, greater, less_equal, greater_equal) and logic (logical_and/or/xor/not).

Comparisons take two broadcasting operands of one dtype and give bool; on floats a comparison
with NaN is false (numpy and ONNX). Logic ops take and give bool. Both are elementwise: their
scalar meaning is one primitive (`compare`, `logical_*`), so every backend emits them as it
emits the other elementwise ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from frittata.terms.dtypes import TensorType
from frittata.terms.elementwise import Operand, operands
from frittata.terms.infer import broadcast, fail, same_dtype
from frittata.terms.ops import Onnx, Op, define
from frittata.terms.term import Term

__all__ = ["equal", "less", "greater", "less_equal", "greater_equal", "logical_and", "logical_or",
           "logical_xor", "logical_not"]


def _infer_compare(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    same_dtype(op, types)
    return TensorType(broadcast(op, types), "bool")


def _infer_logic(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    if any(t.dtype != "bool" for t in types):
        raise fail(op, "bool operands", ", ".join(map(str, types)))
    return TensorType(broadcast(op, types), "bool")


def _compare(name: str, pred: str, numpy: Callable, onnx_type: str) -> Op:
    return define(name, 2, _infer_compare, classes=("elementwise", "compare"),
                  evaluate=lambda node, args: numpy(*args),
                  scalar=lambda p, a, b: p.compare(pred, a, b), onnx=Onnx(onnx_type))


def _logic(name: str, arity: int, numpy: Callable, onnx_type: str) -> Op:
    return define(name, arity, _infer_logic, classes=("elementwise", "logic"),
                  evaluate=lambda node, args: numpy(*args),
                  scalar=lambda p, *xs: getattr(p, name)(*xs), onnx=Onnx(onnx_type))


EQUAL = _compare("equal", "==", np.equal, "Equal")
LESS = _compare("less", "<", np.less, "Less")
GREATER = _compare("greater", ">", np.greater, "Greater")
LESS_EQUAL = _compare("less_equal", "<=", np.less_equal, "LessOrEqual")
GREATER_EQUAL = _compare("greater_equal", ">=", np.greater_equal, "GreaterOrEqual")
LOGICAL_AND = _logic("logical_and", 2, np.logical_and, "And")
LOGICAL_OR = _logic("logical_or", 2, np.logical_or, "Or")
LOGICAL_XOR = _logic("logical_xor", 2, np.logical_xor, "Xor")
LOGICAL_NOT = _logic("logical_not", 1, np.logical_not, "Not")


def equal(a: Operand, b: Operand) -> Term:
    """a == b elementwise (bool), operands of one dtype, broadcast like numpy."""
    return Term.make(EQUAL, operands(a, b))


def less(a: Operand, b: Operand) -> Term:
    return Term.make(LESS, operands(a, b))


def greater(a: Operand, b: Operand) -> Term:
    return Term.make(GREATER, operands(a, b))


def less_equal(a: Operand, b: Operand) -> Term:
    return Term.make(LESS_EQUAL, operands(a, b))


def greater_equal(a: Operand, b: Operand) -> Term:
    return Term.make(GREATER_EQUAL, operands(a, b))


def logical_and(a: Term, b: Term) -> Term:
    return Term.make(LOGICAL_AND, (a, b))


def logical_or(a: Term, b: Term) -> Term:
    return Term.make(LOGICAL_OR, (a, b))


def logical_xor(a: Term, b: Term) -> Term:
    return Term.make(LOGICAL_XOR, (a, b))


def logical_not(x: Term) -> Term:
    return Term.make(LOGICAL_NOT, (x,))
