"""A model zoo: classic networks with seeded random weights, built with the term builders.

Every builder takes a `seed` and returns a `Program` with one input `x` and one output `y`.
Weights use He initialization and batch-norm statistics near (mean 0, var 1), and the last
batch norm of each residual branch is damped, so activations stay O(1) through the whole
network and compiled outputs can be compared numerically.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.program import Program
from frittata.terms.term import Term

RESIDUAL_GAIN = 0.3
"""Scale of the last batch norm of a residual branch: keeps x + f(x) from doubling per block."""


class _Weights:
    """Seeded, uniquely named parameters: He-initialized weights, biases and batch norms."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def he(self, shape: tuple[int, ...], fan_in: int, gain: float = 2.0) -> Term:
        std = np.sqrt(gain / fan_in)
        return tb.param(self._name("w"), (self.rng.standard_normal(shape) * std).astype(np.float32))

    def bias(self, n: int) -> Term:
        return tb.param(self._name("b"), (self.rng.standard_normal(n) * 0.01).astype(np.float32))

    def batch_norm(self, x: Term, gain: float = 1.0) -> Term:
        c = x.shape[1]
        rng = self.rng
        stats = [gain * (1 + 0.1 * rng.standard_normal(c)), 0.05 * rng.standard_normal(c),
                 0.05 * rng.standard_normal(c), 1 + 0.2 * rng.random(c)]
        scale, bias, mean, var = (tb.param(self._name(k), s.astype(np.float32))
                                  for k, s in zip(("gamma", "beta", "mean", "var"), stats))
        return tb.batch_norm(x, scale, bias, mean, var)

    def layer_norm(self, x: Term) -> Term:
        d = x.shape[-1]
        scale = (1 + 0.1 * self.rng.standard_normal(d)).astype(np.float32)
        bias = (0.05 * self.rng.standard_normal(d)).astype(np.float32)
        return tb.layer_norm(x, tb.param(self._name("ln_scale"), scale),
                             tb.param(self._name("ln_bias"), bias), axis=-1)


def _dense(w: _Weights, x: Term, n: int, gain: float = 2.0) -> Term:
    k = x.shape[-1]
    return tb.add(tb.dense(x, w.he((n, k), k, gain)), w.bias(n))


