"""Indexing by run-time values: take (ONNX Gather), gather_elements, gather_nd, scatter_elements,
scatter_nd and one_hot, whose indices are an operand (a program input or a computed tensor).

Indices are int32 or int64; a negative index counts from the end of its axis, as ONNX defines.
An index outside its valid range [-n, n) is never trusted: the interpreter raises
`RuntimeInputError` naming the operator, the index, its position and the range, and the LLVM
backend checks every index before any access. `one_hot` is the exception ONNX defines: an index
outside [-depth, depth) gives a row of `off` values. Gathers with indices known at import time
are `gather` (a movement op with the indices as an attribute); the ONNX converters here pick it
when they can.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from frittata.errors import RuntimeInputError
from frittata.terms.attr_forms import as_axis, as_int
from frittata.terms.dtypes import TensorType, check_dtype, is_float, is_int
from frittata.terms.elementwise import add
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.infer import axis_in, fail
from frittata.terms.ops import Attr, Cost, Op, define
from frittata.terms.term import Term, build

__all__ = ["take", "take_add", "gather_elements", "gather_nd", "scatter_elements", "scatter_nd", "one_hot",
           "check_indices"]
INDEX_DTYPES = ("int32", "int64")
REDUCTIONS = ("none", "add", "mul", "max", "min")
"""How a scatter combines an update with what is there: "none" overwrites (a later duplicate
index wins), the others fold every update in with +, *, max or min (order does not matter)."""
COMBINE = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
INDEXED = ("movement", "indexed")


def check_indices(op: str, indices: np.ndarray, bound: int | np.ndarray, what: str) -> np.ndarray:
    """`indices` with negative ones wrapped, after checking each lies in [-bound, bound);
    `bound` broadcasts against `indices`. Raises RuntimeInputError at the first bad one."""
    wide = np.asarray(indices).astype(np.int64)
    bound = np.broadcast_to(np.asarray(bound, np.int64), wide.shape)
    bad = (wide < -bound) | (wide >= bound)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        n = int(bound[at])
        raise RuntimeInputError(f"{op}: index {int(wide[at])} at position {at} of the indices is outside"
                                f" the valid range [{-n}, {n}) of {what}")
    return np.where(wide < 0, wide + bound, wide)


def _need_indices(op: Op, t: TensorType) -> None:
    if t.dtype not in INDEX_DTYPES:
        raise fail(op, f"indices of dtype {' or '.join(INDEX_DTYPES)}", t)


def _infer_take(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    data, indices = types
    _need_indices(op, indices)
    where = attrs["axis"]
    axis_in(op, where, data.rank)
    return TensorType(data.shape[:where] + indices.shape + data.shape[where + 1:], data.dtype)


def _take(node: Term, args: list[np.ndarray]) -> np.ndarray:
    data, indices = args
    where = node.attr("axis")
    flat = check_indices("take", indices, data.shape[where], f"axis {where} of data {node.args[0].type}")
    return np.take(data, flat, axis=where)


def _check_take_add(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    table, indices, addend = types
    taken = _infer_take(op, [table, indices], attrs)
    lead = taken.rank - addend.rank
    fits = lead >= 0 and all(a in (1, t) for a, t in zip(addend.shape, taken.shape[lead:]))
    if not fits or addend.dtype != table.dtype:
        raise fail(op, f"an addend of dtype {table.dtype} that broadcasts to {taken}", addend)


def _expand_take_add(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    return add(take(args[0], args[1], attrs["axis"]), args[2])


def _infer_gather_elements(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    data, indices = types
    _need_indices(op, indices)
    axis_in(op, attrs["axis"], data.rank)
    if indices.rank != data.rank:
        raise fail(op, f"indices of rank {data.rank} (the data's)", indices)
    if any(i > d for a, (i, d) in enumerate(zip(indices.shape, data.shape)) if a != attrs["axis"]):
        raise fail(op, f"indices no larger than the data {data} off axis {attrs['axis']}", indices)
    return TensorType(indices.shape, data.dtype)


def _gather_elements(node: Term, args: list[np.ndarray]) -> np.ndarray:
    data, indices = args
    where = node.attr("axis")
    flat = check_indices("gather_elements", indices, data.shape[where], f"axis {where} of data {node.args[0].type}")
    window = tuple(slice(None) if a == where else slice(0, n) for a, n in enumerate(indices.shape))
    return np.take_along_axis(data[window], flat, axis=where)


def _nd_bound(data: tuple[int, ...], depth: int, batch: int) -> np.ndarray:
    """The size of each axis a gather_nd / scatter_nd index row addresses."""
    return np.array(data[batch:batch + depth], np.int64)


def _infer_gather_nd(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    data, indices = types
    _need_indices(op, indices)
    batch = attrs["batch_dims"]
    if indices.rank < 1 or not 0 <= batch < min(data.rank, indices.rank):
        raise fail(op, f"batch_dims in [0, {min(data.rank, indices.rank)})", batch)
    depth = indices.shape[-1]
    if data.shape[:batch] != indices.shape[:batch] or not 1 <= depth <= data.rank - batch:
        rows = ", ".join([*map(str, data.shape[:batch]), "...", "k"])
        raise fail(op, f"indices [{rows}] with 1 <= k <= {data.rank - batch}", indices)
    return TensorType(indices.shape[:-1] + data.shape[batch + depth:], data.dtype)


def _gather_nd(node: Term, args: list[np.ndarray]) -> np.ndarray:
    data, indices = args
    batch, depth = node.attr("batch_dims"), indices.shape[-1]
    rows = check_indices("gather_nd", indices, _nd_bound(data.shape, depth, batch), f"data {node.args[0].type}")
    lead = math.prod(data.shape[:batch])
    flat_data = data.reshape((lead,) + data.shape[batch:])
    flat_rows = rows.reshape(lead, -1, depth)
    out = [flat_data[b][tuple(flat_rows[b].T)] for b in range(lead)]
    return np.stack(out).reshape(node.shape)


def _infer_scatter(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    data, indices, updates = types
    _need_indices(op, indices)
    if updates.dtype != data.dtype:
        raise fail(op, f"updates of dtype {data.dtype}", updates)
    if attrs["reduction"] not in REDUCTIONS:
        raise fail(op, f"reduction in {REDUCTIONS}", attrs["reduction"])
    if op is Op.SCATTER_ELEMENTS:
        axis_in(op, attrs["axis"], data.rank)
        if indices.rank != data.rank or updates.shape != indices.shape:
            raise fail(op, f"indices and updates of one shape, of rank {data.rank}", (indices, updates))
    else:
        depth = indices.shape[-1] if indices.rank else 0
        want = indices.shape[:-1] + data.shape[depth:]
        if indices.rank < 1 or not 1 <= depth <= data.rank or updates.shape != want:
            raise fail(op, f"indices [..., k] (1 <= k <= {data.rank}) and updates of shape indices[:-1] +"
                       " data[k:]", (indices, updates))
    return data


def _scatter_elements(node: Term, args: list[np.ndarray]) -> np.ndarray:
    data, indices, updates = args
    where = node.attr("axis")
    flat = check_indices("scatter_elements", indices, data.shape[where], f"axis {where} of data {node.args[0].type}")
    out = data.copy()
    grid: list[np.ndarray] = list(np.indices(indices.shape, sparse=True))
    grid[where] = flat
    _apply(out, tuple(grid), updates, node.attr("reduction"))
    return out


def _scatter_nd(node: Term, args: list[np.ndarray]) -> np.ndarray:
    data, indices, updates = args
    depth = indices.shape[-1]
    rows = check_indices("scatter_nd", indices, _nd_bound(data.shape, depth, 0), f"data {node.args[0].type}")
    out = data.copy()
    _apply(out, tuple(np.moveaxis(rows, -1, 0)), updates, node.attr("reduction"))
    return out


def _apply(out: np.ndarray, at: tuple, updates: np.ndarray, reduction: str) -> None:
    """Write `updates` at `at` in order (a later duplicate wins), or fold each one in."""
    if reduction == "none":
        out[at] = updates
    else:
        COMBINE[reduction].at(out, at, updates)


def _infer_one_hot(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (indices,) = types
    if not (is_int(indices.dtype) or is_float(indices.dtype)):
        raise fail(op, "numeric indices", indices)
    depth, where = attrs["depth"], attrs["axis"]
    if depth < 1:
        raise fail(op, "depth >= 1", depth)
    if not -indices.rank - 1 <= where <= indices.rank:
        raise fail(op, f"axis in [{-indices.rank - 1}, {indices.rank}]", where)
    where = where % (indices.rank + 1)
    return TensorType(indices.shape[:where] + (depth,) + indices.shape[where:], check_dtype(attrs["dtype"], "one_hot"))


def _one_hot(node: Term, args: list[np.ndarray]) -> np.ndarray:
    (indices,) = args
    depth = node.attr("depth")
    wide = indices.astype(np.int64)
    wide = np.where(wide < 0, wide + depth, wide)
    hot = wide[..., None] == np.arange(depth)
    hot = np.moveaxis(hot, -1, node.attr("axis") % (indices.ndim + 1))
    return np.where(hot, node.attr("on"), node.attr("off")).astype(node.dtype)


def _export(onnx_type: str, **attrs: str):
    def export(g, node: Term, args: list[str], out: str | None) -> str:
        return g.node(onnx_type, args, out, **{theirs: node.attr(ours) for theirs, ours in attrs.items()})

    return export


def _export_one_hot(g, node: Term, args: list[str], out: str | None) -> str:
    depth = g.constant(node.attr("depth"), "int64", "depth")
    values = g.constant([node.attr("off"), node.attr("on")], node.dtype, "values")
    return g.node("OneHot", args + [depth, values], out, axis=node.attr("axis"))


def _reduction(value: Any, first: TensorType | None) -> str:
    return str(value)


TAKE = define("take", 2, _infer_take, classes=INDEXED, cost=Cost.COPY,
              attrs=(Attr("axis", int, 0, as_axis("take"), lambda x: [0]),),
              evaluate=_take, onnx_export=_export("Gather", axis="axis"), vjp=lambda b, n, g: b.take_vjp(n, g))
TAKE_ADD = define("take_add", 3, infer_by_expansion(_check_take_add), classes=("kernel", "indexed"),
                  cost=Cost.COPY, attrs=(Attr("axis", int, 0, as_axis("take_add"), lambda x: [0]),),
                  expand=_expand_take_add)
GATHER_ELEMENTS = define("gather_elements", 2, _infer_gather_elements, classes=INDEXED, cost=Cost.COPY,
                         attrs=(Attr("axis", int, 0, as_axis("gather_elements"), lambda x: [0]),),
                         evaluate=_gather_elements, onnx_export=_export("GatherElements", axis="axis"),
                         vjp=lambda b, n, g: b.gather_elements_vjp(n, g))
GATHER_ND = define("gather_nd", 2, _infer_gather_nd, classes=INDEXED, cost=Cost.COPY,
                   attrs=(Attr("batch_dims", int, 0, as_int, lambda x: [0]),),
                   evaluate=_gather_nd, onnx_export=_export("GatherND", batch_dims="batch_dims"),
                   vjp=lambda b, n, g: b.gather_nd_vjp(n, g))
SCATTER_ELEMENTS = define("scatter_elements", 3, _infer_scatter, classes=INDEXED, cost=Cost.COPY,
                          attrs=(Attr("axis", int, 0, as_axis("scatter_elements"), lambda x: [0]),
                                 Attr("reduction", str, "none", _reduction, lambda x: list(REDUCTIONS))),
                          evaluate=_scatter_elements,
                          onnx_export=_export("ScatterElements", axis="axis", reduction="reduction"),
                          vjp=lambda b, n, g: b.scatter_vjp(n, g))
SCATTER_ND = define("scatter_nd", 3, _infer_scatter, classes=INDEXED, cost=Cost.COPY,
                    attrs=(Attr("reduction", str, "none", _reduction, lambda x: list(REDUCTIONS)),),
                    evaluate=_scatter_nd, onnx_export=_export("ScatterND", reduction="reduction"),
                    vjp=lambda b, n, g: b.scatter_vjp(n, g))
ONE_HOT = define("one_hot", 1, _infer_one_hot, classes=("movement",), cost=Cost.COPY,
                 attrs=(Attr("depth", int, normalize=as_int, choices=lambda x: [4]),
                        Attr("axis", int, -1, as_int, lambda x: [-1]),
                        Attr("off", (int, float), 0, lambda v, x: v, lambda x: [0]),
                        Attr("on", (int, float), 1, lambda v, x: v, lambda x: [1]),
                        Attr("dtype", str, "float32", lambda v, x: check_dtype(v, "one_hot"),
                             lambda x: ["float32"])),
                 evaluate=_one_hot, onnx_export=_export_one_hot)


def take(data: Term, indices: Term, axis: int = 0) -> Term:
    """ONNX Gather with run-time indices (numpy `take`): out[pre, idx..., post] =
    data[pre, indices[idx...], post] along `axis`; shape data[:axis] + indices + data[axis+1:]."""
    return build(TAKE, (data, indices), axis=axis)


def take_add(data: Term, indices: Term, addend: Term, axis: int = 0) -> Term:
    """take(data, indices, axis) + addend in one pass (an embedding lookup and the position
    embedding or bias added to it); the addend broadcasts to the take's shape."""
    return build(TAKE_ADD, (data, indices, addend), axis=axis)


