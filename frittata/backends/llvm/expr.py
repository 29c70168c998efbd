"""Fused elementwise expressions over views, and the map kernel that evaluates them.

An `Expr` is a tree of `Leaf` (a view read at the iteration index), `Konst` and `Apply` (one
elementwise operator). `emit_map` makes one loop nest over the iteration shape that evaluates
the expression per element and stores it through the output view:

    for d0 in each chunk of axis 0 this thread takes:   for d1 ...:   out[view(d)] = expr(d)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llvmlite import ir

from frittata.backends.llvm import scalar
from frittata.backends.llvm.irutil import I1, for_range, i64, loop_nest, ltype, smax, smin
from frittata.backends.llvm.irutil import const as llconst
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View, collapse
from frittata.terms.ops import Op


@dataclass(frozen=True)
class Leaf:
    view: View

    @property
    def dtype(self) -> str:
        return self.view.dtype


@dataclass(frozen=True)
class Konst:
    value: Any
    dtype: str


@dataclass(frozen=True)
class Apply:
    op: Op
    attrs: tuple
    args: tuple
    dtype: str

    def attr(self, name: str) -> Any:
        return dict(self.attrs)[name]


Expr = Leaf | Konst | Apply


def leaves(expr: Expr) -> list[Leaf]:
    match expr:
        case Leaf():
            return [expr]
        case Konst():
            return []
        case Apply():
            return [leaf for arg in expr.args for leaf in leaves(arg)]


def _with_views(expr: Expr, views: dict[int, View]) -> Expr:
    match expr:
        case Leaf():
            return Leaf(views[id(expr)])
        case Konst():
            return expr
        case Apply():
            return Apply(expr.op, expr.attrs, tuple(_with_views(a, views) for a in expr.args), expr.dtype)


def load(k: Kernel, view: View, indices: list[ir.Value]) -> ir.Value:
    """Read `view` at `indices`; padded cells read as the fill value (no out-of-bounds load)."""
    b = k.b
    if view.bounds is None:
        return b.load(k.address(view, indices), typ=ltype(view.dtype))
    valid = ir.Constant(I1, 1)
    safe = []
    for index, (lo, hi) in zip(indices, view.bounds):
        inside = b.and_(b.icmp_signed(">=", index, i64(lo)), b.icmp_signed("<", index, i64(hi)))
        valid = b.and_(valid, inside)
        safe.append(b.select(inside, index, i64(lo)))
    value = b.load(k.address(view, safe), typ=ltype(view.dtype))
    return b.select(valid, value, llconst(view.dtype, view.fill))


def evaluate(k: Kernel, expr: Expr, indices: list[ir.Value]) -> ir.Value:
    """The scalar value of `expr` at `indices`."""
    match expr:
        case Leaf():
            return load(k, expr.view, indices)
        case Konst():
            return llconst(expr.dtype, expr.value)
        case Apply():
            values = [evaluate(k, a, indices) for a in expr.args]
            return scalar.elementwise(k.b, expr.op, expr.attrs, [a.dtype for a in expr.args], values)


def emit_map(k: Kernel, shape: tuple[int, ...], out: View, expr: Expr) -> None:
    """Loop nest over `shape` (axis 0 shared out in chunks, `Kernel.chunks`): out[i] = expr(i)."""
    emit_maps(k, [(shape, out, expr)])


def emit_maps(k: Kernel, maps: Sequence[tuple[tuple[int, ...], View, Expr]]) -> None:
    """The loop nests of several `emit_map`s (shape, out, expr) as one loop over their axes 0 end
    to end, shared out in chunks (`Kernel.chunks` takes from the work counter once between two
    barriers): a chunk runs the part of each nest it spans (concat's operands)."""
    nests = [_collapsed(shape, out, expr) for shape, out, expr in maps]
    total = sum(shape[0] for shape, _, _ in nests)
    b = k.b
    with k.chunks(total) as (first, end):
        start = 0
        for shape, out, expr in nests:
            stop = start + shape[0]
            # the chunk [first, end) clipped to this nest's [start, stop), from the nest's start
            lo = b.sub(smax(b, first, i64(start)), i64(start))
            hi = b.sub(smin(b, end, i64(stop)), i64(start))
            with for_range(b, lo, hi, name="p") as outer:
                with loop_nest(b, shape[1:]) as inner:
                    _store_at(k, out, expr, [outer] + inner)
            start = stop


def _collapsed(shape: tuple[int, ...], out: View, expr: Expr) -> tuple[tuple[int, ...], View, Expr]:
    """The map over `shape` with its axes merged where every view allows (at least one axis)."""
    expr_leaves = leaves(expr)
    shape, views = collapse(shape, [out] + [leaf.view for leaf in expr_leaves])
    if not shape:
        shape, views = (1,), [View(v.buf, (1,), v.offset, (0,), v.bounds, v.fill) for v in views]
    return shape, views[0], _with_views(expr, {id(leaf): v for leaf, v in zip(expr_leaves, views[1:])})


def _store_at(k: Kernel, out: View, expr: Expr, indices: list[ir.Value]) -> None:
    k.b.store(evaluate(k, expr, indices), k.address(out, indices))
