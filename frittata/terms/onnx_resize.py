"""ONNX import of Resize (opsets 10+) and Upsample (opsets 7-9) as gathers along each axis.

A nearest-neighbour resize of one axis is a `gather` of source indices computed at import
time; a linear one is two gathers and a lerp with constant weights. N-linear interpolation is
separable, so a resize of several axes is one such step per resized axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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


def source_coordinates(mode: str, out: int, size: int, scale: float) -> np.ndarray:
    """The input coordinate of each output position along one axis (ONNX coordinate modes).

    `out` positions are computed; the resized length in the formulas is `size * scale`, which
    is `out` when sizes were given and may be fractional when scales were."""
    x = np.arange(out, dtype=np.float64)
    length = size * scale
    match mode:
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


def resize_axis(x: Term, axis: int, out: int, scale: float, how: tuple[str, str, str]) -> Term:
    """Resize axis `axis` of x to `out` positions; `how` = (mode, coordinate mode, nearest mode)."""
    mode, coordinates, nearest = how
    size = x.shape[axis]
    source = source_coordinates(coordinates, out, size, scale)
    if mode == "nearest":
        index = np.clip(NEAREST[nearest](source), 0, size - 1).astype(np.int64)
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


def resize(x: Term, sizes: list[int], scales: list[float], how: tuple[str, str, str]) -> Term:
    for axis, (out, scale) in enumerate(zip(sizes, scales)):
        if out != x.shape[axis] or scale != 1.0:
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
    if mode not in ("nearest", "linear"):
        raise unsupported(f"Resize mode {mode!r}; expected nearest or linear")
    if n.attr("antialias", 0):
        raise unsupported("Resize with antialias=1")
    if n.opset < 11:
        how = (mode, "asymmetric", "floor")
    else:
        how = (mode, n.attr("coordinate_transformation_mode", "half_pixel"),
               n.attr("nearest_mode", "round_prefer_floor"))
    if how[2] not in NEAREST:
        raise unsupported(f"Resize nearest_mode {how[2]!r}")
    return resize(x, *_sizes_and_scales(n, x), how)


def _upsample(n: NodeView) -> Term:
    """Upsample (deprecated in opset 10): scales as an attribute (7-8) or input 1 (9)."""
    x = n.term(0)
    mode = n.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        raise unsupported(f"Upsample mode {mode!r}")
    raw = n.attr("scales") if n.opset < 9 else n.const(1, "scales")
    scales = [float(s) for s in np.asarray(raw).reshape(-1)]
    sizes = [math.floor(d * s) for d, s in zip(x.shape, scales)]
    how = ("nearest" if mode == "nearest" else "linear", "asymmetric", "floor")
    return resize(x, sizes, scales, how)


RESIZE_CONVERTERS: dict[str, Callable[[NodeView], Term]] = {"Resize": _resize, "Upsample": _upsample}
