"""ONNX import of ConvTranspose (1-D and 2-D, constant weights) as a convolution.

A transposed convolution with stride s is a stride-1 convolution of the input with s - 1
zeros inserted between neighbouring elements, padded by dilation * (kernel - 1) minus the
given padding on each side (plus output_padding at the end), with the kernel flipped spatially
and its in/out channel axes swapped within each group.
"""

from __future__ import annotations

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_nn import channel_bias
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


def spread(x: Term, strides: tuple[int, int]) -> Term:
    """x [N, C, H, W] with s - 1 zeros between neighbours along H and W: [N, C, (H-1)s+1, (W-1)s+1]."""
    (sh, sw), (n, c, h, w) = strides, x.shape
    if (sh, sw) == (1, 1):
        return x
    cells = tb.pad(tb.reshape(x, (n, c, h, 1, w, 1)), [(0, 0)] * 3 + [(0, sh - 1), (0, 0), (0, sw - 1)])
    grid = tb.reshape(cells, (n, c, h * sh, w * sw))
    return tb.slice(grid, [(0, n, 1), (0, c, 1), (0, (h - 1) * sh + 1, 1), (0, (w - 1) * sw + 1, 1)])


def flipped_kernel(w: np.ndarray, groups: int) -> np.ndarray:
    """[Cin, Cout/g, kh, kw] -> [Cout, Cin/g, kh, kw], spatially flipped."""
    cin, cout_g, kh, kw = w.shape
    per_group = w.reshape(groups, cin // groups, cout_g, kh, kw).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(per_group.reshape(groups * cout_g, cin // groups, kh, kw)[:, :, ::-1, ::-1])


def _pads(n: NodeView, size: tuple[int, ...], kernel: tuple[int, ...], strides, dilations, extra) -> list[int]:
    """(begins..., ends...) per spatial axis from pads, or from output_shape / auto_pad (ONNX's
    formula)."""
    rank = len(size)
    auto, output_shape = n.attr("auto_pad", "NOTSET"), n.attr("output_shape")
    if output_shape is None and auto in ("NOTSET", "VALID"):
        return list(n.attr("pads", [0] * 2 * rank)) if auto == "NOTSET" else [0] * 2 * rank
    wanted = list(output_shape)[-rank:] if output_shape is not None else [d * s for d, s in zip(size, strides)]
    total = [s * (d - 1) + e + (k - 1) * dil + 1 - o
             for d, k, s, dil, e, o in zip(size, kernel, strides, dilations, extra, wanted)]
    upper = auto == "SAME_UPPER"
    begin = [t // 2 if upper else t - t // 2 for t in total]
    return begin + [t - b for t, b in zip(total, begin)]


def _conv_transpose(n: NodeView) -> Term:
    """2-D as below; 1-D ([N, C, L]) as the 2-D one of height 1 (geometry lifted, output squeezed)."""
    x = n.term(0)
    w = n.const(1, "weights")
    rank = x.type.rank - 2
    if rank not in (1, 2) or w.ndim != x.type.rank:
        raise unsupported(f"{rank}-D ConvTranspose of {x.type} with weights {list(w.shape)}; only 1-D and 2-D")
    strides, dilations = tuple(n.attr("strides", [1] * rank)), tuple(n.attr("dilations", [1] * rank))
    extra = tuple(n.attr("output_padding", [0] * rank))
    pads = _pads(n, x.shape[2:], w.shape[2:], strides, dilations, extra)
    if rank == 2:
        return _transposed_2d(n, x, w, strides, dilations, extra, pads)
    lifted = tb.reshape(x, x.shape[:2] + (1,) + x.shape[2:])
    y = _transposed_2d(n, lifted, w.reshape(w.shape[:2] + (1,) + w.shape[2:]), (1,) + strides, (1,) + dilations,
                       (0,) + extra, [0, pads[0], 0, pads[1]])
    return tb.reshape(y, y.shape[:2] + y.shape[3:])


def _transposed_2d(n: NodeView, x: Term, w: np.ndarray, strides: tuple, dilations: tuple, extra: tuple,
                   pads: list[int]) -> Term:
    groups = n.attr("group", 1)
    kernel = w.shape[2:]
    z = spread(x, strides)
    grow = [dil * (k - 1) for k, dil in zip(kernel, dilations)]
    before = [g - p for g, p in zip(grow, pads[:2])]
    after = [g - p + e for g, p, e in zip(grow, pads[2:], extra)]
    z = tb.pad(z, [(0, 0), (0, 0)] + [(max(b, 0), max(a, 0)) for b, a in zip(before, after)])
    if min(before + after) < 0:
        z = tb.slice(z, [(0, d, 1) for d in z.shape[:2]] +
                     [(-min(b, 0), d + min(a, 0), 1) for b, a, d in zip(before, after, z.shape[2:])])
    weights = n.importer.term(n.node.input[1] + ":flipped", flipped_kernel(w, groups))
    y = tb.conv2d(z, weights, strides=(1, 1), pads=(0, 0, 0, 0), dilations=dilations, groups=groups)
    return channel_bias(y, n.term(2)) if n.has(2) else y


CONV_TRANSPOSE_CONVERTERS = {"ConvTranspose": _conv_transpose}
