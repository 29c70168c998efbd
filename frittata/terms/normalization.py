"""Normalization: batch_norm (inference), layer_norm and softmax (float only).

batch_norm takes its mean and variance as operands, so training mode is batch_norm over the
batch's own statistics (terms of x), and its VJP reaches x through them as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.attr_forms import as_axis, as_float
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import axis_in, fail, need_float, need_rank
from frittata.terms.ops import Attr, Cost, Onnx, Op, define
from frittata.terms.term import Term, build

__all__ = ["batch_norm", "layer_norm", "softmax"]

# eps from the usual 1e-5 up to 0.5: only a large eps shows a rule that adds it wrongly
EPS = Attr("eps", float, 1e-5, as_float, lambda x: [1e-5, 1e-3, 0.1, 0.5])


def _infer_batch_norm(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x = types[0]
    need_float(op, x)
    need_rank(op, x, 2, at_least=True)
    for t in types[1:]:
        if t.shape != (x.shape[1],) or t.dtype != x.dtype:
            raise fail(op, f"scale/bias/mean/var of shape ({x.shape[1]},) {x.dtype}", t)
    return x


def _infer_layer_norm(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x = types[0]
    need_float(op, x)
    axis_in(op, attrs["axis"], x.rank)
    for t in types[1:]:
        if t.shape != x.shape[attrs["axis"]:] or t.dtype != x.dtype:
            raise fail(op, f"scale/bias of shape {x.shape[attrs['axis']:]} {x.dtype}", t)
    return x


def _infer_softmax(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    need_float(op, x)
    axis_in(op, attrs["axis"], x.rank)
    return x


def _batch_norm(node: Term, args: list[np.ndarray]) -> np.ndarray:
    x = args[0]
    scale, bias, mean, var = (a.reshape((1, -1) + (1,) * (x.ndim - 2)) for a in args[1:])
    return (x - mean) / np.sqrt(var + np.float32(node.attr("eps"))) * scale + bias


def _layer_norm(node: Term, args: list[np.ndarray]) -> np.ndarray:
    x = args[0]
    axes = tuple(range(node.attr("axis"), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + np.float32(node.attr("eps"))) * args[1] + args[2]


def _softmax(node: Term, args: list[np.ndarray]) -> np.ndarray:
    x = args[0]
    shifted = np.exp(x - x.max(axis=node.attr("axis"), keepdims=True))
    return shifted / shifted.sum(axis=node.attr("axis"), keepdims=True)


def _last_axis(x: TensorType) -> list[int]:
    return [x.rank - 1 if x.rank else 0]


def _batch_norm_vjp(b, node: Term, g: Term) -> tuple[Term, ...]:
    """d/dx = g scale r, d/dscale = sum(g xhat), d/dbias = sum(g), d/dmean = -sum(g) scale r,
    d/dvar = -sum(g xhat) scale r^2 / 2, with r = 1/sqrt(var + eps) and sums over all axes but 1."""
    x, scale, _, mean, var = node.args
    column = (1, x.shape[1]) + (1,) * (x.type.rank - 2)
    rstd = b.reciprocal(b.sqrt(b.add(var, node.attr("eps"))))
    xhat = b.mul(b.sub(x, b.reshape(mean, column)), b.reshape(rstd, column))
    axes = [a for a in range(x.type.rank) if a != 1]
    dbias, dscale = b.reduce_sum(g, axes), b.reduce_sum(b.mul(g, xhat), axes)
    gain = b.mul(scale, rstd)
    return (b.mul(g, b.reshape(gain, column)), dscale, dbias, b.neg(b.mul(dbias, gain)),
            b.mul(b.mul(dscale, b.mul(gain, rstd)), -0.5))


def _layer_norm_vjp(b, node: Term, g: Term) -> tuple[Term, ...]:
    """d/dx = r (h - mean(h) - xhat mean(h xhat)) with h = g scale, r = 1/sqrt(var + eps)."""
    x, scale, bias = node.args
    axes = list(range(node.attr("axis"), x.type.rank))
    centred = b.sub(x, b.reduce_mean(x, axes, keepdims=True))
    variance = b.reduce_mean(b.mul(centred, centred), axes, keepdims=True)
    rstd = b.reciprocal(b.sqrt(b.add(variance, node.attr("eps"))))
    xhat = b.mul(centred, rstd)
    h = b.mul(g, scale)
    inner = b.sub(b.sub(h, b.reduce_mean(h, axes, keepdims=True)),
                  b.mul(xhat, b.reduce_mean(b.mul(h, xhat), axes, keepdims=True)))
    return b.mul(rstd, inner), b.sum_to(b.mul(g, xhat), scale), b.sum_to(g, bias)


BATCH_NORM = define("batch_norm", 5, _infer_batch_norm, attrs=(EPS,), classes=("normalization", "float_only"),
                    cost=Cost.NORMALIZATION, evaluate=_batch_norm,
                    onnx=Onnx("BatchNormalization", {"eps": "epsilon"}), vjp=lambda b, n, g: _batch_norm_vjp(b, n, g))
LAYER_NORM = define("layer_norm", 3, _infer_layer_norm, classes=("normalization", "float_only"),
                    attrs=(Attr("axis", int, -1, as_axis("layer_norm"), _last_axis), EPS),
                    cost=Cost.NORMALIZATION, evaluate=_layer_norm,
                    onnx=Onnx("LayerNormalization", {"axis": "axis", "eps": "epsilon"}),
                    vjp=lambda b, n, g: _layer_norm_vjp(b, n, g))
SOFTMAX = define("softmax", 1, _infer_softmax, classes=("normalization", "float_only"),
                 attrs=(Attr("axis", int, -1, as_axis("softmax"), _last_axis),),
                 cost=Cost.NORMALIZATION, evaluate=_softmax, onnx=Onnx("Softmax", {"axis": "axis"}),
                 vjp=lambda b, n, g: (b.mul(n, b.sub(g, b.reduce_sum(b.mul(g, n), n.attr("axis"), keepdims=True))),))


def batch_norm(x: Term, scale: Term, bias: Term, mean: Term, var: Term, eps: float = 1e-5) -> Term:
    """Inference batch norm over axis 1: (x - mean) / sqrt(var + eps) * scale + bias."""
    return build(BATCH_NORM, (x, scale, bias, mean, var), eps=eps)


def layer_norm(x: Term, scale: Term, bias: Term, axis: int = -1, eps: float = 1e-5) -> Term:
    """Normalize over axes [axis, rank): (x - mean) / sqrt(var + eps) * scale + bias."""
    return build(LAYER_NORM, (x, scale, bias), axis=axis, eps=eps)


def softmax(x: Term, axis: int = -1) -> Term:
    return build(SOFTMAX, (x,), axis=axis)
