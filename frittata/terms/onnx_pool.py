"""ONNX-import converters of MaxPool and AveragePool.

2-D pooling without dilation becomes `max_pool2d` / `avg_pool2d`. Every other window (1-D,
3-D, dilated, or an average over a partial ceil-mode window that counts padding) is built from
the window's definition: the input padded once, one strided slice per kernel offset, combined
with `maximum` or `add`, and an average divided by the constant count of cells each window
covers. MaxPool's optional Indices output is built the same way: per cell, where it holds the
window's maximum and no earlier cell did, its flat input position. That costs one slice per
kernel cell, which is fine for the small kernels such models use and keeps these rarer forms
out of the kernels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_nn import window_pads
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


@dataclass(frozen=True)
class Window:
    """A pooling window over the spatial axes: pads are (begins..., ends...) as the node gives
    them; `extra` is the end padding ceil mode adds so the last window that starts inside the
    (padded) input is kept."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[int, ...]
    extra: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.kernel)

    def begin(self, i: int) -> int:
        return self.pads[i]

    def end(self, i: int) -> int:
        return self.pads[self.rank + i] + self.extra[i]

    def span(self, i: int) -> int:
        return (self.kernel[i] - 1) * self.dilations[i] + 1

    def out(self, i: int, size: int) -> int:
        return (size + self.begin(i) + self.end(i) - self.span(i)) // self.strides[i] + 1

    def plain_2d(self) -> bool:
        return self.rank == 2 and self.dilations == (1, 1)


def _window(n: NodeView, x: Term) -> Window:
    if x.type.rank < 3:
        raise unsupported(f"pooling of a rank-{x.type.rank} tensor {x.type}; expected [N, C, spatial...]")
    size = x.shape[2:]
    rank = len(size)
    kernel = tuple(n.attr("kernel_shape"))
    strides = tuple(n.attr("strides", [1] * rank))
    dilations = tuple(n.attr("dilations", [1] * rank))
    if not len(kernel) == len(strides) == len(dilations) == rank:
        raise unsupported(f"pooling of {x.type} with kernel {kernel}, strides {strides}, dilations {dilations};"
                          f" expected {rank} of each")
    pads = tuple(window_pads(n, size, kernel, strides, dilations))
    window = Window(kernel, strides, dilations, pads, (0,) * rank)
    if n.attr("ceil_mode", 0):
        extra = tuple(_ceil_extra(size[i], window.span(i), strides[i], pads[i], pads[rank + i]) for i in range(rank))
        window = Window(kernel, strides, dilations, pads, extra)
    return window