def gather_elements(data: Term, indices: Term, axis: int = 0) -> Term:
    """ONNX GatherElements (numpy `take_along_axis`): out has the indices' shape, and
    out[i] = data[i with axis `axis` replaced by indices[i]]."""
    return build(GATHER_ELEMENTS, (data, indices), axis=axis)


def gather_nd(data: Term, indices: Term, batch_dims: int = 0) -> Term:
    """ONNX GatherND: each row of the last axis of `indices` (k values) picks a slice of
    `data` after its first `batch_dims` axes; shape indices[:-1] + data[batch_dims + k:]."""
    return build(GATHER_ND, (data, indices), batch_dims=batch_dims)


def scatter_elements(data: Term, indices: Term, updates: Term, axis: int = 0, reduction: str = "none") -> Term:
    """ONNX ScatterElements: a copy of `data` with updates[i] written (reduction "none", a
    later duplicate wins) or added ("add") at i with axis `axis` replaced by indices[i]."""
    return build(SCATTER_ELEMENTS, (data, indices, updates), axis=axis, reduction=reduction)


def scatter_nd(data: Term, indices: Term, updates: Term, reduction: str = "none") -> Term:
    """ONNX ScatterND: a copy of `data` where each row of the last axis of `indices` (k values)
    addresses a slice data[row], which gets (or, with "add", adds) the matching `updates` slice."""
    return build(SCATTER_ND, (data, indices, updates), reduction=reduction)


def one_hot(indices: Term, depth: int, axis: int = -1, off: float = 0, on: float = 1,
            dtype: str = "float32") -> Term:
    """ONNX OneHot: a new axis of `depth` at `axis` holding `on` where it equals the index
    (negative indices count from depth; float indices are truncated) and `off` elsewhere; an
    index out of [-depth, depth) gives all `off`."""
    return build(ONE_HOT, (indices,), depth=depth, axis=axis, off=off, on=on, dtype=dtype)
