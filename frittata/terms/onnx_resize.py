"""ONNX import of Resize (opsets 10+) and Upsample (opsets 7-9) as gathers along each axis.

A nearest-neighbour resize of one axis is a `gather` of source indices computed at import
time; a linear one is two gathers and a lerp with constant weights. Every other form (cubic,
antialiased, tf_crop_and_resize) is a weighted sum of gathers, one per tap of the filter: the
taps of each output are the n input positions nearest its source coordinate (the left one
first on a tie, edges repeated), their weights the filter's at those distances, computed at
import time, plus a constant where tf_crop_and_resize extrapolates. Interpolation is separable,
so a resize of several axes is one such step per resized axis.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term

NEAREST: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "round_prefer_floor": lambda x: np.ceil(x - 0.5),
    "round_prefer_ceil": lambda x: np.floor(x + 0.5),
    "floor": np.floor,
    "ceil": np.ceil,
}


@dataclass(frozen=True)
class How:
    """A Resize node's interpolation: mode, coordinate mode, nearest rounding, the cubic
    filter's A, exclude_outside, antialias, tf_crop_and_resize's extrapolation value and region
    of interest (starts then ends, one per axis)."""

    mode: str
    coordinates: str
    nearest: str = "round_prefer_floor"
    cubic_a: float = -0.75
    exclude_outside: bool = False
    antialias: bool = False
    extrapolation: float = 0.0
    roi: tuple[float, ...] = ()

    def taps_needed(self) -> bool:
        return self.mode == "cubic" or self.antialias or self.coordinates == "tf_crop_and_resize"


def source_coordinates(mode: str, out: int, size: int, scale: float,
                       roi: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """The input coordinate of each output position along one axis (ONNX coordinate modes).

    `out` positions are computed; the resized length in the formulas is `size * scale`, which
    is `out` when sizes were given and may be fractional when scales were. `roi` is the
    axis's region (start, end) for tf_crop_and_resize."""
    x = np.arange(out, dtype=np.float64)
    length = size * scale
    match mode:
        case "tf_crop_and_resize":
            start, end = roi
            if length == 1:
                return np.full(out, (end - start) * (size - 1) / 2 + start * (size - 1))
            return x * (end - start) * (size - 1) / (length - 1) + start * (size - 1)
        case "half_pixel":
            return (x + 0.5) / scale - 0.5
        case "half_pixel_symmetric":
            offset = size / 2 * (1 - out / length)
            return offset + (x + 0.5) / scale - 0.5
        case "pytorch_half_pixel":
            return (x + 0.5) / scale - 0.5 if length > 1 else np.zeros(out)
        case "align_corners":
            return x * (size - 1) / (length - 1) if length > 1 else np.zeros(out)
        case "asymmetric":
            return x / scale
    raise unsupported(f"Resize coordinate_transformation_mode {mode!r}")


def _filter(how: How, ratio: np.ndarray, scale: float) -> np.ndarray:
    """The weights [out, n] of the n taps at offsets 1 - n/2 ... n/2 from each output's left
    neighbour, whose distance to the source coordinate is `ratio` (in (0, 1])."""
    a = how.cubic_a

    def cubic(d: np.ndarray) -> np.ndarray:
        d = np.abs(d)
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        return np.where(d <= 1, near, np.where(d < 2, far, 0.0))

    support = 2 if how.mode == "cubic" else 1
    shrink = min(scale, 1.0) if how.antialias else 1.0
    first = math.floor(-support / shrink) + 1
    offsets = np.arange(first, 2 - first)[None, :] - ratio[:, None]
    weights = cubic(offsets * shrink) if how.mode == "cubic" else np.clip(1 - np.abs(offsets * shrink), 0, 1)
    return weights / weights.sum(axis=1, keepdims=True) if how.antialias else weights