def _ceil_extra(size: int, span: int, stride: int, begin: int, end: int) -> int:
    """Padding that turns the floor output length into ceil mode's (last window starts in bounds)."""
    out = -(-(size + begin + end - span) // stride) + 1
    if (out - 1) * stride >= size + begin:
        out -= 1
    return max(0, (out - 1) * stride + span - (size + begin + end))


def _offsets(window: Window) -> list[tuple[int, ...]]:
    """The kernel's cells, row-major (the order ONNX breaks ties of a maximum in)."""
    return list(itertools.product(*(range(k) for k in window.kernel)))


def _parts(x: Term, window: Window, fill: float | int) -> list[Term]:
    """Per kernel cell, the strided slice of x padded with `fill` that the cell reads."""
    size = x.shape[2:]
    padded = tb.pad(x, [(0, 0), (0, 0)] + [(window.begin(i), window.end(i)) for i in range(window.rank)], fill)
    outs = [window.out(i, d) for i, d in enumerate(size)]
    parts = []
    for offset in _offsets(window):
        starts = [j * dil for j, dil in zip(offset, window.dilations)]
        slices = [(0, x.shape[0], 1), (0, x.shape[1], 1)] + [
            (s, s + (o - 1) * stride + 1, stride) for s, o, stride in zip(starts, outs, window.strides)]
        parts.append(tb.slice(padded, slices))
    return parts


def _combine(x: Term, window: Window, fill: float | int, join: Callable[[Term, Term], Term]) -> Term:
    """join over the kernel cells of the strided slices of x padded with `fill`."""
    return reduce(join, _parts(x, window, fill))


def _argmax_indices(n: NodeView, x: Term, window: Window, parts: list[Term], y: Term) -> Term:
    """MaxPool's Indices: the flat input position of each window's first maximum (row-major
    over N, C and the spatial axes; storage_order 1 makes the spatial axes column-major)."""
    size = x.shape[2:]
    outs = [window.out(i, d) for i, d in enumerate(size)]
    spatial_strides = np.cumprod((1,) + size[:-1]) if n.attr("storage_order", 0) else \
        np.cumprod((1,) + size[::-1][:-1])[::-1]
    plane = int(np.prod(size))
    base = (np.arange(x.shape[0] * x.shape[1], dtype=np.int64) * plane).reshape(x.shape[:2] + (1,) * window.rank)
    key = n.node.output[1]
    total: Term | None = None
    taken: Term | None = None
    for k, offset in enumerate(_offsets(window)):
        grids = np.meshgrid(*(np.arange(o) * window.strides[i] + offset[i] * window.dilations[i] - window.begin(i)
                              for i, o in enumerate(outs)), indexing="ij")
        flat = np.sum([g * int(s) for g, s in zip(grids, spatial_strides)], axis=0, dtype=np.int64)
        position = tb.add(n.importer.term(f"{key}:base", base),
                          n.importer.term(f"{key}:cell{k}", flat.reshape((1, 1) + flat.shape)))
        hit = tb.equal(parts[k], y)
        first = hit if taken is None else tb.logical_and(hit, tb.logical_not(taken))
        taken = hit if taken is None else tb.logical_or(taken, hit)
        chosen = tb.where(first, position, 0)
        total = chosen if total is None else tb.add(total, chosen)
    assert total is not None
    return total


def _counts(size: tuple[int, ...], window: Window, include_pad: bool) -> np.ndarray:
    """How many cells of each window lie in the input (or, with include_pad, in the input and
    its explicit padding; ceil mode's extra cells never count)."""
    per_axis = []
    for i, d in enumerate(size):
        low, high = (-window.begin(i), d + window.pads[window.rank + i]) if include_pad else (0, d)
        starts = np.arange(window.out(i, d)) * window.strides[i] - window.begin(i)
        cells = starts[:, None] + np.arange(window.kernel[i])[None, :] * window.dilations[i]
        per_axis.append(((cells >= low) & (cells < high)).sum(axis=1))
    return reduce(np.multiply.outer, per_axis)


def _lowest(x: Term) -> float | int:
    return -math.inf if np.dtype(x.dtype).kind == "f" else int(np.iinfo(x.dtype).min)


def _max_pool(n: NodeView) -> Term | list[Term]:
    """The maximum; with a second output, also the Indices of each window's first maximum."""
    x = n.term(0)
    window = _window(n, x)
    wants_indices = len(n.node.output) > 1 and bool(n.node.output[1])
    if window.plain_2d() and not wants_indices:
        return tb.max_pool2d(x, window.kernel, window.strides, _padding_2d(window))
    parts = _parts(x, window, _lowest(x))
    y = reduce(tb.maximum, parts)
    return [y, _argmax_indices(n, x, window, parts, y)] if wants_indices else y


def _avg_pool(n: NodeView) -> Term:
    x = n.term(0)
    window = _window(n, x)
    include_pad = bool(n.attr("count_include_pad", 0))
    if window.plain_2d() and not (include_pad and any(window.extra)):
        return tb.avg_pool2d(x, window.kernel, window.strides, _padding_2d(window), include_pad)
    counts = _counts(x.shape[2:], window, include_pad).astype(x.dtype)
    divisor = n.importer.term(n.node.output[0] + ":counts", counts.reshape((1, 1) + counts.shape))
    return tb.div(_combine(x, window, 0, tb.add), divisor)


def _padding_2d(window: Window) -> tuple[int, int, int, int]:
    return (window.begin(0), window.begin(1), window.end(0), window.end(1))


POOL_CONVERTERS: dict[str, Callable[[NodeView], Any]] = {"MaxPool": _max_pool, "AveragePool": _avg_pool}
