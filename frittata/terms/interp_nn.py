"""Sliding-window kernels of the reference interpreter: convolution and pooling (NCHW)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from frittata.terms.ops import Op
from frittata.terms.term import Term


def _windows(x: np.ndarray, kernel, strides, dilations=(1, 1)) -> np.ndarray:
    """[N, C, H, W] -> [N, C, OH, OW, kh, kw] views of each (dilated, strided) window."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilations
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = sliding_window_view(x, span, axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def _pad_hw(x: np.ndarray, pads, value) -> np.ndarray:
    top, left, bottom, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def conv2d(x: np.ndarray, w: np.ndarray, node: Term) -> np.ndarray:
    """Grouped convolution as one tensordot per group over (C/g, kh, kw)."""
    groups = node.attr("groups")
    o, ci, kh, kw = w.shape
    win = _windows(_pad_hw(x, node.attr("pads"), 0), (kh, kw), node.attr("strides"), node.attr("dilations"))
    outs = []
    for g in range(groups):
        part = win[:, g * ci:(g + 1) * ci]
        wg = w[g * (o // groups):(g + 1) * (o // groups)]
        outs.append(np.tensordot(part, wg, axes=([1, 4, 5], [1, 2, 3])))  # [N, OH, OW, O/g]
    return np.concatenate(outs, axis=3).transpose(0, 3, 1, 2)


def pool2d(x: np.ndarray, node: Term) -> np.ndarray:
    kernel, strides, pads = node.attr("kernel"), node.attr("strides"), node.attr("pads")
    if node.op == Op.MAX_POOL2D:
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        return _windows(_pad_hw(x, pads, low), kernel, strides).max(axis=(4, 5))
    total = _windows(_pad_hw(x, pads, 0), kernel, strides).sum(axis=(4, 5))
    if node.attr("count_include_pad"):
        return total / np.float32(kernel[0] * kernel[1])
    ones = _pad_hw(np.ones((1, 1) + x.shape[2:], x.dtype), pads, 0)
    return total / _windows(ones, kernel, strides).sum(axis=(4, 5))
