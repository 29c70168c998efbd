"""Pooling over the spatial axes of NCHW tensors: max_pool2d, avg_pool2d, global_avg_pool."""

from __future__ import annotations

import math
from typing import Any

from frittata.terms import interp_nn
from frittata.terms.attr_forms import as_bool, as_pads, as_pair, pair
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import need_float, need_rank, window_out
from frittata.terms.infer import fail
from frittata.terms.ops import Attr, Cost, Onnx, Op, define
from frittata.terms.term import Term, build

__all__ = ["max_pool2d", "avg_pool2d", "global_avg_pool"]


def _infer_pool(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    need_rank(op, x, 4)
    if op == Op.AVG_POOL2D:
        need_float(op, x)
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = attrs["kernel"], attrs["strides"], attrs["pads"]
    if max(pt, pb) >= kh or max(pl, pr) >= kw:
        raise fail(op, f"padding smaller than the kernel {(kh, kw)}", (pt, pl, pb, pr))
    n, c, h, w = x.shape
    return TensorType((n, c, window_out(op, h, kh, sh, pt + pb), window_out(op, w, kw, sw, pl + pr)), x.dtype)


def _infer_global(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    need_rank(op, x, 3, at_least=True)
    need_float(op, x)
    return TensorType(x.shape[:2] + (1,) * (x.rank - 2), x.dtype)


def _pool_attrs(node: Term) -> dict:
    return dict(kernel_shape=list(node.attr("kernel")), strides=list(node.attr("strides")),
                pads=list(node.attr("pads")))


def _export_max(g, node: Term, args: list[str], out: str | None) -> str:
    return g.node("MaxPool", args, out, **_pool_attrs(node))


def _export_avg(g, node: Term, args: list[str], out: str | None) -> str:
    return g.node("AveragePool", args, out, count_include_pad=int(node.attr("count_include_pad")),
                  **_pool_attrs(node))


WINDOW = (
    Attr("kernel", tuple, normalize=as_pair("kernel"), choices=lambda x: [(1, 1)]),
    Attr("strides", tuple, normalize=as_pair("strides"), choices=lambda x: [(1, 1)]),
    Attr("pads", tuple, (0, 0, 0, 0), as_pads, lambda x: [(0, 0, 0, 0)]),
)

MAX_POOL2D = define("max_pool2d", 1, _infer_pool, attrs=WINDOW, classes=("pool",), cost=Cost.WINDOW,
                    evaluate=lambda node, args: interp_nn.pool2d(args[0], node), onnx_export=_export_max,
                    vjp=lambda b, n, g: (b.max_pool2d_vjp(n, g),))
AVG_POOL2D = define("avg_pool2d", 1, _infer_pool, classes=("pool", "float_only"), cost=Cost.WINDOW,
                    attrs=WINDOW + (Attr("count_include_pad", bool, False, as_bool,
                                         lambda x: [False, True]),),
                    evaluate=lambda node, args: interp_nn.pool2d(args[0], node), onnx_export=_export_avg,
                    vjp=lambda b, n, g: (b.avg_pool2d_vjp(n, g),))
GLOBAL_AVG_POOL = define(
    "global_avg_pool", 1, _infer_global, classes=("pool", "float_only"), cost=Cost.REDUCTION,
    evaluate=lambda node, args: args[0].mean(axis=tuple(range(2, args[0].ndim)), keepdims=True),
    onnx=Onnx("GlobalAveragePool"),
    vjp=lambda b, n, g: (b.div(b.broadcast_to(g, n.args[0].shape), math.prod(n.args[0].shape[2:])),))


def max_pool2d(x: Term, kernel, strides=None, pads=0) -> Term:
    """Max over kernel windows of an NCHW tensor; padding never wins (it is -inf)."""
    k = pair(kernel, "kernel")
    return build(MAX_POOL2D, (x,), kernel=k, strides=k if strides is None else strides, pads=pads)


def avg_pool2d(x: Term, kernel, strides=None, pads=0, count_include_pad: bool = False) -> Term:
    """Mean over kernel windows; padded cells count in the divisor only if count_include_pad."""
    k = pair(kernel, "kernel")
    return build(AVG_POOL2D, (x,), kernel=k, strides=k if strides is None else strides, pads=pads,
                 count_include_pad=count_include_pad)


def global_avg_pool(x: Term) -> Term:
    """Mean over all spatial axes, keeping them as 1: [N, C, H, W] -> [N, C, 1, 1]."""
    return Term.make(GLOBAL_AVG_POOL, (x,))
