"""Index reductions: arg_max and arg_min along one axis, giving int64 positions (ONNX ArgMax/ArgMin)."""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.attr_forms import as_axis, as_bool
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import axis_in, fail
from frittata.terms.ops import Attr, Cost, Op, define
from frittata.terms.term import Term, build

__all__ = ["arg_max", "arg_min"]


def _infer(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    axis = attrs["axis"]
    axis_in(op, axis, x.rank)
    if x.shape[axis] == 0 or x.dtype == "bool":
        raise fail(op, "a non-empty numeric axis", x)
    keep = attrs["keepdims"]
    shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape) if keep or i != axis)
    return TensorType(shape, "int64")


def _evaluate(numpy):
    def evaluate(node: Term, args: list[np.ndarray]) -> np.ndarray:
        x, axis = args[0], node.attr("axis")
        if node.attr("last"):
            found = x.shape[axis] - 1 - numpy(np.flip(x, axis), axis=axis)
        else:
            found = numpy(x, axis=axis)
        return np.expand_dims(found, axis) if node.attr("keepdims") else found

    return evaluate


def _import(n, op: Op) -> Term:
    return build(op, (n.term(0),), axis=n.attr("axis", 0), keepdims=bool(n.attr("keepdims", 1)),
                 last=bool(n.attr("select_last_index", 0)))


def _export(onnx_type: str):
    def export(g, node: Term, args: list[str], out: str | None) -> str:
        return g.node(onnx_type, args, out, axis=node.attr("axis"), keepdims=int(node.attr("keepdims")),
                      select_last_index=int(node.attr("last")))

    return export


def _arg_op(name: str, onnx_type: str, numpy) -> Op:
    attrs = (Attr("axis", int, 0, as_axis(name), lambda x: [x.rank - 1 if x.rank else 0]),
             Attr("keepdims", bool, False, as_bool, lambda x: [False, True]),
             Attr("last", bool, False, as_bool, lambda x: [False, True]))
    op: Op = define(name, 1, _infer, attrs=attrs, classes=("reduction",), cost=Cost.REDUCTION,
                evaluate=_evaluate(numpy), onnx_export=_export(onnx_type),
                onnx_import={onnx_type: lambda n: _import(n, op)})
    return op


ARG_MAX = _arg_op("arg_max", "ArgMax", np.argmax)
ARG_MIN = _arg_op("arg_min", "ArgMin", np.argmin)


def arg_max(x: Term, axis: int = 0, keepdims: bool = False, last: bool = False) -> Term:
    """The int64 position of the largest element along `axis` (the first of ties; the last if `last`)."""
    return build(ARG_MAX, (x,), axis=axis, keepdims=keepdims, last=last)


def arg_min(x: Term, axis: int = 0, keepdims: bool = False, last: bool = False) -> Term:
    """The int64 position of the smallest element along `axis` (the first of ties; the last if `last`)."""
    return build(ARG_MIN, (x,), axis=axis, keepdims=keepdims, last=last)
