"""Losses and training-mode layers as plain terms, so `grad` differentiates them like any op.

Each is a composition of table ops; a loss averages over the batch (axis 0) and is a scalar.
"""

from __future__ import annotations

from frittata.errors import FrittataTypeError
from frittata.terms.builders import (batch_norm, exp, log, mul, neg, reduce_max, reduce_mean, reduce_sum, reshape,
                                     sub)
from frittata.terms.term import Term


def log_softmax(logits: Term, axis: int = -1) -> Term:
    """logits - logsumexp(logits) along `axis`, shifted by the maximum (no overflow)."""
    shifted = sub(logits, reduce_max(logits, axis, keepdims=True))
    return sub(shifted, log(reduce_sum(exp(shifted), axis, keepdims=True)))


def softmax_cross_entropy(logits: Term, targets: Term) -> Term:
    """Mean over the batch of -sum(targets * log_softmax(logits)) over classes (the last axis).

    `targets` holds a probability row per example (one-hot labels), shaped like `logits`."""
    _same(logits, targets, "softmax_cross_entropy")
    per_example = neg(reduce_sum(mul(targets, log_softmax(logits)), -1))
    return reduce_mean(per_example)


def mse(predictions: Term, targets: Term) -> Term:
    """Mean squared error over every element."""
    _same(predictions, targets, "mse")
    diff = sub(predictions, targets)
    return reduce_mean(mul(diff, diff))


def batch_norm_train(x: Term, scale: Term, bias: Term, eps: float = 1e-5) -> Term:
    """Training-mode batch norm: normalized by the batch's own mean and (biased) variance over
    every axis but the channels (1), so gradients flow through the statistics too."""
    axes = [a for a in range(x.type.rank) if a != 1]
    column = (1, x.shape[1]) + (1,) * (x.type.rank - 2)
    mean = reduce_mean(x, axes)
    centred = sub(x, reshape(mean, column))
    return batch_norm(x, scale, bias, mean, reduce_mean(mul(centred, centred), axes), eps=eps)


def _same(a: Term, b: Term, where: str) -> None:
    if a.type != b.type:
        raise FrittataTypeError(f"{where}: expected predictions and targets of one type, got {a.type} and {b.type}")
