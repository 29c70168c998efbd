"""ONNX import of CumSum (constant axis) as a matmul with a triangular matrix.

The running sums along an axis are x @ T with T[i, j] = 1 where position i counts towards
output j: i <= j (inclusive), i < j (exclusive), mirrored for `reverse`. The axis is moved last
and the other axes flattened so that one 2-D matmul computes every running sum.
"""

from __future__ import annotations

import math

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


def counts_towards(length: int, exclusive: bool, reverse: bool) -> np.ndarray:
    i, j = np.indices((length, length))
    before = (i > j) if reverse else (i < j)
    return before | ((i == j) & (not exclusive))


def cumsum(x: Term, axis: int, exclusive: bool, reverse: bool) -> Term:
    """Integers of up to 32 bits sum in the int32 matmul and are cast back (wrapping as numpy's
    running sums in their dtype do); 64-bit integers would not fit the int32 accumulator."""
    if x.dtype in ("int64", "uint64", "bool"):
        raise unsupported(f"CumSum of {x.type}; expected a float tensor or integers of up to 32 bits")
    rank = x.type.rank
    perm = [d for d in range(rank) if d != axis] + [axis]
    moved = tb.transpose(x, perm) if axis != rank - 1 else x
    length = x.shape[axis]
    rows = tb.reshape(moved, (math.prod(moved.shape[:-1]), length))
    triangle = tb.param(f"cumsum_{length}_{int(exclusive)}{int(reverse)}_{x.dtype}",
                        counts_towards(length, exclusive, reverse).astype(x.dtype))
    product = tb.matmul(rows, triangle)
    sums = tb.reshape(product if product.dtype == x.dtype else tb.cast(product, x.dtype), moved.shape)
    return tb.transpose(sums, list(np.argsort(perm))) if axis != rank - 1 else sums


def _cumsum(n: NodeView) -> Term:
    x = n.term(0)
    axis = int(n.const(1, "axis").reshape(-1)[0]) % max(x.type.rank, 1)
    return cumsum(x, axis, bool(n.attr("exclusive", 0)), bool(n.attr("reverse", 0)))


CUMSUM_CONVERTERS = {"CumSum": _cumsum}
