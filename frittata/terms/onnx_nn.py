"""ONNX-import converters of neural-network operators: contractions, pooling, normalization."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


def window_pads(n: NodeView, size: tuple[int, ...], kernel: tuple[int, ...],
                strides: tuple[int, ...], dilations: tuple[int, ...]) -> tuple[int, ...]:
    """(begins..., ends...) over the spatial axes, e.g. (top, left, bottom, right), from `pads` or
    `auto_pad` (SAME_UPPER, SAME_LOWER, VALID)."""
    auto = n.attr("auto_pad", "NOTSET")
    if auto == "NOTSET":
        return tuple(n.attr("pads", [0] * 2 * len(size)))
    if auto == "VALID":
        return (0,) * 2 * len(size)
    begin, end = [], []
    for d, k, s, dil in zip(size, kernel, strides, dilations):
        total = max(0, (math.ceil(d / s) - 1) * s + (k - 1) * dil + 1 - d)
        small = total // 2
        begin.append(small if auto == "SAME_UPPER" else total - small)
        end.append(total - begin[-1])
    return tuple(begin + end)


def conv_attrs(n: NodeView, x: Term, w: Term) -> dict:
    """Keyword arguments of `tb.conv2d` for a Conv-like node (2-D, NCHW only)."""
    if x.type.rank != 4 or w.type.rank != 4:
        raise unsupported(f"{x.type.rank - 2}-D convolution; only 1-D (NCL) and 2-D (NCHW input, OIHW weights)")
    strides = tuple(n.attr("strides", [1, 1]))
    dilations = tuple(n.attr("dilations", [1, 1]))
    pads = window_pads(n, x.shape[2:], w.shape[2:], strides, dilations)
    return dict(strides=strides, pads=pads, dilations=dilations, groups=n.attr("group", 1))


def channel_bias(y: Term, bias: Term) -> Term:
    """y[N, C, ...] + bias[C]."""
    return tb.add(y, tb.reshape(bias, (bias.shape[0],) + (1,) * (y.type.rank - 2)))


def _conv(n: NodeView) -> Term:
    x, w = n.term(0), n.term(1)
    y = conv1d(n, x, w) if x.type.rank == 3 and w.type.rank == 3 else tb.conv2d(x, w, **conv_attrs(n, x, w))
    return channel_bias(y, n.term(2)) if n.has(2) else y


def conv1d(n: NodeView, x: Term, w: Term) -> Term:
    """A 1-D convolution [N, C, L] as a 2-D one of height 1 (the kernel and geometry lifted)."""
    strides, dilations = tuple(n.attr("strides", [1])), tuple(n.attr("dilations", [1]))
    if n.attr("auto_pad", "NOTSET") == "NOTSET":
        begin, end = n.attr("pads", [0, 0])
    else:
        begin, end = window_pads(n, x.shape[2:], w.shape[2:], strides, dilations)[:2]
    y = tb.conv2d(tb.reshape(x, x.shape[:2] + (1,) + x.shape[2:]), tb.reshape(w, w.shape[:2] + (1,) + w.shape[2:]),
                  strides=(1,) + strides, pads=(0, begin, 0, end), dilations=(1,) + dilations,
                  groups=n.attr("group", 1))
    return tb.reshape(y, y.shape[:2] + y.shape[3:])


def matmul_nd(a: Term, b: Term) -> Term:
    """numpy matmul, including 1-D operands (promoted to a matrix, then squeezed)."""
    if a.type.rank >= 2 and b.type.rank >= 2:
        return tb.matmul(a, b)
    y = tb.matmul(tb.unsqueeze(a, [0]) if a.type.rank == 1 else a,
                  tb.unsqueeze(b, [1]) if b.type.rank == 1 else b)
    drop = ([y.type.rank - 2] if a.type.rank == 1 else []) + ([y.type.rank - 1] if b.type.rank == 1 else [])
    return tb.squeeze(y, drop)


def _matmul(n: NodeView) -> Term:
    return matmul_nd(n.term(0), n.term(1))


def _gemm(n: NodeView) -> Term:
    """alpha * A' B' + beta * C, with B' = B^T as `dense` when transB."""
    a, b = n.term(0), n.term(1)
    a = tb.transpose(a) if n.attr("transA", 0) else a
    y = tb.dense(a, b) if n.attr("transB", 0) else tb.matmul(a, b)
    alpha, beta = n.attr("alpha", 1.0), n.attr("beta", 1.0)
    y = y if alpha == 1.0 else tb.mul(y, alpha)
    if not n.has(2):
        return y
    c = n.term(2)
    return tb.add(y, c if beta == 1.0 else tb.mul(c, beta))


