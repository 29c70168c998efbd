"""Type rules of the data-movement operators (reshape, transpose, concat, slice, pad, gather)."""

from __future__ import annotations

import math
from typing import Any

from frittata.terms.dtypes import TensorType
from frittata.terms.infer import fail
from frittata.terms.ops import Op


def infer_movement(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    if op == Op.CONCAT:
        return _concat(types, attrs["axis"])
    if len(types) != 1:
        raise fail(op, "1 operand", len(types))
    (x,) = types
    match op:
        case Op.RESHAPE:
            shape = tuple(attrs["shape"])
            if any(d < 0 for d in shape) or math.prod(shape) != x.size:
                raise fail(op, f"a shape of {x.size} elements", f"{shape} for {x}")
            return TensorType(shape, x.dtype)
        case Op.TRANSPOSE:
            perm = tuple(attrs["perm"])
            if sorted(perm) != list(range(x.rank)):
                raise fail(op, f"a permutation of range({x.rank})", perm)
            return TensorType(tuple(x.shape[p] for p in perm), x.dtype)
        case Op.SLICE:
            return _slice(x, attrs["slices"])
        case Op.PAD:
            pads = attrs["pads"]
            if len(pads) != x.rank or any(b < 0 or a < 0 for b, a in pads):
                raise fail(op, f"{x.rank} non-negative (before, after) pairs", pads)
            return TensorType(tuple(d + b + a for d, (b, a) in zip(x.shape, pads)), x.dtype)
        case Op.GATHER:
            return _gather(x, attrs)
        case _:
            raise AssertionError(f"{op} is not a data-movement operator")


def _concat(types: list[TensorType], axis: int) -> TensorType:
    if not types:
        raise fail(Op.CONCAT, "at least one operand", 0)
    first = types[0]
    if not 0 <= axis < first.rank:
        raise fail(Op.CONCAT, f"axis in [0, {first.rank})", axis)
    for t in types[1:]:
        rest_t = t.shape[:axis] + t.shape[axis + 1:]
        rest_f = first.shape[:axis] + first.shape[axis + 1:]
        if t.dtype != first.dtype or t.rank != first.rank or rest_t != rest_f:
            raise fail(Op.CONCAT, f"operands like {first} except along axis {axis}", t)
    size = sum(t.shape[axis] for t in types)
    return TensorType(first.shape[:axis] + (size,) + first.shape[axis + 1:], first.dtype)


def _slice(x: TensorType, slices: tuple) -> TensorType:
    """`slices` holds one (start, stop, step) per axis, normalized by `builders.normalize_slice`."""
    if len(slices) != x.rank:
        raise fail(Op.SLICE, f"{x.rank} (start, stop, step) triples", slices)
    shape = []
    for dim, (start, stop, step) in zip(x.shape, slices):
        bounds = slice(start, stop, step).indices(dim) if step else None
        if bounds is None or bounds[::2] != (start, step) or (stop is not None and bounds[1] != stop):
            raise fail(Op.SLICE, f"a normalized slice of an axis of {dim}", (start, stop, step))
        shape.append(len(range(*bounds)))
    return TensorType(tuple(shape), x.dtype)


def _gather(x: TensorType, attrs: dict[str, Any]) -> TensorType:
    axis, indices, ishape = attrs["axis"], attrs["indices"], tuple(attrs["indices_shape"])
    if not 0 <= axis < x.rank:
        raise fail(Op.GATHER, f"axis in [0, {x.rank})", axis)
    if len(indices) != math.prod(ishape) or any(not 0 <= i < x.shape[axis] for i in indices):
        raise fail(Op.GATHER, f"{math.prod(ishape)} indices in [0, {x.shape[axis]})", indices)
    return TensorType(x.shape[:axis] + ishape + x.shape[axis + 1:], x.dtype)
