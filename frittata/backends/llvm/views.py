"""Strided views of planned buffers: how data-movement operators address memory without copies.

A `Buf` is a planned region (a pointer slot plus a byte offset). A `View` maps an index
(i_0, ..., i_{r-1}) of its shape to element `offset + sum(i_d * strides_d)` of its buffer;
optional `bounds` (lo, hi) per axis mark indices outside [lo, hi) as `fill` (padding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from frittata.terms.dtypes import TensorType


@dataclass(frozen=True)
class Buf:
    """A planned buffer: `slot` indexes the runtime pointer table, `offset` is in bytes."""

    slot: int
    offset: int
    type: TensorType

    @property
    def dtype(self) -> str:
        return self.type.dtype


@dataclass(frozen=True)
class View:
    buf: Buf
    shape: tuple[int, ...]
    offset: int
    strides: tuple[int, ...]
    bounds: tuple[tuple[int, int], ...] | None = None
    fill: float | int = 0

    @property
    def dtype(self) -> str:
        return self.buf.dtype


def row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a contiguous row-major array."""
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return tuple(reversed(strides))


def contiguous(buf: Buf, shape: tuple[int, ...] | None = None) -> View:
    """The whole buffer, read row-major in `shape` (default: its own shape)."""
    shape = buf.type.shape if shape is None else tuple(shape)
    assert math.prod(shape) == buf.type.size, f"view of {shape} over {buf.type}"
    return View(buf, shape, 0, row_major(shape))


def transpose(v: View, perm: tuple[int, ...]) -> View:
    return View(v.buf, tuple(v.shape[p] for p in perm), v.offset, tuple(v.strides[p] for p in perm))


def slice_view(v: View, slices: tuple) -> View:
    """Python slicing with normalized (start, stop, step) triples, one per axis."""
    offset, shape, strides = v.offset, [], []
    for dim, stride, (start, stop, step) in zip(v.shape, v.strides, slices):
        offset += start * stride
        shape.append(len(range(*slice(start, stop, step).indices(dim))))
        strides.append(stride * step)
    return View(v.buf, tuple(shape), offset, tuple(strides))


def broadcast_to(v: View, shape: tuple[int, ...]) -> View:
    """numpy broadcasting: align right; size-1 axes stretched to `shape` get stride 0."""
    lead = len(shape) - len(v.shape)
    strides = [0] * lead + [0 if d == 1 and s != 1 else st for d, s, st in
                            zip(v.shape, shape[lead:], v.strides)]
    return View(v.buf, tuple(shape), v.offset, tuple(strides))


def channel_view(buf: Buf, rank: int) -> View:
    """A per-channel vector [C] seen as shape (1, C, 1, ...) of `rank` axes."""
    shape = (1, buf.type.shape[0]) + (1,) * (rank - 2)
    return View(buf, shape, 0, (0, 1) + (0,) * (rank - 2))


def padded(v: View, pads: tuple[tuple[int, int], ...], fill) -> View:
    """The view padded by (before, after) per axis; padding cells read as `fill`."""
    shape = tuple(d + b + a for d, (b, a) in zip(v.shape, pads))
    offset = v.offset - sum(b * s for (b, _), s in zip(pads, v.strides))
    bounds = tuple((b, b + d) for d, (b, _) in zip(v.shape, pads))
    return View(v.buf, shape, offset, v.strides, bounds, fill)


def nchwc_strides(shape: tuple[int, ...], c: int) -> tuple[int, ...]:
    """Strides that address an NCHW array of `shape` as [N, C/c, H, W, c]."""
    n, ch, h, w = shape
    return (ch * h * w, c * h * w, w, 1, h * w)


def scatter_nchwc(buf: Buf, c: int) -> View:
    """The NCHW buffer `buf` addressed by an [N, C/c, H, W, c] index (for unpack_nchwc)."""
    n, ch, h, w = buf.type.shape
    return View(buf, (n, ch // c, h, w, c), 0, nchwc_strides(buf.type.shape, c))


def collapse(shape: tuple[int, ...], views: list[View]) -> tuple[tuple[int, ...], list[View]]:
    """Merge adjacent axes that every view walks contiguously and drop size-1 axes (not padded views)."""
    if any(v.bounds is not None for v in views):
        return shape, views
    merged: list[list] = []
    for d, size in enumerate(shape):
        strides = [v.strides[d] for v in views]
        if size == 1:
            continue
        if merged and all(ps == s * size for ps, s in zip(merged[-1][1], strides)):
            merged[-1] = [merged[-1][0] * size, strides]
        else:
            merged.append([size, strides])
    new_shape = tuple(m[0] for m in merged)
    return new_shape, [replace(v, shape=new_shape, strides=tuple(m[1][i] for m in merged))
                       for i, v in enumerate(views)]