def _batch_norm(n: NodeView) -> Term:
    """Inference batch norm; opsets 7-8 may say `spatial=0` (statistics per activation), which
    is the same op when the statistics are per channel ([C]) and unsupported otherwise."""
    if n.attr("training_mode", 0):
        raise unsupported("BatchNormalization with training_mode=1")
    n.no_extra_outputs()
    x, scale, bias, mean, var = (n.term(i) for i in range(5))
    if not n.attr("spatial", 1) and any(t.type.rank != 1 for t in (scale, bias, mean, var)):
        raise unsupported(f"BatchNormalization spatial=0 with statistics {scale.type}; expected [C]")
    return tb.batch_norm(x, scale, bias, mean, var, eps=n.attr("epsilon", 1e-5))


def _global_avg_pool(n: NodeView) -> Term:
    return tb.global_avg_pool(n.term(0))


def _softmax(n: NodeView) -> Term:
    """Opset >= 13: over one axis (default -1); before: over the flattened axes [axis, rank)."""
    x = n.term(0)
    rank = x.type.rank
    if n.opset >= 13:
        return tb.softmax(x, n.attr("axis", -1))
    axis = n.attr("axis", 1) % rank
    if axis == rank - 1:
        return tb.softmax(x, -1)
    return tb.reshape(tb.softmax(tb.flatten(x, axis), -1), x.shape)


def _layer_norm(n: NodeView) -> list[Term]:
    """LayerNormalization: `layer_norm` (scale and bias of the normalized shape go in the op,
    broadcastable ones are applied after it); the optional Mean and InvStdDev outputs are the
    statistics with the normalized axes kept as 1s."""
    x = n.term(0)
    axis = n.attr("axis", -1) % x.type.rank
    eps = n.attr("epsilon", 1e-5)
    scale, bias = n.term(1), (n.term(2) if n.has(2) else None)
    norm = x.shape[axis:]
    fits = scale.shape == norm and (bias is None or bias.shape == norm)
    ones = n.importer.term(n.node.output[0] + ":ones", np.ones(norm, x.dtype))
    zeros = n.importer.term(n.node.output[0] + ":zeros", np.zeros(norm, x.dtype))
    y = tb.layer_norm(x, scale if fits else ones, bias if fits and bias is not None else zeros, axis, eps)
    if not fits:
        y = tb.mul(y, scale) if bias is None else tb.add(tb.mul(y, scale), bias)
    axes = list(range(axis, x.type.rank))
    mean = tb.reduce_mean(x, axes, keepdims=True)
    variance = tb.reduce_mean(tb.mul(tb.sub(x, mean), tb.sub(x, mean)), axes, keepdims=True)
    inv_std = tb.div(1.0, tb.sqrt(tb.add(variance, eps)))
    return [y, mean, inv_std][:max(1, len(n.node.output))]


NN_CONVERTERS: dict[str, Callable[[NodeView], Any]] = {
    "Conv": _conv, "MatMul": _matmul, "Gemm": _gemm, "BatchNormalization": _batch_norm,
    "GlobalAveragePool": _global_avg_pool,
    "Softmax": _softmax, "LayerNormalization": _layer_norm,
}
