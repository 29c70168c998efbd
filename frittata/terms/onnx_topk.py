"""ONNX import of TopK (k known at import time) as k rounds of picking the best remaining element.

Round r finds, along the axis, the best value m among the positions not yet taken (the maximum
for `largest`, else the minimum), takes the first position holding m that is not taken yet,
and marks it. The values are the m's and the indices those positions, in rounds order: sorted,
with ties in increasing index, as ONNX specifies (and for `sorted=0` too, a valid order). Taken
positions are excluded by a mask, never by a sentinel value, so inputs holding -inf / the
dtype's extreme values come out right. Each round is a handful of terms: k is meant to be small.
"""

from __future__ import annotations

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, Value, unsupported
from frittata.terms.term import Term


def _excluded(dtype: str, largest: bool) -> float | int | bool:
    """A value that never beats a remaining one: the bottom of the order being searched."""
    if dtype.startswith("float"):
        return -np.inf if largest else np.inf
    if dtype == "bool":
        return not largest
    info = np.iinfo(dtype)
    return int(info.min if largest else info.max)


def top_k(x: Term, k: int, axis: int, largest: bool) -> tuple[Term, Term]:
    """(values, int64 indices) of the k best elements of x along `axis`, best first."""
    length = x.shape[axis]
    if not 0 <= k <= length:
        raise unsupported(f"TopK with k={k} along an axis of {length}; expected 0 <= k <= {length}")
    if k == 0:
        empty = [(0, d, 1) for d in x.shape]
        empty[axis] = (0, 0, 1)
        return tb.slice(x, empty), tb.cast(tb.slice(x, empty), "int64")
    shape = [1] * x.type.rank
    shape[axis] = length
    positions = tb.param(f"topk_positions_{'x'.join(map(str, shape))}",
                         np.arange(length, dtype=np.int64).reshape(shape))
    reduce, excluded = (tb.reduce_max if largest else tb.reduce_min), _excluded(x.dtype, largest)
    taken = tb.less(positions, 0)  # nothing taken yet
    values, indices = [], []
    for _ in range(k):
        best = reduce(tb.where(taken, tb.const(excluded, x.dtype), x), [axis], keepdims=True)
        candidate = tb.logical_and(tb.equal(x, best), tb.logical_not(taken))
        at = tb.arg_max(tb.cast(candidate, "int32"), axis, keepdims=True)
        taken = tb.logical_or(taken, tb.equal(positions, at))
        values.append(best)
        indices.append(at)
    if k == 1:
        return values[0], indices[0]
    return tb.concat(*values, axis=axis), tb.concat(*indices, axis=axis)


def _top_k(n: NodeView) -> list[Value]:
    """K is an input from opset 10 (a 1-element int64 tensor), an attribute before; `largest`
    and `sorted` from opset 11."""
    x = n.term(0)
    k = int(n.const(1, "k").reshape(-1)[0]) if n.opset >= 10 else int(n.attr("k"))
    values, indices = top_k(x, k, n.attr("axis", -1) % x.type.rank, bool(n.attr("largest", 1)))
    return [values, indices]


TOPK_CONVERTERS = {"TopK": _top_k}
