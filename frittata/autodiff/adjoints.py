"""The adjoints that several VJP templates share: of broadcasting (`sum_to`), of a reduction's
dropped axes (`unreduce`), of slicing (`unslice`: zero insertion and padding), zeros and
constant tensors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from frittata.errors import GradientError
from frittata.terms.builders import broadcast_to, const, pad, param, reduce_sum, reshape, slice
from frittata.terms.term import Term

Shape = tuple[int, ...]


def sum_to(g: Term, like: Term | Sequence[int]) -> Term:
    """The adjoint of broadcasting to g's shape: g summed over the axes broadcasting added or
    stretched, reshaped to `like`'s shape (a term or a shape)."""
    shape = tuple(like.shape if isinstance(like, Term) else like)
    if g.shape == shape:
        return g
    lead = len(g.shape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1]
    summed = reduce_sum(g, axes, keepdims=True) if axes else g
    return summed if summed.shape == shape else reshape(summed, shape)


def unreduce(g: Term, shape: Shape, axes: Sequence[int]) -> Term:
    """The adjoint of summing `shape` over `axes`: g (with or without the reduced axes kept as
    size 1) broadcast back to `shape`."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    g = g if g.shape == kept else reshape(g, kept)
    return g if kept == shape else broadcast_to(g, shape)


def zeros(shape: Sequence[int], dtype: str) -> Term:
    """A tensor of zeros: a broadcast scalar constant."""
    return broadcast_to(const(0, dtype), tuple(shape)) if tuple(shape) else const(0, dtype)


def constant(role: str, data: np.ndarray) -> Term:
    """A constant tensor as a parameter leaf named by its role and a hash of its bytes (two
    different constants never share a name)."""
    digest = hashlib.sha1(np.ascontiguousarray(data).tobytes() + str(data.shape).encode()).hexdigest()[:12]
    return param(f"{role}.{digest}", data)


def unslice(g: Term, shape: Shape, slices: Sequence[tuple[int, int | None, int]]) -> Term:
    """The adjoint of `slice(x, slices)` for x of `shape`: g's elements put back where they
    were taken from, zeros elsewhere (reversed, spread by the step, then padded)."""
    for where, (dim, (start, _, step)) in enumerate(zip(shape, slices)):
        count = g.shape[where]
        if count == 0:
            return zeros(shape, g.dtype)
        if step < 0:
            g = slice(g, [(0, d, 1) if i != where else (d - 1, None, -1) for i, d in enumerate(g.shape)])
            start, step = start + (count - 1) * step, -step
        g = _spread(g, where, step)
        pairs = [(0, 0)] * len(shape)
        pairs[where] = (start, dim - start - g.shape[where])
        if pairs[where] != (0, 0):
            g = pad(g, pairs)
    return g


def _spread(g: Term, where: int, step: int) -> Term:
    """g with step - 1 zeros between neighbours along axis `where`."""
    if step == 1:
        return g
    dims = g.shape
    cells = reshape(g, dims[:where + 1] + (1,) + dims[where + 1:])
    pairs = [(0, 0)] * len(cells.shape)
    pairs[where + 1] = (0, step - 1)
    grid = reshape(pad(cells, pairs), dims[:where] + (dims[where] * step,) + dims[where + 1:])
    keep = [(0, d, 1) for d in grid.shape]
    keep[where] = (0, (dims[where] - 1) * step + 1, 1)
    return slice(grid, keep)


def not_differentiable(node: Term, why: str) -> None:
    """Raise the GradientError of a VJP that has no gradient to give for `node`."""
    raise GradientError(f"grad: {node.op.name} at {node.type} is not differentiable: {why}")
