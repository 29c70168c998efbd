"""Broadcasting as an operator: broadcast_to (ONNX Expand), a movement op that repeats size-1 axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from frittata.terms.attr_forms import ints
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import fail
from frittata.terms.ops import Attr, Cost, Op, define
from frittata.terms.term import Term, build

__all__ = ["broadcast_to"]


def _infer(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    shape = tuple(attrs["shape"])
    try:
        fits = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits or any(d < 0 for d in shape):
        raise fail(op, f"a shape that {x} broadcasts to", shape)
    return TensorType(shape, x.dtype)


def _import_expand(n) -> Term:
    """ONNX Expand broadcasts both ways: the result has the broadcast of the two shapes."""
    x = n.term(0)
    shape = tuple(int(d) for d in n.const(1, "shape").reshape(-1))
    try:
        target = tuple(np.broadcast_shapes(x.shape, shape))
    except ValueError:
        raise fail(BROADCAST_TO, f"a shape that broadcasts with the input's {x.type}", shape) from None
    return x if target == x.shape else broadcast_to(x, target)


def _export(g, node: Term, args: list[str], out: str | None) -> str:
    return g.node("Expand", args + [g.constant(node.attr("shape"), "int64", "shape")], out)


BROADCAST_TO = define("broadcast_to", 1, _infer, classes=("movement",), cost=Cost.COPY,
                      attrs=(Attr("shape", tuple, normalize=ints, choices=lambda x: [(2,) + x.shape]),),
                      evaluate=lambda node, args: np.broadcast_to(args[0], node.attr("shape")).copy(),
                      onnx_export=_export, onnx_import={"Expand": _import_expand},
                      vjp=lambda b, n, g: (b.sum_to(g, n.args[0]),))


def broadcast_to(x: Term, shape: Sequence[int]) -> Term:
    """numpy `broadcast_to`: x repeated along its size-1 (and new leading) axes to `shape`."""
    return build(BROADCAST_TO, (x,), shape=shape)
