"""The fused elementwise kernel: a chain of elementwise ops over its operands, as one term.

`fused_elementwise(*operands, expr=E)` computes the small expression E at every element of
the broadcast of its operands, in one pass over memory. E is a nested tuple:

  ("arg", i)                        operand i (0 <= i < number of operands; each one is used)
  ("const", value, dtype)           a scalar constant
  (OP, child ..., attr ...)         an elementwise op (an `Op` value: "add", "relu", "clip", ...)
                                    with its operands (1, 2, or 3 for "where"), then its
                                    attributes in the order of `ATTRS` (e.g. ("clip", c, lo, hi))

Its meaning is the meaning of its expansion: `expand(E, operands)` builds the plain terms, so
type inference (broadcasting, dtype rules), the interpreter and ONNX export all reuse them.
Any number of operands (at least one).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType, check_dtype, is_int
from frittata.terms.ops import BINARY, BY_NAME, ELEMENTWISE, UNARY, Op
from frittata.terms.term import Term

ATTRS: dict[Op, tuple[str, ...]] = {
    Op.LEAKY_RELU: ("alpha",), Op.GELU: ("approximate",), Op.CLIP: ("lo", "hi"),
    Op.CAST: ("dtype",), Op.RIGHT_SHIFT: ("shift",),
}

Expr = tuple


def fused_elementwise(*operands: Term, expr: Expr) -> Term:
    """One elementwise kernel computing `expr` over `operands` (see the module docstring)."""
    return Term.make(Op.FUSED_ELEMENTWISE, tuple(operands), (("expr", normalize_expr(expr)),))


def arity(op: Op) -> int:
    """Operand count of an elementwise op inside an expression."""
    if op in UNARY:
        return 1
    return 2 if op in BINARY else 3


def normalize_expr(expr) -> Expr:
    """The expression with lists as tuples and numbers as Python numbers; malformed raises."""
    match tuple(expr) if isinstance(expr, (tuple, list)) else expr:
        case ("arg", int() as i) if i >= 0:
            return ("arg", i)
        case ("const", value, dtype):
            dtype = check_dtype(dtype, "fused_elementwise const")
            return ("const", np.array(value).astype(dtype).item(), dtype)
        case (str() as name, *rest) if BY_NAME.get(name) in ELEMENTWISE:
            op = BY_NAME[name]
            n = arity(op)
            if len(rest) != n + len(ATTRS.get(op, ())):
                raise _bad(f"{name} with {n} operand(s) and attributes {ATTRS.get(op, ())}", expr)
            return (name, *(normalize_expr(c) for c in rest[:n]), *rest[n:])
        case _:
            raise _bad('("arg", i), ("const", value, dtype) or (elementwise op, operands..., attrs...)', expr)


def _bad(expected: str, got) -> FrittataTypeError:
    return FrittataTypeError(f"fused_elementwise: expected an expression {expected}, got {got!r}")


def args_used(expr: Expr) -> set[int]:
    """Operand indices the expression reads."""
    match expr:
        case ("arg", i):
            return {i}
        case ("const", *_):
            return set()
        case (name, *rest):
            return set().union(*(args_used(c) for c in rest[:arity(BY_NAME[name])]))
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
            return Term.make(op, kids, _attrs(op, kids[0], rest[n:]))
        case _:
            raise _bad("a normalized expression", expr)


def _attrs(op: Op, first: Term, values: list) -> tuple:
    """Attributes in builder-normal form (clip bounds in the operand's number kind)."""
    names = ATTRS.get(op, ())
    match op:
        case Op.CLIP:
            conv = int if is_int(first.dtype) else float
            values = [None if v is None else conv(v) for v in values]
        case Op.LEAKY_RELU:
            values = [float(values[0])]
        case Op.RIGHT_SHIFT:
            values = [int(values[0])]
        case _:
            pass
    return tuple(zip(names, values))


def placeholders(types: Sequence[TensorType]) -> list[Term]:
    """Input terms `arg0`, `arg1`, ... of the given types, standing for the operands."""
    return [Term.make(Op.INPUT, (), (("name", f"arg{i}"), ("shape", t.shape), ("dtype", t.dtype)))
            for i, t in enumerate(types)]


def infer_fused(types: list[TensorType], expr: Expr) -> TensorType:
    """The type of the expansion over operands of `types`; checks the operand count and use."""
    return _infer_cached(tuple(types), expr)


@functools.lru_cache(maxsize=4096)
def _infer_cached(types: tuple[TensorType, ...], expr: Expr) -> TensorType:
    """`infer_fused`, memoised: the e-graph asks for the same few types over and over."""
    if not types:
        raise FrittataTypeError("fused_elementwise: expected 1 or more operands, got 0")
    used = args_used(expr)
    if used != set(range(len(types))):
        raise FrittataTypeError(f"fused_elementwise: expected an expression using operands "
                                f"{list(range(len(types)))} each, got one using {sorted(used)}: {expr!r}")
    try:
        return expand(expr, placeholders(types)).type
    except FrittataTypeError as err:
        raise FrittataTypeError(f"fused_elementwise {expr!r}: {err}") from None
