"""Reductions over a set of axes: reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod.

ONNX's other Reduce* operators import as compositions: ReduceSumSquare, ReduceL1, ReduceL2,
ReduceLogSum and ReduceLogSumExp (stabilized by the maximum) over reduce_sum / reduce_max.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from frittata.terms.attr_forms import as_bool, axis
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import fail, need_float
from frittata.terms.ops import Attr, Cost, Op, define
from frittata.terms.movement_ops import reshape
from frittata.terms.term import Term, build

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"]


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
    if op in (Op.REDUCE_MAX, Op.REDUCE_MIN) and any(x.shape[a] == 0 for a in axes):
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


def onnx_reduce_args(n) -> tuple[list[int] | None, bool] | None:
    """(axes, keepdims) of an ONNX Reduce* node: axes from the attribute or input 1, None = all;
    None overall when the axes are empty and noop_with_empty_axes says to return the input."""
    axes = n.axes(1)
    if not axes and n.attr("noop_with_empty_axes", 0):
        return None
    return axes or None, bool(n.attr("keepdims", 1))


def _reduction(name: str, onnx_type: str, numpy, vjp, float_only: bool = False, composites=None) -> Op:
    def convert(n) -> Term:
        args = onnx_reduce_args(n)
        if args is None:
            return n.term(0)
        x = n.term(0)
        if name in EMPTY_FILL and any(x.shape[a] == 0 for a in _axes(args[0], x.type)):
            out = reduce_sum(x, args[0], args[1]).type
            fill = np.full(out.shape, EMPTY_FILL[name](out.dtype), out.dtype)
            return n.importer.term(n.node.output[0] + ":empty", fill)
        return build(op, (x,), axes=args[0], keepdims=args[1])

    attrs = (Attr("axes", tuple, None, _axes, lambda x: [(x.rank - 1,) if x.rank else ()]),
             Attr("keepdims", bool, False, as_bool, lambda x: [False, True]))
    op = define(name, 1, _infer, attrs=attrs, classes=("reduction",) + (("float_only",) if float_only else ()),
                cost=Cost.REDUCTION, onnx_export=_export(onnx_type),
                onnx_import={onnx_type: convert, **(composites or {})},
                evaluate=lambda node, args: numpy(args[0], axis=node.attr("axes"), keepdims=node.attr("keepdims")),
                vjp=vjp)
    return op


def _composite(body):
    """An ONNX Reduce* converter: body(x, axes, keepdims) -> term, or the input for a no-op."""
    def convert(n) -> Term:
        args = onnx_reduce_args(n)
        return n.term(0) if args is None else body(n.term(0), *args)

    return convert


def _extreme(dtype: str, side: str):
    """The largest ("max") or smallest ("min") value of a dtype: infinities for floats."""
    kind = np.dtype(dtype).kind
    if kind == "f":
        return np.inf if side == "max" else -np.inf
    info = np.iinfo(np.uint8) if kind == "b" else np.iinfo(dtype)
    return getattr(info, side)


EMPTY_FILL = {"reduce_max": lambda dtype: _extreme(dtype, "min"), "reduce_min": lambda dtype: _extreme(dtype, "max")}
"""ONNX's value of a max / min over no elements (opset 18): the dtype's lowest / highest value,
so the ONNX converters give that constant where a reduced axis has length 0 (the ops refuse it)."""


def _log_sum_exp(x: Term, axes, keepdims: bool) -> Term:
    """log(sum(exp(x - m))) + m with m the maximum over the axes (no overflow); over no elements,
    log(0) = -inf."""
    if any(x.shape[a] == 0 for a in _axes(axes, x.type)):
        return Term.make(Op.LOG, (reduce_sum(Term.make(Op.EXP, (x,)), axes, keepdims),))
    peak = reduce_max(x, axes, keepdims=True)
    total = reduce_sum(Term.make(Op.EXP, (Term.make(Op.SUB, (x, peak)),)), axes, keepdims=True)
    out = Term.make(Op.ADD, (Term.make(Op.LOG, (total,)), peak))
    return out if keepdims else reshape(out, reduce_sum(x, axes).shape)


def _square(x: Term) -> Term:
    return Term.make(Op.MUL, (x, x))


COMPOSITES = {
    "ReduceSumSquare": _composite(lambda x, axes, keep: reduce_sum(_square(x), axes, keep)),
    "ReduceL1": _composite(lambda x, axes, keep: reduce_sum(Term.make(Op.ABS, (x,)), axes, keep)),
    "ReduceL2": _composite(lambda x, axes, keep: Term.make(Op.SQRT, (reduce_sum(_square(x), axes, keep),))),
    "ReduceLogSum": _composite(lambda x, axes, keep: Term.make(Op.LOG, (reduce_sum(x, axes, keep),))),
    "ReduceLogSumExp": _composite(_log_sum_exp),
}

def _sum_vjp(b, node: Term, g: Term) -> tuple[Term]:
    return (b.unreduce(g, node.args[0].shape, node.attr("axes")),)


def _mean_vjp(b, node: Term, g: Term) -> tuple[Term]:
    (x,), axes = node.args, node.attr("axes")
    return (b.div(b.unreduce(g, x.shape, axes), math.prod(x.shape[a] for a in axes)),)


def _extreme_vjp(b, node: Term, g: Term) -> tuple[Term]:
    """The cotangent goes to the elements equal to the extreme, shared evenly between ties."""
    (x,), axes = node.args, node.attr("axes")
    hit = b.cast(b.equal(x, b.unreduce(node, x.shape, axes)), x.dtype)
    ties = b.unreduce(b.reduce_sum(hit, axes, keepdims=True), x.shape, axes)
    return (b.mul(b.unreduce(g, x.shape, axes), b.div(hit, ties)),)


REDUCE_SUM = _reduction("reduce_sum", "ReduceSum", np.sum, _sum_vjp, composites=COMPOSITES)
REDUCE_MEAN = _reduction("reduce_mean", "ReduceMean", np.mean, _mean_vjp, float_only=True)
REDUCE_MAX = _reduction("reduce_max", "ReduceMax", np.max, _extreme_vjp)
REDUCE_MIN = _reduction("reduce_min", "ReduceMin", np.min, _extreme_vjp)
def _prod_vjp(b, node: Term, g: Term) -> tuple[Term]:
    """d/dx_i of the product is the product of the others: product / x_i where x_i != 0; at a
    zero, the product of the non-zero others if it is the only zero, else 0."""
    (x,), axes = node.args, node.attr("axes")
    zero = b.equal(x, 0.0)
    zeros = b.unreduce(b.reduce_sum(b.cast(zero, x.dtype), axes, keepdims=True), x.shape, axes)
    others = b.unreduce(b.reduce_prod(b.where(zero, 1.0, x), axes, keepdims=True), x.shape, axes)
    at_zero = b.where(b.equal(zeros, 1.0), others, 0.0)
    product = b.unreduce(node, x.shape, axes)
    slope = b.where(zero, at_zero, b.div(product, b.where(zero, 1.0, x)))
    return (b.mul(b.unreduce(g, x.shape, axes), slope),)


REDUCE_PROD = _reduction("reduce_prod", "ReduceProd", np.prod, _prod_vjp)
"""The product over the axes (1 over none); integers wrap around like numpy's."""


def reduce_sum(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_SUM, (x,), axes=axes, keepdims=keepdims)


def reduce_mean(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_MEAN, (x,), axes=axes, keepdims=keepdims)


def reduce_max(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_MAX, (x,), axes=axes, keepdims=keepdims)


def reduce_min(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_MIN, (x,), axes=axes, keepdims=keepdims)


def reduce_prod(x: Term, axes=None, keepdims: bool = False) -> Term:
    return build(REDUCE_PROD, (x,), axes=axes, keepdims=keepdims)