def _conv_bn(w: _Weights, x: Term, out: int, k: int, stride: int = 1, groups: int = 1,
             gain: float = 1.0) -> Term:
    cin = x.shape[1] // groups
    weight = w.he((out, cin, k, k), cin * k * k)
    return w.batch_norm(tb.conv2d(x, weight, strides=stride, pads=k // 2, groups=groups), gain)


def mlp(seed: int = 0, batch: int = 1) -> Program:
    """A 784-512-512-10 perceptron with ReLU: x float32[batch, 784] -> y float32[batch, 10]."""
    w = _Weights(seed)
    h = tb.var("x", (batch, 784))
    h = tb.relu(_dense(w, h, 512))
    h = tb.relu(_dense(w, h, 512))
    return Program({"y": _dense(w, h, 10, gain=1.0)})


def small_cnn(seed: int = 0) -> Program:
    """conv 3x3 (bias, relu) -> max pool -> conv 3x3 (relu) -> global average -> dense:
    x float32[1, 3, 16, 16] -> logits float32[1, 10]. Every kind of kernel in a few milliseconds,
    for deployment tests on slow (emulated) targets."""
    w = _Weights(seed)
    x = tb.var("x", (1, 3, 16, 16))
    h = tb.relu(tb.add(tb.conv2d(x, w.he((8, 3, 3, 3), 27), pads=1), tb.reshape(w.bias(8), (1, 8, 1, 1))))
    h = tb.max_pool2d(h, kernel=2, strides=2)
    h = tb.relu(tb.conv2d(h, w.he((16, 8, 3, 3), 72), pads=1))
    h = tb.reshape(tb.reduce_mean(h, axes=(2, 3)), (1, 16))
    return Program({"logits": _dense(w, h, 10, gain=1.0)})


def _basic_block(w: _Weights, x: Term, out: int, stride: int) -> Term:
    h = tb.relu(_conv_bn(w, x, out, 3, stride))
    h = _conv_bn(w, h, out, 3, 1, gain=RESIDUAL_GAIN)
    skip = x if stride == 1 and x.shape[1] == out else _conv_bn(w, x, out, 1, stride)
    return tb.relu(tb.add(h, skip))


def resnet18(seed: int = 0, blocks: tuple[int, ...] = (2, 2, 2, 2), size: int = 224) -> Program:
    """ResNet-18: x float32[1, 3, size, size] (224 by default) -> y float32[1, 1000] (logits).

    7x7/2 conv, 3x3/2 max pool, four stages of basic blocks (64, 128, 256, 512 channels; the
    first block of stages 2-4 strides by 2 with a 1x1 conv + batch norm shortcut), global
    average pool and a dense layer. `blocks` sets the blocks per stage (ResNet-34: 3, 4, 6, 3).
    """
    w = _Weights(seed)
    h = tb.relu(_conv_bn(w, tb.var("x", (1, 3, size, size)), 64, 7, 2))
    h = tb.max_pool2d(h, 3, 2, pads=1)
    for stage, count in enumerate(blocks):
        for i in range(count):
            h = _basic_block(w, h, 64 << stage, 2 if stage and not i else 1)
    h = tb.flatten(tb.global_avg_pool(h))
    return Program({"y": _dense(w, h, 1000, gain=1.0)})


VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
"""VGG-11's features: 3x3 convolutions (output channels) and 2x2 max pools ("M")."""


def vgg11(seed: int = 0, size: int = 224, classes: int = 1000) -> Program:
    """A VGG-11-style network: x float32[1, 3, size, size] -> y float32[1, classes].

    VGG-11's eight 3x3 convolutions (each with batch norm and ReLU) and five 2x2 max pools,
    then a global average pool and one dense layer in place of the three fully connected
    layers (which would hold 120 M of its 130 M parameters); `size` must divide by 32.
    """
    w = _Weights(seed)
    h = tb.var("x", (1, 3, size, size))
    for layer in VGG11:
        h = tb.max_pool2d(h, 2, 2) if layer == "M" else tb.relu(_conv_bn(w, h, int(layer), 3))
    return Program({"y": _dense(w, tb.flatten(tb.global_avg_pool(h)), classes, gain=1.0)})


def _bottleneck(w: _Weights, x: Term, width: int, stride: int) -> Term:
    h = tb.relu(_conv_bn(w, x, width, 1))
    h = tb.relu(_conv_bn(w, h, width, 3, stride))
    h = _conv_bn(w, h, 4 * width, 1, gain=RESIDUAL_GAIN)
    skip = x if stride == 1 and x.shape[1] == 4 * width else _conv_bn(w, x, 4 * width, 1, stride)
    return tb.relu(tb.add(h, skip))


def resnet50(seed: int = 0, blocks: tuple[int, ...] = (3, 4, 6, 3)) -> Program:
    """ResNet-50: x float32[1, 3, 224, 224] -> y float32[1, 1000] (logits).

    As `resnet18`, with bottleneck blocks (1x1 reduce, 3x3 with the stage's stride, 1x1 expand
    to 4x the width; a 1x1 conv + batch norm shortcut where the shape changes) of widths 64,
    128, 256, 512.
    """
    w = _Weights(seed)
    h = tb.relu(_conv_bn(w, tb.var("x", (1, 3, 224, 224)), 64, 7, 2))
    h = tb.max_pool2d(h, 3, 2, pads=1)
    for stage, count in enumerate(blocks):
        for i in range(count):
            h = _bottleneck(w, h, 64 << stage, 2 if stage and not i else 1)
    h = tb.flatten(tb.global_avg_pool(h))
    return Program({"y": _dense(w, h, 1000, gain=1.0)})


MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
"""(expansion t, channels c, repeats n, first stride s) of each MobileNetV2 stage."""


def _channels(c: int, width: float) -> int:
    return max(8, int(c * width + 4) // 8 * 8)


def _relu6(x: Term) -> Term:
    return tb.clip(x, 0.0, 6.0)


def _inverted_residual(w: _Weights, x: Term, t: int, out: int, stride: int) -> Term:
    hidden = x.shape[1] * t
    h = _relu6(_conv_bn(w, x, hidden, 1)) if t != 1 else x
    h = _relu6(_conv_bn(w, h, hidden, 3, stride, groups=hidden))
    residual = stride == 1 and x.shape[1] == out
    h = _conv_bn(w, h, out, 1, gain=RESIDUAL_GAIN if residual else 1.0)
    return tb.add(x, h) if residual else h


def mobilenet_v2(seed: int = 0, width: float = 1.0, size: int = 224) -> Program:
    """MobileNetV2 at a width multiplier (default 1.0): x float32[1, 3, size, size] -> y [1, 1000].

    3x3/2 conv, inverted residual blocks (1x1 expand, 3x3 depthwise, 1x1 linear projection,
    ReLU6 as clip(0, 6), identity shortcut when shapes allow), 1x1 conv to 1280, global
    average pool and a dense classifier.
    """
    w = _Weights(seed)
    h = _relu6(_conv_bn(w, tb.var("x", (1, 3, size, size)), _channels(32, width), 3, 2))
    for t, c, n, s in MOBILENET_V2_STAGES:
        for i in range(n):
            h = _inverted_residual(w, h, t, _channels(c, width), s if i == 0 else 1)
    h = _relu6(_conv_bn(w, h, 1280, 1))
    h = tb.flatten(tb.global_avg_pool(h))
    return Program({"y": _dense(w, h, 1000, gain=1.0)})


EFFICIENTNET_STAGES = ((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
                       (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3))
"""(expansion, channels, repeats, first stride, kernel size) of each EfficientNet-B0 stage."""


def _silu(x: Term) -> Term:
    return tb.mul(x, tb.sigmoid(x))


def _squeeze_excite(w: _Weights, x: Term, squeezed: int) -> Term:
    """x * sigmoid(expand(silu(reduce(mean over pixels of x)))), the 1x1 convs with biases."""
    c = x.shape[1]
    s = tb.global_avg_pool(x)
    s = _silu(tb.add(tb.conv2d(s, w.he((squeezed, c, 1, 1), c)), tb.reshape(w.bias(squeezed), (1, squeezed, 1, 1))))
    s = tb.add(tb.conv2d(s, w.he((c, squeezed, 1, 1), squeezed, 1.0)), tb.reshape(w.bias(c), (1, c, 1, 1)))
    return tb.mul(x, tb.sigmoid(s))


def _mbconv(w: _Weights, x: Term, t: int, out: int, stride: int, k: int) -> Term:
    cin = x.shape[1]
    h = _silu(_conv_bn(w, x, cin * t, 1)) if t != 1 else x
    h = _silu(_conv_bn(w, h, cin * t, k, stride, groups=cin * t))
    h = _squeeze_excite(w, h, max(1, cin // 4))
    residual = stride == 1 and cin == out
    h = _conv_bn(w, h, out, 1, gain=RESIDUAL_GAIN if residual else 1.0)
    return tb.add(x, h) if residual else h


def efficientnet_style(seed: int = 0, size: int = 224) -> Program:
    """An EfficientNet-B0-style network: x float32[1, 3, size, size] -> y float32[1, 1000].

    3x3/2 conv, MBConv blocks (1x1 expand, kxk depthwise, squeeze-and-excite, 1x1 linear
    projection; SiLU as x * sigmoid(x), identity shortcut when shapes allow), 1x1 conv to 1280,
    global average pool and a dense classifier.
    """
    w = _Weights(seed)
    h = _silu(_conv_bn(w, tb.var("x", (1, 3, size, size)), 32, 3, 2))
    for t, c, n, s, k in EFFICIENTNET_STAGES:
        for i in range(n):
            h = _mbconv(w, h, t, c, s if i == 0 else 1, k)
    h = _silu(_conv_bn(w, h, 1280, 1))
    h = tb.flatten(tb.global_avg_pool(h))
    return Program({"y": _dense(w, h, 1000, gain=1.0)})


def _split_heads(x: Term, heads: int) -> Term:
    b, s, d = x.shape
    return tb.transpose(tb.reshape(x, (b, s, heads, d // heads)), (0, 2, 1, 3))


def _attention(w: _Weights, x: Term, heads: int) -> Term:
    b, s, d = x.shape
    q, k, v = (_split_heads(_dense(w, x, d, gain=1.0), heads) for _ in range(3))
    scores = tb.mul(tb.matmul(q, tb.transpose(k, (0, 1, 3, 2))), float(1 / np.sqrt(d // heads)))
    mixed = tb.matmul(tb.softmax(scores, axis=-1), v)
    merged = tb.reshape(tb.transpose(mixed, (0, 2, 1, 3)), (b, s, d))
    return _dense(w, merged, d, gain=1.0)


def transformer_block(seed: int = 0, seq: int = 128, d_model: int = 256, heads: int = 4,
                      d_ff: int = 1024) -> Program:
    """One pre-norm encoder block: x float32[1, seq, d_model] -> y of the same shape.

    y = h + mlp(ln2(h)) with h = x + attention(ln1(x)); attention has `heads` heads built from
    dense, reshape, transpose, batched matmul and softmax; the MLP is dense-GELU-dense.
    """
    w = _Weights(seed)
    x = tb.var("x", (1, seq, d_model))
    h = tb.add(x, _attention(w, w.layer_norm(x), heads))
    ff = _dense(w, tb.gelu(_dense(w, w.layer_norm(h), d_ff)), d_model, gain=1.0)
    return Program({"y": tb.add(h, ff)})


ZOO: dict[str, Callable[..., Program]] = {
    "mlp": mlp,
    "resnet18": resnet18,
    "mobilenet_v2": mobilenet_v2,
    "transformer_block": transformer_block,
}


LARGE: dict[str, Callable[..., Program]] = {
    "resnet50": resnet50,
    "efficientnet_style": efficientnet_style,
    "vgg11": vgg11,
}
"""Bigger models, for compile-time benchmarks; `get` builds them too (tests iterate `ZOO` only)."""


SMALL: dict[str, Callable[..., Program]] = {"small_cnn": small_cnn}
"""Tiny models for targets where every millisecond is emulated; `get` builds them too."""


def get(name: str, seed: int = 0) -> Program:
    """Build the zoo (or `LARGE`, `SMALL`) model `name` with weights drawn from `seed`."""
    builders = ZOO | LARGE | SMALL
    if name not in builders:
        from frittata.errors import FrontendError

        raise FrontendError(f"zoo: expected a model name in {sorted(builders)}, got {name!r}")
    return builders[name](seed=seed)


def example_input(program: Program, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal float32 inputs (uniform ints for integer inputs) for every program input."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, ty in program.inputs.items():
        if ty.dtype == "float32":
            out[name] = rng.standard_normal(ty.shape).astype(np.float32)
        else:
            out[name] = rng.integers(-8, 8, ty.shape).astype(ty.dtype)
    return out