def _taps(how: How, source: np.ndarray, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), each [n, out]: the input positions each output reads and their weights."""
    if how.mode == "nearest":
        return np.clip(NEAREST[how.nearest](source), 0, size - 1).astype(np.int64)[None], np.ones((1, source.size))
    base = np.ceil(source) - 1
    weights = _filter(how, source - base, scale)
    n = weights.shape[1]
    positions = base[:, None].astype(np.int64) + np.arange(1 - n // 2, n // 2 + 1)[None, :]
    if how.exclude_outside:
        weights = np.where((positions >= 0) & (positions < size), weights, 0.0)
        weights = weights / weights.sum(axis=1, keepdims=True)
    return np.clip(positions, 0, size - 1).T, weights.T


def _weighted_taps(x: Term, axis: int, out: int, scale: float, how: How) -> Term:
    """The general form: sum over taps of gather * weight, plus the extrapolated constant."""
    size, rank = x.shape[axis], x.type.rank
    roi = (how.roi[axis], how.roi[rank + axis]) if how.roi else (0.0, 1.0)
    source = source_coordinates(how.coordinates, out, size, scale, roi)
    indices, weights = _taps(how, source, size, scale)
    slack = 1e-6 * size  # a coordinate at an edge up to rounding (onnxruntime computes them in float32) is inside
    cropping = how.coordinates == "tf_crop_and_resize"
    outside = (source < -slack) | (source > size - 1 + slack) if cropping else np.zeros(out, bool)
    weights = np.where(outside[None, :], 0.0, weights)
    trailing = (1,) * (rank - axis - 1)
    key = hashlib.sha1(repr((axis, out, size, scale, how)).encode()).hexdigest()[:12]
    total = None
    for k, (index, weight) in enumerate(zip(indices, weights)):
        if not weight.any():
            continue
        w = tb.param(f"resize_tap_{key}_{k}", weight.astype(x.dtype).reshape((out,) + trailing))
        part = tb.mul(tb.gather(x, index, axis), w)
        total = part if total is None else tb.add(total, part)
    if outside.any() and how.extrapolation != 0 or total is None:
        fill = (outside * how.extrapolation).astype(x.dtype)
        constant = tb.broadcast_to(tb.param(f"resize_fill_{key}", fill.reshape((out,) + trailing)),
                                   x.shape[:axis] + (out,) + x.shape[axis + 1:])
        total = constant if total is None else tb.add(total, constant)
    return total


def resize_axis(x: Term, axis: int, out: int, scale: float, how: How) -> Term:
    """Resize axis `axis` of x to `out` positions."""
    mode, coordinates = how.mode, how.coordinates
    size = x.shape[axis]
    if how.taps_needed():
        if not x.dtype.startswith("float"):
            raise unsupported(f"{mode} Resize of {x.type}; expected a float tensor")
        return _weighted_taps(x, axis, out, scale, how)
    source = source_coordinates(coordinates, out, size, scale)
    if mode == "nearest":
        index = np.clip(NEAREST[how.nearest](source), 0, size - 1).astype(np.int64)
        return x if out == size and np.array_equal(index, np.arange(size)) else tb.gather(x, index, axis)
    if not x.dtype.startswith("float"):
        raise unsupported(f"linear Resize of {x.type}; expected a float tensor")
    source = np.clip(source, 0, size - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    weight = (source - low).astype(x.dtype)
    if out == size and not weight.any() and np.array_equal(low, np.arange(size)):
        return x
    a, b = tb.gather(x, low, axis), tb.gather(x, high, axis)
    trailing = (1,) * (x.type.rank - axis - 1)
    w = tb.param(f"resize_weight_{axis}_{out}_{size}_{coordinates}", weight.reshape((out,) + trailing))
    return tb.add(a, tb.mul(tb.sub(b, a), w))


def resize(x: Term, sizes: list[int], scales: list[float], how: How) -> Term:
    rank = x.type.rank
    for axis, (out, scale) in enumerate(zip(sizes, scales)):
        cropped = bool(how.roi) and (how.roi[axis], how.roi[rank + axis]) != (0.0, 1.0)
        if out != x.shape[axis] or scale != 1.0 or cropped:
            x = resize_axis(x, axis, out, scale, how)
    return x


def _sizes_and_scales(n: NodeView, x: Term) -> tuple[list[int], list[float]]:
    """Output sizes and scales per axis from Resize's scales (input 2) or sizes (input 3)."""
    rank = x.type.rank
    axes = [a % rank for a in (n.attr("axes") or range(rank))]
    scales, sizes = [1.0] * rank, list(x.shape)
    given_scales = n.optional_const(2, "scales") if n.opset >= 11 else n.const(1, "scales")
    given_sizes = n.optional_const(3, "sizes") if n.opset >= 11 else None
    if given_sizes is not None and given_sizes.size:
        for a, s in zip(axes, given_sizes.reshape(-1)):
            sizes[a], scales[a] = int(s), int(s) / x.shape[a]
        _keep_aspect_ratio(n.attr("keep_aspect_ratio_policy", "stretch"), x.shape, axes, sizes, scales)
    elif given_scales is not None and given_scales.size:
        for a, s in zip(axes, given_scales.reshape(-1)):
            scales[a], sizes[a] = float(s), math.floor(x.shape[a] * float(s))
    else:
        raise unsupported("Resize without scales or sizes")
    return sizes, scales


