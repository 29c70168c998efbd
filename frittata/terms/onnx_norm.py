"""ONNX import of the normalizations that become several terms: LogSoftmax, Hardmax,
InstanceNormalization, GroupNormalization and LRN, built from reductions, elementwise ops, pads
and slices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


def log_softmax(x: Term, axis: int) -> Term:
    """x - m - log(sum(exp(x - m))) along `axis`, m the maximum (no overflow)."""
    shifted = tb.sub(x, tb.reduce_max(x, [axis], keepdims=True))
    return tb.sub(shifted, tb.log(tb.reduce_sum(tb.exp(shifted), [axis], keepdims=True)))


def _log_softmax(n: NodeView) -> Term:
    """Opset >= 13: along one axis (default -1); before, over the flattened axes [axis, rank)."""
    x = n.term(0)
    rank = x.type.rank
    if n.opset >= 13:
        return log_softmax(x, n.attr("axis", -1) % rank)
    axis = n.attr("axis", 1) % rank
    return tb.reshape(log_softmax(tb.flatten(x, axis), 1), x.shape)


def hardmax(x: Term, axis: int) -> Term:
    """1 at the first maximum along `axis` and 0 elsewhere: the position of the maximum (arg_max
    keeps the first of ties) compared with every position along the axis."""
    shape = [1] * x.type.rank
    shape[axis] = x.shape[axis]
    positions = tb.param(f"hardmax_positions_{'x'.join(map(str, shape))}",
                         np.arange(x.shape[axis], dtype=np.int64).reshape(shape))
    return tb.cast(tb.equal(positions, tb.arg_max(x, axis, keepdims=True)), x.dtype)


def _hardmax(n: NodeView) -> Term:
    """Opset >= 13: along one axis (default -1); before, over the flattened axes [axis, rank)."""
    x = n.term(0)
    rank = x.type.rank
    if n.opset >= 13:
        return hardmax(x, n.attr("axis", -1) % rank)
    return tb.reshape(hardmax(tb.flatten(x, n.attr("axis", 1) % rank), 1), x.shape)


def normalize(x: Term, axes: list[int], eps: float) -> Term:
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance)."""
    centered = tb.sub(x, tb.reduce_mean(x, axes, keepdims=True))
    variance = tb.reduce_mean(tb.mul(centered, centered), axes, keepdims=True)
    return tb.div(centered, tb.sqrt(tb.add(variance, eps)))


def per_channel(t: Term, rank: int) -> Term:
    """A [C] vector shaped [C, 1, ...] to broadcast over axis 1 of a rank-`rank` tensor."""
    return tb.reshape(t, (t.shape[0],) + (1,) * (rank - 2))


def _instance_norm(n: NodeView) -> Term:
    x = n.term(0)
    rank = x.type.rank
    y = normalize(x, list(range(2, rank)), n.attr("epsilon", 1e-5))
    return tb.add(tb.mul(y, per_channel(n.term(1), rank)), per_channel(n.term(2), rank))


def _group_norm(n: NodeView) -> Term:
    """Statistics per (sample, group of C / G channels); scale and bias per channel (opset 21) or
    per group (opset 18, repeated over the group's channels)."""
    x = n.term(0)
    groups, (batch, channels), rank = n.attr("num_groups"), x.shape[:2], x.type.rank
    grouped = tb.reshape(x, (batch, groups, -1))
    y = tb.reshape(normalize(grouped, [2], n.attr("epsilon", 1e-5)), x.shape)
    scale, bias = n.term(1), n.term(2)
    if scale.shape[0] != channels:
        repeat = [g for g in range(groups) for _ in range(channels // groups)]
        scale, bias = tb.gather(scale, repeat), tb.gather(bias, repeat)
    return tb.add(tb.mul(y, per_channel(scale, rank)), per_channel(bias, rank))


def _lrn(n: NodeView) -> Term:
    """x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels) ^ beta."""
    x = n.term(0)
    size = n.attr("size")
    alpha, beta, bias = n.attr("alpha", 1e-4), n.attr("beta", 0.75), n.attr("bias", 1.0)
    if x.type.rank < 3:
        raise unsupported(f"LRN of {x.type}; expected N, C and spatial axes")
    before, after = (size - 1) // 2, size // 2
    pads = [(0, 0), (before, after)] + [(0, 0)] * (x.type.rank - 2)
    padded = tb.pad(tb.mul(x, x), pads)
    channels = x.shape[1]
    windows = []
    for i in range(size):
        triples = [(0, d, 1) for d in padded.shape]
        triples[1] = (i, i + channels, 1)
        windows.append(tb.slice(padded, triples))
    total = windows[0]
    for w in windows[1:]:
        total = tb.add(total, w)
    return tb.div(x, tb.pow(tb.add(tb.mul(total, alpha / size), bias), np.float32(beta).item()))


NORM_CONVERTERS: dict[str, Callable[[NodeView], Any]] = {
    "LogSoftmax": _log_softmax, "Hardmax": _hardmax, "InstanceNormalization": _instance_norm,
    "GroupNormalization": _group_norm, "LRN": _lrn,
}
