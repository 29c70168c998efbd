"""Defining elementwise operators, and the binary arithmetic ones (add ... minimum, where).

`unary_op` / `binary_op` register an elementwise op from the few facts that differ between
them: its numpy meaning, its scalar expansion into `frittata.terms.prims` (so every backend
emits it without a per-op case), whether it is float-only or transcendental, its attributes
and its ONNX name. Type rules, the interpreter case, ONNX import/export, the cost class, the
fused-elementwise expression form and the rule signature all follow from the table.

Binary ops broadcast like numpy and need operands of one dtype; Python numbers mixed with
terms become `const` leaves of the term's dtype.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType, is_float
from frittata.terms.infer import broadcast, fail, need_float, same_dtype
from frittata.terms.leaves import const
from frittata.terms.ops import Attr, Cost, Onnx, Op, define
from frittata.terms.term import Term

__all__ = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"]

Operand = Term | int | float
Check = Callable[[Op, TensorType, dict[str, Any]], None]


def operands(*xs: Operand) -> tuple[Term, ...]:
    """Terms for `xs`: Python numbers become constants of the first term's dtype."""
    like = next((x for x in xs if isinstance(x, Term)), None)
    if like is None:
        raise FrittataTypeError(f"expected at least one term operand, got {xs!r}")
    return tuple(x if isinstance(x, Term) else const(x, like.dtype) for x in xs)


def _classes(kind: str, float_only: bool) -> tuple[str, ...]:
    return ("elementwise", kind) + (("float_only",) if float_only else ())


def _meaning(numpy: Callable[..., np.ndarray]) -> Callable[[Term, list[np.ndarray]], np.ndarray]:
    return lambda node, args: numpy(*args, **dict(node.attrs))


def unary_op(name: str, numpy: Callable[..., np.ndarray], scalar: Callable[..., Any], *,
             float_only: bool = False, transcendental: bool = False, attrs: tuple[Attr, ...] = (),
             check: Check | None = None, onnx: Onnx | None = None, **fields: Any) -> Op:
    """Register a unary elementwise op: `numpy(x, **attrs)` and `scalar(p, x, **attrs)`."""

    def infer(op: Op, types: list[TensorType], attr: dict[str, Any]) -> TensorType:
        (x,) = types
        if float_only:
            need_float(op, x)
        if x.dtype == "bool":
            raise fail(op, "a numeric tensor", x)
        if check is not None:
            check(op, x, attr)
        return x

    cost = Cost.TRANSCENDENTAL if transcendental else Cost.ELEMENTWISE
    return define(name, 1, fields.pop("infer", infer), classes=_classes("unary", float_only), attrs=attrs,
                  evaluate=_meaning(numpy), scalar=scalar, cost=cost, onnx=onnx, **fields)


def binary_op(name: str, numpy: Callable[..., np.ndarray], scalar: Callable[..., Any], *,
              float_only: bool = False, transcendental: bool = False, onnx: Onnx | None = None,
              **fields: Any) -> Op:
    """Register a binary elementwise op on two broadcasting operands of one dtype."""

    def infer(op: Op, types: list[TensorType], attr: dict[str, Any]) -> TensorType:
        dtype = same_dtype(op, types)
        if dtype == "bool" or (float_only and not is_float(dtype)):
            raise fail(op, "float operands" if float_only else "numeric operands", dtype)
        return TensorType(broadcast(op, types), dtype)

    cost = Cost.TRANSCENDENTAL if transcendental else Cost.ELEMENTWISE
    return define(name, 2, infer, classes=_classes("binary", float_only), evaluate=_meaning(numpy),
                  scalar=scalar, cost=cost, onnx=onnx, **fields)


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Truncating integer division; a zero divisor gives 0."""
    if a.dtype.kind not in "iu":
        return a / b
    wide_a, wide_b = a.astype(np.int64), b.astype(np.int64)
    safe = np.where(wide_b == 0, 1, wide_b)
    return np.where(wide_b == 0, 0, np.abs(wide_a) // np.abs(safe) * np.sign(wide_a) * np.sign(safe))


def _export_div(g, node: Term, args: list[str], out: str | None) -> str:
    """ONNX integer Div truncates toward zero like ours, but a zero divisor must give 0."""
    if node.dtype == "float32":
        return g.node("Div", args, out)
    zero = g.constant(0, node.dtype)
    is_zero = g.node("Equal", [args[1], zero])
    safe = g.node("Where", [is_zero, g.constant(1, node.dtype), args[1]])
    return g.node("Where", [is_zero, zero, g.node("Div", [args[0], safe])], out)


def _import_mean(n) -> Term:
    """Mean of any number of broadcasting operands: their sum over the count."""
    terms = n.terms()
    total = functools.reduce(add, terms)
    return total if len(terms) == 1 else div(total, len(terms))


ADD = binary_op("add", np.add, lambda p, a, b: p.add(a, b), onnx=Onnx("Add"),
                vjp=lambda b, n, g: (b.sum_to(g, n.args[0]), b.sum_to(g, n.args[1])),
                onnx_import={"Sum": lambda n: functools.reduce(add, n.terms()), "Mean": _import_mean})
SUB = binary_op("sub", np.subtract, lambda p, a, b: p.sub(a, b), onnx=Onnx("Sub"),
                vjp=lambda b, n, g: (b.sum_to(g, n.args[0]), b.sum_to(b.neg(g), n.args[1])))
MUL = binary_op("mul", np.multiply, lambda p, a, b: p.mul(a, b), onnx=Onnx("Mul"),
                vjp=lambda b, n, g: (b.sum_to(b.mul(g, n.args[1]), n.args[0]),
                                     b.sum_to(b.mul(g, n.args[0]), n.args[1])))
DIV = binary_op("div", _int_div, lambda p, a, b: p.div(a, b), onnx=Onnx("Div"), onnx_export=_export_div,
                vjp=lambda b, n, g: (b.sum_to(b.div(g, n.args[1]), n.args[0]),
                                     b.sum_to(b.neg(b.div(b.mul(g, n), n.args[1])), n.args[1])))


def _import_pow(n) -> Term:
    """ONNX lets the exponent have another dtype; it is cast to the base's. An integer base is
    raised in float64 (exact for the integers float64 holds) and the result cast back, so the
    output keeps the base's dtype as ONNX says."""
    base, exponent = n.term(0), n.value(1)
    if np.dtype(base.dtype).kind in "iu":
        wide = Term.make(Op.CAST, (base,), (("dtype", "float64"),))
        if isinstance(exponent, np.ndarray):
            power = n.importer.term(n.node.input[1] + ":float64", exponent.astype(np.float64))
        else:
            power = Term.make(Op.CAST, (exponent,), (("dtype", "float64"),))
        return Term.make(Op.CAST, (pow(wide, power),), (("dtype", base.dtype),))
    if isinstance(exponent, np.ndarray):
        exponent = n.importer.term(n.node.input[1] + ":" + base.dtype, exponent.astype(base.dtype))
    elif exponent.dtype != base.dtype:
        exponent = Term.make(Op.CAST, (exponent,), (("dtype", base.dtype),))
    return pow(base, exponent)


