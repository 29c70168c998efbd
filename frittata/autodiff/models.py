"""Small trainable models: a perceptron and a CNN for 8x8 single-channel images (digits).

Each builder returns the logits term over the input `x` and freshly initialized, uniquely
named parameters (He-normal weights, zero biases); `classifier` adds the softmax
cross-entropy loss against one-hot targets `y`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from frittata.autodiff.losses import softmax_cross_entropy
from frittata.terms.builders import add, conv2d, dense, max_pool2d, param, relu, reshape, var
from frittata.terms.program import Program
from frittata.terms.term import Term


class _Init:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def weight(self, name: str, shape: tuple[int, ...], fan_in: int) -> Term:
        data = self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        return param(name, data.astype(np.float32))

    def bias(self, name: str, n: int, shape: tuple[int, ...] | None = None) -> Term:
        return param(name, np.zeros(shape or (n,), np.float32))


def mlp(batch: int, sizes: Sequence[int] = (64, 128, 64, 10), seed: int = 0) -> Term:
    """Logits [batch, sizes[-1]] of a ReLU perceptron over x float32[batch, sizes[0]]."""
    init = _Init(seed)
    h = var("x", (batch, sizes[0]))
    for i, (k, n) in enumerate(zip(sizes, sizes[1:])):
        h = add(dense(h, init.weight(f"fc{i}.w", (n, k), k)), init.bias(f"fc{i}.b", n))
        if i < len(sizes) - 2:
            h = relu(h)
    return h


def small_cnn(batch: int, channels: tuple[int, int] = (16, 32), classes: int = 10, seed: int = 0) -> Term:
    """Logits [batch, classes] over x float32[batch, 1, 8, 8]: two 3x3 conv-ReLU-2x2-max-pool
    stages (8x8 -> 4x4 -> 2x2), then a dense layer."""
    init = _Init(seed)
    h = var("x", (batch, 1, 8, 8))
    cin = 1
    for i, cout in enumerate(channels):
        w = init.weight(f"conv{i}.w", (cout, cin, 3, 3), cin * 9)
        h = max_pool2d(relu(add(conv2d(h, w, pads=1), init.bias(f"conv{i}.b", cout, (1, cout, 1, 1)))), 2)
        cin = cout
    flat = reshape(h, (batch, cin * 4))
    return add(dense(flat, init.weight("fc.w", (classes, cin * 4), cin * 4)), init.bias("fc.b", classes))


def classifier(logits: Term) -> Program:
    """The program (x, y) -> (loss, logits): softmax cross-entropy against one-hot `y`."""
    targets = var("y", logits.shape, logits.dtype)
    return Program({"loss": softmax_cross_entropy(logits, targets), "logits": logits})
