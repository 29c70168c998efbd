"""ONNX import of the indexing operators: Gather, GatherElements, GatherND, ScatterElements,
ScatterND and OneHot.

Indices known at import time keep the static forms (`gather` with its indices as an attribute,
or the position-traced gathers of `onnx_traced`); indices computed at run time (token ids, a
program input, an ArgMax) become the run-time indexing ops of `frittata.terms.indexing`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from frittata.terms import indexing
from frittata.terms.movement_ops import gather
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.onnx_traced import TRACED_CONVERTERS
from frittata.terms.term import Term


def _known(n: NodeView, i: int) -> bool:
    return isinstance(n.value(i), np.ndarray)


def _gather(n: NodeView) -> Term:
    if _known(n, 1):
        return gather(n.term(0), n.const(1, "indices"), n.attr("axis", 0))
    return indexing.take(n.term(0), n.term(1), n.attr("axis", 0))


def _gather_elements(n: NodeView) -> Any:
    if _known(n, 1):
        return TRACED_CONVERTERS["GatherElements"](n)
    return indexing.gather_elements(n.term(0), n.term(1), n.attr("axis", 0))


def _gather_nd(n: NodeView) -> Any:
    if _known(n, 1):
        return TRACED_CONVERTERS["GatherND"](n)
    return indexing.gather_nd(n.term(0), n.term(1), n.attr("batch_dims", 0))


def _reduction(n: NodeView) -> str:
    reduction = n.attr("reduction", "none")
    if reduction not in indexing.REDUCTIONS:
        raise unsupported(f"{n.node.op_type} with reduction {reduction!r}; expected one of {indexing.REDUCTIONS}")
    return reduction


def _scatter_elements(n: NodeView) -> Any:
    if _known(n, 1) and n.attr("reduction", "none") == "none":
        return TRACED_CONVERTERS["ScatterElements"](n)
    return indexing.scatter_elements(n.term(0), n.term(1), n.term(2), n.attr("axis", 0), _reduction(n))


def _scatter_nd(n: NodeView) -> Any:
    if _known(n, 1) and n.attr("reduction", "none") == "none":
        return TRACED_CONVERTERS["ScatterND"](n)
    return indexing.scatter_nd(n.term(0), n.term(1), n.term(2), _reduction(n))


def _one_hot(n: NodeView) -> Term:
    """OneHot with run-time indices; depth and values (off, on) must be known at import time."""
    depth = n.const(1, "depth").reshape(-1)
    values = n.const(2, "values").reshape(-1)
    if depth.size != 1 or values.size != 2:
        raise unsupported(f"OneHot with depth {depth.tolist()} and values {values.tolist()}; expected one"
                          " depth and two values (off, on)")
    return indexing.one_hot(n.term(0), int(depth[0]), n.attr("axis", -1), values[0].item(), values[1].item(),
                            values.dtype.name)


INDEXING_CONVERTERS: dict[str, Callable[[NodeView], Any]] = {
    "Gather": _gather, "GatherElements": _gather_elements, "GatherND": _gather_nd,
    "ScatterElements": _scatter_elements, "ScatterND": _scatter_nd, "OneHot": _one_hot,
}
