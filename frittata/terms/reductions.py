"""Reductions over a set of axes: reduce_sum, reduce_mean, reduce_max."""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.attr_forms import as_bool, axis
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import fail, need_float
from frittata.terms.ops import Attr, Cost, Op, define
from frittata.terms.term import Term, build

__all__ = ["reduce_sum", "reduce_mean", "reduce_max"]


def _axes(value: Any, first: TensorType | None) -> tuple[int, ...]:
    """Sorted distinct non-negative axes; None means every axis of the operand."""
    if first is None:
        return tuple(int(a) for a in value)
    rank = first.rank
    given = range(rank) if value is None else ([value] if isinstance(value, int) else value)
    return tuple(sorted({axis(int(a), rank, "reduce") for a in given}))


def _infer(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    axes = attrs["axes"]
    if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.rank for a in axes):
        raise fail(op, f"sorted distinct axes in [0, {x.rank})", axes)
    if op == Op.REDUCE_MEAN:
        need_float(op, x)
    if op == Op.REDUCE_MAX and any(x.shape[a] == 0 for a in axes):
        raise fail(op, "non-empty reduced axes", x)
    keep = attrs["keepdims"]
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
    return TensorType(shape, x.dtype)


def _export(onnx_type: str):
    def export(g, node: Term, args: list[str], out: str | None) -> str:
        axes = g.constant(node.attr("axes"), "int64")
        return g.node(onnx_type, args + [axes], out, keepdims=int(node.attr("keepdims")),
                      noop_with_empty_axes=int(not node.attr("axes")))

    return export


def _reduction(name: str, onnx_type: str, numpy, float_only: bool = False) -> Op:
    def convert(n) -> Term:
        """ONNX Reduce*: axes from the attribute or input 1; none means all, or none with noop_with_empty_axes."""
        axes = n.axes(1)
        if not axes and n.attr("noop_with_empty_axes", 0):
            return n.term(0)
        return build(op, (n.term(0),), axes=axes or None, keepdims=bool(n.attr("keepdims", 1)))

    attrs = (Attr("axes", tuple, None, _axes, lambda x: [(x.rank - 1,) if x.rank else ()]),
             Attr("keepdims", bool, False, as_bool, lambda x: [False, True]))
    op = define(name, 1, _infer, attrs=attrs, classes=("reduction",) + (("float_only",) if float_only else ()),
                cost=Cost.REDUCTION, onnx_export=_export(onnx_type), onnx_import={onnx_type: convert},
                evaluate=lambda node, args: numpy(args[0], axis=node.attr("axes"), keepdims=node.attr("keepdims")))
    return op


REDUCE_SUM = _reduction("reduce_sum", "ReduceSum", np.sum)
REDUCE_MEAN = _reduction("reduce_mean", "ReduceMean", np.mean, float_only=True)
REDUCE_MAX = _reduction("reduce_max", "ReduceMax", np.max)


def reduce_sum(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_SUM, (x,), axes=axes, keepdims=keepdims)


def reduce_mean(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_MEAN, (x,), axes=axes, keepdims=keepdims)


def reduce_max(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_MAX, (x,), axes=axes, keepdims=keepdims)