POW = binary_op("pow", np.power, lambda p, a, b: p.pow(a, b), float_only=True, transcendental=True,
                onnx=Onnx("Pow"), onnx_import={"Pow": _import_pow},
                vjp=lambda b, n, g: (b.sum_to(b.mul(g, b.mul(n.args[1], b.pow(n.args[0], b.sub(n.args[1], 1)))),
                                              n.args[0]),
                                     b.sum_to(b.mul(g, b.mul(n, b.log(n.args[0]))), n.args[1])))
def _pick(b, first: Term, node: Term, g: Term) -> tuple[Term, Term]:
    """The VJP of choosing between the last two operands of `node`: the cotangent goes to the
    first of them where `first` holds, to the second elsewhere (ties go to the first)."""
    x, y = node.args[-2:]
    zero = b.zeros((), g.dtype)
    return b.sum_to(b.where(first, g, zero), x), b.sum_to(b.where(first, zero, g), y)


MAXIMUM = binary_op("maximum", np.maximum, lambda p, a, b: p.maximum(a, b), onnx=Onnx("Max"),
                    onnx_import={"Max": lambda n: functools.reduce(maximum, n.terms())},
                    vjp=lambda b, n, g: _pick(b, b.greater_equal(*n.args), n, g))
MINIMUM = binary_op("minimum", np.minimum, lambda p, a, b: p.minimum(a, b), onnx=Onnx("Min"),
                    onnx_import={"Min": lambda n: functools.reduce(minimum, n.terms())},
                    vjp=lambda b, n, g: _pick(b, b.less_equal(*n.args), n, g))


def _infer_where(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    cond, a, b = types
    if cond.dtype != "bool":
        raise fail(op, "a bool condition", cond)
    return TensorType(broadcast(op, types), same_dtype(op, [a, b]))


WHERE = define("where", 3, _infer_where, classes=("elementwise",), evaluate=lambda node, args: np.where(*args),
               scalar=lambda p, c, a, b: p.select(c, a, b), onnx=Onnx("Where"),
               vjp=lambda b, n, g: (None,) + _pick(b, n.args[0], n, g))


def add(a: Operand, b: Operand) -> Term:
    return Term.make(ADD, operands(a, b))


def sub(a: Operand, b: Operand) -> Term:
    return Term.make(SUB, operands(a, b))


def mul(a: Operand, b: Operand) -> Term:
    return Term.make(MUL, operands(a, b))


def div(a: Operand, b: Operand) -> Term:
    """Division; on integers it truncates toward zero (C and ONNX semantics), x / 0 = 0."""
    return Term.make(DIV, operands(a, b))


def pow(a: Operand, b: Operand) -> Term:  # noqa: A001 - named like the operator
    return Term.make(POW, operands(a, b))


def maximum(a: Operand, b: Operand) -> Term:
    return Term.make(MAXIMUM, operands(a, b))


def minimum(a: Operand, b: Operand) -> Term:
    return Term.make(MINIMUM, operands(a, b))


def where(cond: Term, a: Operand, b: Operand) -> Term:
    """Elementwise `a if cond else b` with broadcasting; cond is bool."""
    return Term.make(WHERE, (cond,) + operands(a, b))
