"""VJPs of the run-time indexing ops: a gather's adjoint is a scatter-add of the cotangent.

take (numpy `take` along an axis) scatters back with scatter_nd over the axis moved to the
front; gather_elements and gather_nd with scatter_elements / scatter_nd (gather_nd's batch axes
become leading index columns); the "add" scatters pass the cotangent to the data unchanged and
gather it for the updates. A scatter that overwrites ("none") passes the cotangent to the data
except where it wrote, and to each update only if that update is the one that stayed: the
writes are replayed with each update's own position number, and an update's cotangent is kept
where its number is the one read back (where indices repeat, the last write wins). The scatters
that fold with *, max or min have none. The index operands get none (they are integers).
"""

from __future__ import annotations

import math

import numpy as np

from frittata.autodiff.adjoints import constant, not_differentiable, zeros
from frittata.terms.builders import (broadcast_to, cast, concat, const, equal, gather_elements, gather_nd, reshape,
                                     scatter_elements, scatter_nd, transpose, where)
from frittata.terms.term import Term


def take_vjp(node: Term, g: Term) -> tuple[Term, None]:
    """d data = the cotangent rows added into the rows the indices name (along `axis`)."""
    data, indices = node.args
    axis, k = node.attr("axis"), indices.type.rank
    rank = g.type.rank
    front = list(range(axis, axis + k)) + list(range(axis)) + list(range(axis + k, rank))
    rows = transpose(g, front) if axis else g
    moved = (data.shape[axis],) + data.shape[:axis] + data.shape[axis + 1:]
    scattered = scatter_nd(zeros(moved, g.dtype), reshape(indices, indices.shape + (1,)), rows, reduction="add")
    if not axis:
        return scattered, None
    back = list(range(1, axis + 1)) + [0] + list(range(axis + 1, data.type.rank))
    return transpose(scattered, back), None


def gather_elements_vjp(node: Term, g: Term) -> tuple[Term, None]:
    data, indices = node.args
    return scatter_elements(zeros(data.shape, g.dtype), indices, g, node.attr("axis"), reduction="add"), None


def gather_nd_vjp(node: Term, g: Term) -> tuple[Term, None]:
    data, indices = node.args
    rows = _with_batch_columns(indices, node.attr("batch_dims"))
    return scatter_nd(zeros(data.shape, g.dtype), rows, g, reduction="add"), None


def _with_batch_columns(indices: Term, batch: int) -> Term:
    """gather_nd's indices [B1..Bb, ..., k] with batch_dims b as plain ones [B1..Bb, ..., b + k]:
    each row's batch position prepended, so a gather_nd without batch axes reads the same."""
    if not batch:
        return indices
    lead = indices.shape[:-1]
    grid = np.indices(lead[:batch]).reshape(batch, *lead[:batch], *(1,) * (len(lead) - batch))
    columns = np.moveaxis(np.broadcast_to(grid, (batch,) + lead), 0, -1).astype(np.int64)
    wide = indices if indices.dtype == "int64" else cast(indices, "int64")
    return concat(constant("batch_rows", np.ascontiguousarray(columns)), wide, axis=len(lead))


def scatter_vjp(node: Term, g: Term) -> tuple[Term, None, Term]:
    """The data's and the updates' cotangents of a scatter (see the module docstring)."""
    data, indices, updates = node.args
    reduction = node.attr("reduction")
    if reduction not in ("add", "none"):
        not_differentiable(node, f"a scatter that folds with {reduction!r} has no VJP (only 'add' and 'none')")
    if reduction == "add":
        return g, None, _gather_like(node, g, indices)
    order = constant("update_order", np.arange(math.prod(updates.shape), dtype=np.int64).reshape(updates.shape))
    written = _scatter_like(node, broadcast_to(const(-1, "int64"), data.shape), indices, order)
    kept = equal(_gather_like(node, written, indices), order)
    cleared = _scatter_like(node, g, indices, zeros(updates.shape, g.dtype))
    return cleared, None, where(kept, _gather_like(node, g, indices), zeros(updates.shape, g.dtype))


def _gather_like(node: Term, x: Term, indices: Term) -> Term:
    """The gather reading where the scatter `node` wrote."""
    if node.op.name == "scatter_nd":
        return gather_nd(x, indices)
    return gather_elements(x, indices, node.attr("axis"))


def _scatter_like(node: Term, x: Term, indices: Term, updates: Term) -> Term:
    """The overwriting scatter writing where `node` wrote."""
    if node.op.name == "scatter_nd":
        return scatter_nd(x, indices, updates, reduction="none")
    return scatter_elements(x, indices, updates, node.attr("axis"), reduction="none")
