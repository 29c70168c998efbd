"""VJPs of the sliding-window ops, as plain terms: conv2d's as convolutions, pooling's per tap.

conv2d (strides s, dilations d, pads p, groups G) of x [N, C, H, W] by w [O, C/G, kh, kw]:
- the data gradient is the transposed convolution: g spread by s (s - 1 zeros between
  neighbours), padded by d (k - 1) on both sides, convolved at stride 1 and dilation d with w
  flipped spatially and its channel axes swapped within each group; the rows of the padded
  input no window reached get zeros, and the padding is cropped;
- the weight gradient is a convolution over the batch: the padded x with batch and channel
  swapped, [C/G, G N, Hp, Wp], convolved with g as the kernel, [O, N, OH, OW], at stride d and
  dilation s in G groups, gives [C/G, O, >= kh, >= kw]; its first kh x kw taps, transposed, are
  [O, C/G, kh, kw].

A pool of a k x k kernel reads k^2 taps, each a strided slice of the padded input shaped like
the output; the cotangent goes back through each tap (`unslice`): divided by the window's
count for avg_pool2d, and, for max_pool2d, to the first tap in scan order holding the maximum
(PyTorch's choice among ties).
"""

from __future__ import annotations

import numpy as np

from frittata.autodiff.adjoints import constant, unslice, zeros
from frittata.terms.builders import (add, broadcast_to, conv2d, div, equal, logical_and, logical_not, logical_or,
                                     pad, reshape, slice, transpose, where)
from frittata.terms.term import Term


def conv2d_vjp(node: Term, g: Term) -> tuple[Term, Term]:
    """The cotangents of conv2d's input and weights (see the module docstring)."""
    return _conv_data_grad(node, g), _conv_weight_grad(node, g)


def _conv_data_grad(node: Term, g: Term) -> Term:
    x, w = node.args
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = node.attr("strides"), node.attr("dilations"), node.attr("pads")
    groups = node.attr("groups")
    o, ci, kh, kw = w.shape
    spread = unslice(g, g.shape[:2] + ((g.shape[2] - 1) * sh + 1, (g.shape[3] - 1) * sw + 1),
                     [(0, None, 1), (0, None, 1), (0, None, sh), (0, None, sw)])
    grown = pad(spread, [(0, 0), (0, 0), (dh * (kh - 1),) * 2, (dw * (kw - 1),) * 2])
    swapped = reshape(transpose(reshape(w, (groups, o // groups, ci, kh, kw)), (0, 2, 1, 3, 4)),
                      (groups * ci, o // groups, kh, kw))
    flipped = slice(swapped, [(0, groups * ci, 1), (0, o // groups, 1), (kh - 1, None, -1), (kw - 1, None, -1)])
    full = conv2d(grown, flipped, dilations=(dh, dw), groups=groups)
    height, width = x.shape[2] + pt + pb, x.shape[3] + pl + pr
    padded = pad(full, [(0, 0), (0, 0), (0, height - full.shape[2]), (0, width - full.shape[3])])
    return slice(padded, [(0, x.shape[0], 1), (0, x.shape[1], 1), (pt, pt + x.shape[2], 1), (pl, pl + x.shape[3], 1)])


def _conv_weight_grad(node: Term, g: Term) -> Term:
    x, w = node.args
    (pt, pl, pb, pr), groups = node.attr("pads"), node.attr("groups")
    n, c, _, _ = x.shape
    o, ci, kh, kw = w.shape
    xp = pad(x, [(0, 0), (0, 0), (pt, pb), (pl, pr)]) if any(node.attr("pads")) else x
    batch_major = reshape(transpose(reshape(xp, (n, groups, ci) + xp.shape[2:]), (2, 1, 0, 3, 4)),
                          (ci, groups * n) + xp.shape[2:])
    kernel = transpose(g, (1, 0, 2, 3))
    taps = conv2d(batch_major, kernel, strides=node.attr("dilations"), dilations=node.attr("strides"), groups=groups)
    first = slice(taps, [(0, ci, 1), (0, o, 1), (0, kh, 1), (0, kw, 1)]) if taps.shape[2:] != (kh, kw) else taps
    return transpose(first, (1, 0, 2, 3))


def _taps(node: Term) -> list[list[tuple[int, int | None, int]]]:
    """The slices of the padded input that give each kernel tap's values, in scan order."""
    (kh, kw), (sh, sw) = node.attr("kernel"), node.attr("strides")
    n, c, oh, ow = node.shape
    return [[(0, n, 1), (0, c, 1), (i, i + (oh - 1) * sh + 1, sh), (j, j + (ow - 1) * sw + 1, sw)]
            for i in range(kh) for j in range(kw)]


def _padded(node: Term, value: float) -> Term:
    x, (pt, pl, pb, pr) = node.args[0], node.attr("pads")
    return pad(x, [(0, 0), (0, 0), (pt, pb), (pl, pr)], value) if any(node.attr("pads")) else x


def _crop(node: Term, grad: Term) -> Term:
    x, (pt, pl, _, _) = node.args[0], node.attr("pads")
    if grad.shape == x.shape:
        return grad
    return slice(grad, [(0, x.shape[0], 1), (0, x.shape[1], 1), (pt, pt + x.shape[2], 1), (pl, pl + x.shape[3], 1)])


def _sum_taps(node: Term, parts: list[Term], shape: tuple[int, ...]) -> Term:
    total = None
    for part, bounds in zip(parts, _taps(node)):
        back = unslice(part, shape, bounds)
        total = back if total is None else add(total, back)
    return _crop(node, total if total is not None else zeros(shape, node.dtype))


def max_pool2d_vjp(node: Term, g: Term) -> Term:
    """The cotangent of max_pool2d's input: g at the first tap of each window holding the max."""
    source = _padded(node, -np.inf)
    taken: Term | None = None
    parts = []
    for bounds in _taps(node):
        hit = equal(slice(source, bounds), node)
        first = hit if taken is None else logical_and(hit, logical_not(taken))
        taken = hit if taken is None else logical_or(taken, hit)
        parts.append(where(first, g, 0))
    return _sum_taps(node, parts, source.shape)


def avg_pool2d_vjp(node: Term, g: Term) -> Term:
    """The cotangent of avg_pool2d's input: g over each window's count, back through every tap."""
    (kh, kw), x = node.attr("kernel"), node.args[0]
    if node.attr("count_include_pad") or not any(node.attr("pads")):
        share = div(g, kh * kw)
    else:
        ones = np.pad(np.ones(x.shape[2:], dtype=x.dtype), [node.attr("pads")[0::2], node.attr("pads")[1::2]])
        counts = sum(ones[b[2][0]:b[2][1]:b[2][2], b[3][0]:b[3][1]:b[3][2]] for b in _taps(node))
        share = div(g, broadcast_to(constant("avg_pool.count", np.asarray(counts, dtype=x.dtype)), g.shape))
    return _sum_taps(node, [share] * (kh * kw), _padded(node, 0.0).shape)
