"""The fused elementwise kernel: a chain of elementwise ops over its operands, as one term.

`fused_elementwise(*operands, expr=E)` computes the small expression E at every element of
the broadcast of its operands, in one pass over memory. E is a nested tuple:

  ("arg", i)                        operand i (0 <= i < number of operands; each one is used)
  ("const", value, dtype)           a scalar constant
  (OP, child ..., attr ...)         an elementwise op (any op of class "elementwise": "add",
                                    "relu", "clip", ...) with its operands (as many as its
                                    arity), then its attributes in the order of its schema
                                    (e.g. ("clip", c, lo, hi))

Its meaning is the meaning of its expansion: `expand(E, operands)` builds the plain terms, so
type inference (broadcasting, dtype rules), the interpreter and ONNX export all reuse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.attr_keys import exact_cache
from frittata.terms.dtypes import TensorType, check_dtype
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.ops import BY_NAME, Attr, Cost, Op, define, variadic
from frittata.terms.term import Term, build

__all__ = ["fused_elementwise"]

Expr = tuple


def _elementwise(name: str) -> Op | None:
    op = BY_NAME.get(name)
    return op if op is not None and op.is_a("elementwise") else None


def arity(op: Op) -> int:
    """Operand count of an elementwise op inside an expression."""
    return op.arity.low


def normalize_expr(expr) -> Expr:
    """The expression with lists as tuples and numbers as Python numbers; malformed raises.
    Saturation asks for the same few expressions thousands of times, so hashable ones (tuples)
    are remembered, by exact value (`exact_cache`: a -0.0 bound is not a 0.0 one)."""
    try:
        return _normalized(expr)
    except TypeError:  # unhashable (lists inside): normalize without remembering
        return _normalize(expr)


@exact_cache(maxsize=1 << 14)
def _normalized(expr) -> Expr:
    return _normalize(expr)


def _normalize(expr) -> Expr:
    match tuple(expr) if isinstance(expr, (tuple, list)) else expr:
        case ("arg", int() as i) if i >= 0:
            return ("arg", i)
        case ("const", value, dtype):
            dtype = check_dtype(dtype, "fused_elementwise const")
            return ("const", np.array(value).astype(dtype).item(), dtype)
        case (str() as name, *rest) if _elementwise(name) is not None:
            op = BY_NAME[name]
            n = arity(op)
            if len(rest) != n + len(op.attrs):
                raise _bad(f"{name} with {n} operand(s) and attributes {op.attr_names}", expr)
            return (name, *(_normalize(c) for c in rest[:n]), *rest[n:])
        case _:
            raise _bad('("arg", i), ("const", value, dtype) or (elementwise op, operands..., attrs...)', expr)


def _bad(expected: str, got) -> FrittataTypeError:
    return FrittataTypeError(f"fused_elementwise: expected an expression {expected}, got {got!r}")


def args_used(expr: Expr) -> frozenset[int]:
    """Operand indices the expression reads (remembered, like `normalize_expr`)."""
    return _args_used(expr)


@lru_cache(maxsize=1 << 14)
def _args_used(expr: Expr) -> frozenset[int]:
    match expr:
        case ("arg", i):
            return frozenset((i,))
        case ("const", *_):
            return frozenset()
        case (name, *rest):
            return frozenset().union(*(_args_used(c) for c in rest[:arity(BY_NAME[name])]))
        case _:
            raise _bad("a normalized expression", expr)


def inline(outer: Expr, index: int, inner: Expr) -> Expr:
    """`outer` with operand `index` replaced by `inner`, whose operands take its place in order.

    The operands of the result are outer's before `index`, inner's, then outer's after it.
    """
    width = len(args_used(inner))

    def go(e: Expr) -> Expr:
        match e:
            case ("arg", j):
                return _shifted(inner, index) if j == index else ("arg", j if j < index else j + width - 1)
            case ("const", *_):
                return e
            case (name, *rest):
                n = arity(BY_NAME[name])
                return (name, *(go(c) for c in rest[:n]), *rest[n:])
            case _:
                raise _bad("a normalized expression", e)

    return go(outer)


def _shifted(expr: Expr, by: int) -> Expr:
    match expr:
        case ("arg", j):
            return ("arg", j + by)
        case ("const", *_):
            return expr
        case (name, *rest):
            n = arity(BY_NAME[name])
            return (name, *(_shifted(c, by) for c in rest[:n]), *rest[n:])
        case _:
            raise _bad("a normalized expression", expr)


def expr_ops(expr: Expr) -> list[Op]:
    """The elementwise ops of an expression, one per occurrence."""
    match expr:
        case ("arg", _) | ("const", *_):
            return []
        case (name, *rest):
            op = BY_NAME[name]
            return [op] + [o for c in rest[:arity(op)] for o in expr_ops(c)]
        case _:
            raise _bad("a normalized expression", expr)


def expand(expr: Expr, operands: Sequence[Term]) -> Term:
    """The plain elementwise terms over `operands` that `expr` stands for."""
    match expr:
        case ("arg", i):
            return operands[i]
        case ("const", value, dtype):
            return Term.make(Op.CONST, (), (("value", value), ("dtype", dtype)))
        case (name, *rest):
            op = BY_NAME[name]
            n = arity(op)
            kids = tuple(expand(c, operands) for c in rest[:n])
            return Term.make(op, kids, op.canonical(dict(zip(op.attr_names, rest[n:])), kids[0].type))
        case _:
            raise _bad("a normalized expression", expr)


def _check(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    used, expr = args_used(attrs["expr"]), attrs["expr"]
    if used != set(range(len(types))):
        raise FrittataTypeError(f"fused_elementwise: expected an expression using operands "
                                f"{list(range(len(types)))} each, got one using {sorted(used)}: {expr!r}")


def _infer(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    """The type of the expansion; an ill-typed expansion's error names the expression."""
    try:
        return _by_expansion(op, types, attrs)
    except FrittataTypeError as err:
        if str(err).startswith("fused_elementwise"):
            raise
        raise FrittataTypeError(f"fused_elementwise {attrs['expr']!r}: {err}") from None


_by_expansion = infer_by_expansion(_check)
FUSED_ELEMENTWISE = define(
    "fused_elementwise", variadic(1), _infer, classes=("kernel",),
    attrs=(Attr("expr", tuple, normalize=lambda v, x: normalize_expr(v)),), cost=Cost.FUSED_ELEMENTWISE,
    expand=lambda op, args, attrs: expand(attrs["expr"], args))


def fused_elementwise(*operands: Term, expr: Expr) -> Term:
    """One elementwise kernel computing `expr` over `operands` (see the module docstring)."""
    return build(FUSED_ELEMENTWISE, operands, expr=expr)