def _keep_aspect_ratio(policy: str, shape: tuple[int, ...], axes: list[int], sizes: list[int],
                       scales: list[float]) -> None:
    """Opset 18's policies: one scale for all `axes` (the smallest or largest), sizes rounded half up."""
    if policy == "stretch":
        return
    if policy not in ("not_larger", "not_smaller"):
        raise unsupported(f"Resize keep_aspect_ratio_policy {policy!r}")
    scale = (min if policy == "not_larger" else max)(scales[a] for a in axes)
    for a in axes:
        scales[a], sizes[a] = scale, int(scale * shape[a] + 0.5)


def _resize(n: NodeView) -> Term:
    x = n.term(0)
    mode = n.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise unsupported(f"Resize mode {mode!r}; expected nearest, linear or cubic")
    if n.attr("antialias", 0) and mode == "nearest":
        raise unsupported("Resize mode 'nearest' with antialias=1 (ONNX defines antialiasing for linear and cubic)")
    if n.opset < 11:
        how = How(mode, "asymmetric", "floor")
    else:
        coordinates = n.attr("coordinate_transformation_mode", "half_pixel")
        how = How(mode, coordinates, n.attr("nearest_mode", "round_prefer_floor"),
                  float(n.attr("cubic_coeff_a", -0.75)), bool(n.attr("exclude_outside", 0)),
                  bool(n.attr("antialias", 0)), float(n.attr("extrapolation_value", 0.0)),
                  _roi(n, x) if coordinates == "tf_crop_and_resize" else ())
    if how.nearest not in NEAREST:
        raise unsupported(f"Resize nearest_mode {how.nearest!r}")
    return resize(x, *_sizes_and_scales(n, x), how)


def _roi(n: NodeView, x: Term) -> tuple[float, ...]:
    """tf_crop_and_resize's region of interest for every axis: starts then ends (axes not in
    the node's `axes` keep [0, 1])."""
    rank = x.type.rank
    given = n.optional_const(1, "roi")
    if given is None or not given.size:
        raise unsupported("Resize tf_crop_and_resize without a roi input")
    axes = [a % rank for a in (n.attr("axes") or range(rank))]
    values = [float(v) for v in given.reshape(-1)]
    if len(values) != 2 * len(axes):
        raise unsupported(f"Resize roi of {len(values)} values; expected {2 * len(axes)} (starts, ends)")
    starts, ends = [0.0] * rank, [1.0] * rank
    for i, a in enumerate(axes):
        starts[a], ends[a] = values[i], values[len(axes) + i]
    return tuple(starts + ends)


def _upsample(n: NodeView) -> Term:
    """Upsample (deprecated in opset 10): scales as an attribute (7-8) or input 1 (9)."""
    x = n.term(0)
    mode = n.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        raise unsupported(f"Upsample mode {mode!r}")
    raw = n.attr("scales") if n.opset < 9 else n.const(1, "scales")
    scales = [float(s) for s in np.asarray(raw).reshape(-1)]
    sizes = [math.floor(d * s) for d, s in zip(x.shape, scales)]
    return resize(x, sizes, scales, How("nearest" if mode == "nearest" else "linear", "asymmetric", "floor"))


RESIZE_CONVERTERS: dict[str, Callable[[NodeView], Term]] = {"Resize": _resize, "Upsample": _upsample}
