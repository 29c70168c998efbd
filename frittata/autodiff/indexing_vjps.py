"""VJPs of the run-time indexing ops: a gather's adjoint is a scatter-add of the cotangent.

take (numpy `take` along an axis) scatters back with scatter_nd over the axis moved to the
front; gather_elements and gather_nd (without batch axes) with scatter_elements / scatter_nd;
the "add" scatters pass the cotangent to the data unchanged and gather it for the updates. The
index operands get none (they are integers), and a scatter that overwrites ("none") has no VJP
here: where indices repeat, only the last write's update reaches the output, which a gather
cannot tell.
"""

from __future__ import annotations

from frittata.autodiff.adjoints import not_differentiable, zeros
from frittata.terms.builders import (gather_elements, gather_nd, reshape, scatter_elements, scatter_nd,
                                     transpose)
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
    if node.attr("batch_dims"):
        not_differentiable(node, "gather_nd with batch_dims > 0 has no VJP yet")
    return scatter_nd(zeros(data.shape, g.dtype), indices, g, reduction="add"), None


def scatter_vjp(node: Term, g: Term) -> tuple[Term, None, Term]:
    """An "add" scatter: the data's cotangent is g, the updates' is g gathered where they went."""
    _, indices, _ = node.args
    if node.attr("reduction") != "add":
        not_differentiable(node, f"only a scatter that adds has a VJP; reduction {node.attr('reduction')!r} "
                                 "overwrites (only the last of repeated indices reaches the output) or folds "
                                 "with *, max or min")
    if node.op.name == "scatter_nd":
        return g, None, gather_nd(g, indices)
    return g, None, gather_elements(g, indices, node.attr("axis"))

