"""The softmax with an elementwise prologue (`fused_softmax`): each row's prologue values are
computed into the output row, then the softmax's passes run there in place.

    for each row r this thread takes:
        out[r, j] = E(operands at r, j)        (one pass; the scores are read once)
        out[r, :] = softmax(out[r, :])         (`softmax_rows` in vectors, or four scalar passes)

The row is in L1 after the prologue pass, so the softmax's passes read no memory.
"""

from __future__ import annotations

import dataclasses
import math

from frittata.backends.llvm import reduce, softmax_rows
from frittata.backends.llvm.expr import Apply, Expr, Konst, Leaf, evaluate
from frittata.backends.llvm.irutil import for_range, i64, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View, transpose


def emit(k: Kernel, prologue: Expr, axis: int, out: View) -> None:
    """out = softmax(prologue, axis); the prologue's leaves are views of out's shape."""
    rank = len(out.shape)
    perm = tuple([d for d in range(rank) if d != axis] + [axis])
    expr, outs = _transposed(prologue, perm), transpose(out, perm)
    outer, n = outs.shape[:-1], outs.shape[-1]
    b = k.b
    vector = softmax_rows.applies(outs, outs, k.lanes)
    with k.take(math.prod(outer), name="o") as o:
        idx = unflatten(b, o, outer)
        with for_range(b, 0, n, name="pj") as j:
            b.store(evaluate(k, expr, idx + [j]), k.address(outs, idx + [j]))
        if vector:
            start = k.address(outs, idx + [i64(0)])
            softmax_rows.emit_row(b, start, start, n, k.lanes)
        else:
            reduce.softmax_row(k, outs, outs, idx)


def _transposed(expr: Expr, perm: tuple[int, ...]) -> Expr:
    match expr:
        case Leaf():
            return Leaf(transpose(expr.view, perm))
        case Konst():
            return expr
        case Apply():
            return dataclasses.replace(expr, args=tuple(_transposed(a, perm) for a in expr.args))
