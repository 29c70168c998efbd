"""The softmax with an elementwise prologue: attention's scale and mask read with the scores.

`fused_softmax(*operands, expr=E, axis=a)` is `softmax(fused_elementwise(*operands, expr=E),
axis=a)`: E is a `fused_elementwise` expression (a scale, an additive mask, a `where` with a
constant fill, ...) and its meaning is that expansion, so type inference, the interpreter and
ONNX export reuse the plain ops. A backend computes E once per element into the output row, then
runs the softmax's passes there: the scores are read once, and E costs no pass of its own.
"""

from __future__ import annotations

from typing import Any

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.fused import expand as expand_expr
from frittata.terms.fused import fused_elementwise, normalize_expr
from frittata.terms.normalization import softmax
from frittata.terms.ops import Attr, Cost, Op, define, variadic
from frittata.terms.term import Term, build

__all__ = ["fused_softmax"]


def _expand(op: Op, operands, attrs: dict[str, Any]) -> Term:
    return softmax(expand_expr(attrs["expr"], operands), axis=attrs["axis"])


def _check(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    fused_elementwise(*(_placeholder(i, t) for i, t in enumerate(types)), expr=attrs["expr"])
    rank = max(t.rank for t in types)
    if not 0 <= attrs["axis"] < rank:
        raise FrittataTypeError(f"fused_softmax: expected an axis in [0, {rank}), got {attrs['axis']}")


def _placeholder(i: int, t: TensorType) -> Term:
    from frittata.terms.leaves import var
    return var(f"arg{i}", t.shape, t.dtype)


FUSED_SOFTMAX = define(
    "fused_softmax", variadic(1), infer_by_expansion(_check), classes=("kernel",),
    attrs=(Attr("expr", tuple, normalize=lambda v, x: normalize_expr(v)), Attr("axis", int)),
    cost=Cost.NORMALIZATION, expand=_expand)


def fused_softmax(*operands: Term, expr: tuple, axis: int = -1) -> Term:
    """softmax(fused_elementwise(*operands, expr=expr), axis) as one kernel (module docstring);
    a negative axis counts from the end of the broadcast shape."""
    rank = fused_elementwise(*operands, expr=expr).type.rank
    return build(FUSED_SOFTMAX, operands, expr=expr, axis=axis + rank if axis < 0 else axis)
