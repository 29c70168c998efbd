"""VJPs of the sliding-window ops, as plain terms: conv2d's as GEMMs over unfolded windows,
pooling's per tap.

conv2d (strides s, dilations d, pads p, G groups) of x [N, C, H, W] by w [O, C/G, kh, kw] reads,
for each of the T = kh kw kernel taps, a strided window of the padded input shaped like the
output's pixels (P = OH OW of them). Unfolding them gives cols [G, C/G T, N P], and with g as
[G, O/G, N P]:
- the weight gradient is one GEMM per group, g · colsᵀ -> [G, O/G, C/G T], i.e. [O, C/G, kh, kw];
- the data gradient is wᵀ · g -> [G, C/G T, N P], each tap's slice put back where the forward
  read it (`unslice`), summed, and the padding cropped.
Both operands are run-time values in training (the weights are inputs), and a matmul takes the
register-blocked path with run-time operands, which a convolution does only with constant
weights; so the backward contractions are spelled as matmuls.

A pool of a k x k kernel reads k^2 taps, each a strided slice of the padded input shaped like
the output; the cotangent goes back through each tap (`unslice`): divided by the window's
count for avg_pool2d, and, for max_pool2d, to the first tap in scan order holding the maximum
(PyTorch's choice among ties).
"""

from __future__ import annotations

import numpy as np

from frittata.autodiff.adjoints import constant, unslice, zeros
from frittata.terms.builders import (add, broadcast_to, concat, div, equal, logical_and, logical_not, logical_or,
                                     matmul, pad, reshape, slice, transpose, where)
from frittata.terms.term import Term

Bounds = list[tuple[int, int | None, int]]


def conv2d_vjp(node: Term, g: Term) -> tuple[Term, Term]:
    """The cotangents of conv2d's input and weights (see the module docstring)."""
    x, w = node.args
    groups, (o, ci, kh, kw) = node.attr("groups"), w.shape
    n, _, oh, ow = g.shape
    rows = reshape(transpose(reshape(g, (n, groups, o // groups, oh * ow)), (1, 2, 0, 3)),
                   (groups, o // groups, n * oh * ow))
    source = _padded(node, 0.0)
    taps = [reshape(slice(source, bounds), (n, groups * ci, 1, oh * ow)) for bounds in _conv_taps(node)]
    unfolded = reshape(concat(*taps, axis=2), (n, groups, ci * kh * kw, oh * ow))
    cols = reshape(transpose(unfolded, (1, 2, 0, 3)), (groups, ci * kh * kw, n * oh * ow))
    dw = reshape(matmul(rows, transpose(cols, (0, 2, 1))), w.shape)
    wt = transpose(reshape(w, (groups, o // groups, ci * kh * kw)), (0, 2, 1))
    dcols = reshape(matmul(wt, rows), (groups, ci, kh * kw, n, oh, ow))
    per_tap = reshape(transpose(dcols, (3, 0, 1, 2, 4, 5)), (n, groups * ci, kh * kw, oh, ow))
    parts = [reshape(slice(per_tap, [(0, n, 1), (0, groups * ci, 1), (t, t + 1, 1), (0, oh, 1), (0, ow, 1)]),
                     (n, groups * ci, oh, ow)) for t in range(kh * kw)]
    return _sum_taps(node, parts, _conv_taps(node), source.shape), dw


def _conv_taps(node: Term) -> list[Bounds]:
    """The slices of conv2d's padded input that each kernel tap reads, in (row, column) order."""
    (_, _, kh, kw), (sh, sw), (dh, dw) = node.args[1].shape, node.attr("strides"), node.attr("dilations")
    n, c, oh, ow = node.args[0].shape[:2] + node.shape[2:]
    return [[(0, n, 1), (0, c, 1), (i * dh, i * dh + (oh - 1) * sh + 1, sh), (j * dw, j * dw + (ow - 1) * sw + 1, sw)]
            for i in range(kh) for j in range(kw)]


def _taps(node: Term) -> list[Bounds]:
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


def _sum_taps(node: Term, parts: list[Term], taps: list[Bounds], shape: tuple[int, ...]) -> Term:
    """The parts put back where their taps read them, summed, with the padding cropped."""
    total = None
    for part, bounds in zip(parts, taps):
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
    return _sum_taps(node, parts, _taps(node), source.shape)


def avg_pool2d_vjp(node: Term, g: Term) -> Term:
    """The cotangent of avg_pool2d's input: g over each window's count, back through every tap."""
    (kh, kw), x = node.attr("kernel"), node.args[0]
    if node.attr("count_include_pad") or not any(node.attr("pads")):
        share = div(g, kh * kw)
    else:
        ones = np.pad(np.ones(x.shape[2:], dtype=x.dtype), [node.attr("pads")[0::2], node.attr("pads")[1::2]])
        counts = sum(ones[b[2][0]:b[2][1]:b[2][2], b[3][0]:b[3][1]:b[3][2]] for b in _taps(node))
        share = div(g, broadcast_to(constant("avg_pool.count", np.asarray(counts, dtype=x.dtype)), g.shape))
    return _sum_taps(node, [share] * (kh * kw), _taps(node), _padded(node, 0.0).shape)
