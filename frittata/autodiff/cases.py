"""Small float64 programs that exercise each op's VJP, for gradient checking.

A case builds one op over generated operands: `case(draw)` asks `draw` for dimensions and
choices (a numpy generator for `frittata grad check`, hypothesis in the tests), so one table
serves both. Operands of ops with a restricted domain are drawn through a guard that keeps
them inside it (log and sqrt of |x| + 1/2; a positive pow base); kinks (relu at 0, max ties)
are measure-zero for normal data. `CASES` must name every op that has a VJP.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.builders import param, var
from frittata.terms.ops import Op, ops_in_class
from frittata.terms.term import Term, build


class Draw(Protocol):
    """The source of a case's choices."""

    def dim(self, low: int = 1, high: int = 4) -> int: ...

    def choice(self, options: Sequence[Any]) -> Any: ...


Case = Callable[[Draw], Term]
DTYPE = "float64"
POSITIVE = {"log", "sqrt", "reciprocal"}


class _Operands:
    """Numbered float64 input leaves x0, x1, ..."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *shape: int) -> Term:
        self.count += 1
        return var(f"x{self.count - 1}", shape, DTYPE)


def _shape(d: Draw, rank: int | None = None) -> tuple[int, ...]:
    return tuple(d.dim() for _ in range(d.choice([0, 1, 2, 3]) if rank is None else rank))


def _positive(x: Term) -> Term:
    return tb.add(tb.abs(x), 0.5)


def _unary(op: Op) -> Case:
    def case(d: Draw) -> Term:
        x = _Operands()(*_shape(d))
        attrs = {a.name: d.choice(a.choices(x.type)) for a in op.attrs if a.choices is not None}
        return build(op, (_positive(x) if op.name in POSITIVE else x,), **attrs)

    return case


def _binary(op: Op) -> Case:
    def case(d: Draw) -> Term:
        new = _Operands()
        shape = _shape(d)
        other = tuple(d.choice([n, 1]) for n in shape)[d.choice(range(len(shape) + 1)):]
        a, b = (new(*shape), new(*other)) if d.choice([True, False]) else (new(*other), new(*shape))
        if op.name == "pow":
            a = _positive(a)
        if op.name == "div":
            b = _positive(b)
        return Term.make(op, (a, b))

    return case


def _reduce(op: Op) -> Case:
    def case(d: Draw) -> Term:
        x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
        axes = sorted({d.choice(range(x.type.rank)) for _ in range(d.dim(1, x.type.rank))})
        return build(op, (x,), axes=axes, keepdims=d.choice([False, True]))

    return case


def _matmul(d: Draw) -> Term:
    new, (m, k, n) = _Operands(), (d.dim(), d.dim(), d.dim())
    batch = _shape(d, d.choice([0, 1]))
    return tb.matmul(new(*batch, m, k), new(*tuple(d.choice([b, 1]) for b in batch), k, n))


def _dense(d: Draw) -> Term:
    new, k = _Operands(), d.dim()
    return tb.dense(new(*_shape(d, d.choice([1, 2, 3]))[:-1], k), new(d.dim(), k))


def _conv2d(d: Draw) -> Term:
    new, groups = _Operands(), d.choice([1, 1, 2])
    c, o = groups * d.dim(1, 2), groups * d.dim(1, 2)
    kh, kw = d.dim(1, 3), d.dim(1, 3)
    strides, dilations = (d.dim(1, 2), d.dim(1, 2)), (d.dim(1, 2), d.dim(1, 2))
    pads = tuple(d.choice([0, 1]) for _ in range(4))
    h = (kh - 1) * dilations[0] + d.dim(1, 4)
    w = (kw - 1) * dilations[1] + d.dim(1, 4)
    return tb.conv2d(new(d.dim(1, 2), c, h, w), new(o, c // groups, kh, kw), strides, pads, dilations, groups)


def _pool(op: Op) -> Case:
    def case(d: Draw) -> Term:
        kernel = (d.dim(1, 3), d.dim(1, 3))
        pads = tuple(d.choice(range(min(k, 2))) for k in kernel + kernel)
        x = _Operands()(d.dim(1, 2), d.dim(1, 2), kernel[0] + d.dim(0, 3), kernel[1] + d.dim(0, 3))
        extra = {"count_include_pad": d.choice([False, True])} if op == Op.AVG_POOL2D else {}
        return build(op, (x,), kernel=kernel, strides=(d.dim(1, 2), d.dim(1, 2)), pads=pads, **extra)

    return case


def _batch_norm(d: Draw) -> Term:
    new = _Operands()
    x = new(d.dim(1, 3), d.dim(), *_shape(d, d.choice([0, 1, 2])))
    c = x.shape[1]
    return tb.batch_norm(x, new(c), new(c), new(c), _positive(new(c)), eps=d.choice([1e-5, 0.1]))


def _layer_norm(d: Draw) -> Term:
    new = _Operands()
    x = new(*_shape(d, d.choice([1, 2, 3])))
    axis = d.choice(range(x.type.rank))
    return tb.layer_norm(x, new(*x.shape[axis:]), new(*x.shape[axis:]), axis=axis)


def _softmax(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    return tb.softmax(x, d.choice(range(x.type.rank)))


def _slice(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    triples = []
    for n in x.shape:
        step = d.choice([1, 2, -1, -2])
        start = d.choice(range(n))
        triples.append((start, d.choice([None, 0]) if step < 0 else n, step))
    return tb.slice(x, triples)


def _concat(d: Draw) -> Term:
    new, shape = _Operands(), _shape(d, d.choice([1, 2]))
    axis = d.choice(range(len(shape)))
    parts = [new(*shape[:axis], d.dim(), *shape[axis + 1:]) for _ in range(d.dim(1, 3))]
    return tb.concat(*parts, axis=axis)


def _gather(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    axis = d.choice(range(x.type.rank))
    indices = [d.choice(range(x.shape[axis])) for _ in range(d.dim(1, 4))]
    return tb.gather(x, indices, axis)


def _pad(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    return tb.pad(x, [(d.dim(0, 2), d.dim(0, 2)) for _ in x.shape], d.choice([0.0, 1.5]))


def _transpose(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    return tb.transpose(x, d.choice(_perms(x.type.rank)))


def _perms(rank: int) -> list[tuple[int, ...]]:
    axes = tuple(range(rank))
    return [tuple(reversed(axes))] + [axes[i:] + axes[:i] for i in range(rank)]


def _reshape(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    return tb.reshape(x, d.choice([(x.type.size,), x.shape[::-1], (1,) + x.shape]))


def _broadcast_to(d: Draw) -> Term:
    x = _Operands()(*_shape(d))
    return tb.broadcast_to(x, (d.dim(),) + tuple(n if n != 1 else d.dim() for n in x.shape))


def _where(d: Draw) -> Term:
    new, shape = _Operands(), _shape(d)
    return tb.where(tb.greater(new(*shape), 0.0), new(*shape), new(*shape[d.choice(range(len(shape) + 1)):]))


def _cast(d: Draw) -> Term:
    return tb.cast(_Operands()(*_shape(d)), "float64")


def _global_avg_pool(d: Draw) -> Term:
    return tb.global_avg_pool(_Operands()(d.dim(1, 2), d.dim(1, 3), d.dim(), d.dim()))


def _indices(d: Draw, shape: tuple[int, ...], bound: int) -> Term:
    """A constant int64 index tensor of `shape`, each index in [-bound, bound)."""
    values = np.array([d.choice(range(-bound, bound)) for _ in range(math.prod(shape))], np.int64)
    return param(f"i{shape}", values.reshape(shape))


def _take(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    axis = d.choice(range(x.type.rank))
    return tb.take(x, _indices(d, _shape(d, d.choice([0, 1, 2])), x.shape[axis]), axis)


def _gather_elements(d: Draw) -> Term:
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    axis = d.choice(range(x.type.rank))
    shape = tuple(n if i != axis else d.dim() for i, n in enumerate(x.shape))
    return tb.gather_elements(x, _indices(d, shape, x.shape[axis]), axis)


def _gather_nd(d: Draw) -> Term:
    """With batch_dims 0 or 1: the indices' leading axis then runs along the data's."""
    x = _Operands()(*_shape(d, d.choice([1, 2, 3])))
    batch = d.choice([0, 1]) if x.type.rank > 1 else 0
    k = d.dim(1, x.type.rank - batch)
    rows = x.shape[:batch] + _shape(d, d.choice([1, 2]))
    values = [[d.choice(range(x.shape[batch + j])) for j in range(k)] for _ in range(math.prod(rows))]
    indices = param(f"nd{rows}b{batch}", np.array(values, np.int64).reshape(rows + (k,)))
    return tb.gather_nd(x, indices, batch_dims=batch)


def _scatter_elements(d: Draw) -> Term:
    new = _Operands()
    x = new(*_shape(d, d.choice([1, 2, 3])))
    axis = d.choice(range(x.type.rank))
    shape = tuple(n if i != axis else d.dim() for i, n in enumerate(x.shape))
    return tb.scatter_elements(x, _indices(d, shape, x.shape[axis]), new(*shape), axis,
                               reduction=d.choice(["add", "none"]))


def _scatter_nd(d: Draw) -> Term:
    new = _Operands()
    x = new(*_shape(d, d.choice([1, 2, 3])))
    k = d.dim(1, x.type.rank)
    rows = _shape(d, d.choice([1, 2]))
    values = [[d.choice(range(x.shape[j])) for j in range(k)] for _ in range(math.prod(rows))]
    indices = param(f"nd{rows}", np.array(values, np.int64).reshape(rows + (k,)))
    return tb.scatter_nd(x, indices, new(*rows, *x.shape[k:]), reduction=d.choice(["add", "none"]))


def _table() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for op in ops_in_class("elementwise"):
        if op.vjp is not None and op.is_a("unary"):
            cases[op.name] = _unary(op)
        elif op.vjp is not None and op.is_a("binary"):
            cases[op.name] = _binary(op)
    for op in ops_in_class("reduction"):
        if op.vjp is not None:
            cases[op.name] = _reduce(op)
    cases.update(matmul=_matmul, dense=_dense, conv2d=_conv2d, max_pool2d=_pool(Op.MAX_POOL2D),
                 avg_pool2d=_pool(Op.AVG_POOL2D), global_avg_pool=_global_avg_pool, batch_norm=_batch_norm,
                 layer_norm=_layer_norm, softmax=_softmax, slice=_slice, concat=_concat, gather=_gather, pad=_pad,
                 transpose=_transpose, reshape=_reshape, broadcast_to=_broadcast_to, where=_where, cast=_cast,
                 take=_take, gather_elements=_gather_elements, gather_nd=_gather_nd,
                 scatter_elements=_scatter_elements, scatter_nd=_scatter_nd)
    return cases


CASES: dict[str, Case] = _table()
"""A gradient-check case for every op that has a VJP, by op name."""
