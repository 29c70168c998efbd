"""ONNX-import converters of elementwise and data-movement operators, and the full table.

`CONVERTERS` maps an ONNX op_type to a small function from a `NodeView` to the node's output
term (or list of outputs); neural-network operators live in `onnx_nn`, quantized ones in
`onnx_quant`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

import numpy as np

from frittata.errors import FrontendError
from frittata.terms import builders as tb
from frittata.terms.onnx_nn import NN_CONVERTERS
from frittata.terms.onnx_node import NodeView, Value, onnx_dtype_name, unsupported
from frittata.terms.onnx_quant import QUANT_CONVERTERS
from frittata.terms.term import Term

Converter = Callable[[NodeView], "Value | list[Value]"]

BINARY = {"Add": tb.add, "Sub": tb.sub, "Mul": tb.mul, "Div": tb.div}
UNARY = {"Neg": tb.neg, "Abs": tb.abs, "Round": tb.round, "Exp": tb.exp, "Log": tb.log, "Sqrt": tb.sqrt, "Erf": tb.erf,
         "Tanh": tb.tanh, "Sigmoid": tb.sigmoid, "Relu": tb.relu}


def _binary(n: NodeView) -> Term:
    return BINARY[n.node.op_type](n.term(0), n.term(1))


def _unary(n: NodeView) -> Term:
    return UNARY[n.node.op_type](n.term(0))


def _variadic(n: NodeView) -> Term:
    """Max and Min take one or more inputs."""
    fold = tb.maximum if n.node.op_type == "Max" else tb.minimum
    return reduce(fold, n.terms())


def _pow(n: NodeView) -> Term:
    """ONNX lets the exponent have another dtype; it is cast to the base's."""
    base, exponent = n.term(0), n.value(1)
    if isinstance(exponent, np.ndarray):
        exponent = n.importer.term(n.node.input[1] + ":" + base.dtype, exponent.astype(base.dtype))
    elif exponent.dtype != base.dtype:
        exponent = tb.cast(exponent, base.dtype)
    return tb.pow(base, exponent)


def _leaky_relu(n: NodeView) -> Term:
    return tb.leaky_relu(n.term(0), n.attr("alpha", 0.01))


def _gelu(n: NodeView) -> Term:
    return tb.gelu(n.term(0), n.attr("approximate", "none"))


def _clip(n: NodeView) -> Term:
    """Constant bounds become `clip`; computed ones `maximum` / `minimum`."""
    x = n.term(0)
    bounds = [n.values[i] if n.has(i) else None for i in (1, 2)]
    if all(b is None or isinstance(b, np.ndarray) for b in bounds):
        return tb.clip(x, *(b.item() if isinstance(b, np.ndarray) else None for b in bounds))
    lo, hi = (n.term(i) if n.has(i) else None for i in (1, 2))
    x = x if lo is None else tb.maximum(x, lo)
    return x if hi is None else tb.minimum(x, hi)


def _where(n: NodeView) -> Term:
    return tb.where(n.term(0), n.term(1), n.term(2))


def _cast(n: NodeView) -> Term:
    return tb.cast(n.term(0), onnx_dtype_name(n.attr("to")))


def _identity(n: NodeView) -> Value:
    """Identity, and Dropout at inference (its mask output is not supported)."""
    n.no_extra_outputs()
    return n.value(0)


def _reshape(n: NodeView) -> Term:
    x, shape = n.term(0), [int(d) for d in n.const(1, "shape")]
    if not n.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return tb.reshape(x, shape)


def _transpose(n: NodeView) -> Term:
    perm = n.attr("perm")
    return tb.transpose(n.term(0), None if perm is None else list(perm))


def _concat(n: NodeView) -> Term:
    return tb.concat(*n.terms(), axis=n.attr("axis"))


def _flatten(n: NodeView) -> Term:
    return tb.flatten(n.term(0), n.attr("axis", 1))


def _squeeze(n: NodeView) -> Term:
    return tb.squeeze(n.term(0), n.axes(1))


def _unsqueeze(n: NodeView) -> Term:
    axes = n.axes(1)
    if axes is None:
        raise FrontendError("Unsqueeze: expected axes (an attribute or input 1), got none")
    return tb.unsqueeze(n.term(0), axes)


def onnx_slice(dim: int, start: int, end: int, step: int) -> tuple[int, int | None, int]:
    """ONNX Slice bounds of one axis as a Python (start, stop, step); stop None = before index 0."""
    if step == 0:
        raise unsupported("Slice with step 0")
    start, end = (v + dim if v < 0 else v for v in (start, end))
    if step > 0:
        return (min(max(start, 0), dim), min(max(end, 0), dim), step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return (start, None if end < 0 else end, step)


def _slice(n: NodeView) -> Term:
    x = n.term(0)
    starts, ends = n.const(1, "starts"), n.const(2, "ends")
    axes = n.const(3, "axes") if n.has(3) else np.arange(len(starts))
    steps = n.const(4, "steps") if n.has(4) else np.ones(len(starts), np.int64)
    triples: list[tuple[int, int | None, int]] = [(0, d, 1) for d in x.shape]
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % x.type.rank
        triples[axis] = onnx_slice(x.shape[axis], int(start), int(end), int(step))
    return tb.slice(x, triples)


def _pad(n: NodeView) -> Term:
    """Constant-mode Pad; negative pads crop (a slice after the pad)."""
    if n.attr("mode", "constant") != "constant":
        raise unsupported(f"Pad mode {n.attr('mode')!r}; only 'constant'")
    x = n.term(0)
    rank = x.type.rank
    raw = [int(p) for p in (n.const(1, "pads") if n.has(1) else n.attr("pads"))]
    axes = [a % rank for a in (n.axes(3) or range(rank))]
    pairs = [(0, 0)] * rank
    for i, axis in enumerate(axes):
        pairs[axis] = (raw[i], raw[i + len(axes)])
    value = n.optional_const(2, "constant_value")
    padded = tb.pad(x, [(max(b, 0), max(a, 0)) for b, a in pairs], 0 if value is None else value.item())
    if all(b >= 0 and a >= 0 for b, a in pairs):
        return padded
    return tb.slice(padded, [(-min(b, 0), d + min(a, 0), 1) for (b, a), d in zip(pairs, padded.shape)])


def _gather(n: NodeView) -> Term:
    return tb.gather(n.term(0), n.const(1, "indices"), n.attr("axis", 0))


def _reduce(n: NodeView) -> Term:
    builder = {"ReduceSum": tb.reduce_sum, "ReduceMean": tb.reduce_mean, "ReduceMax": tb.reduce_max}
    axes = n.axes(1)
    if not axes and n.attr("noop_with_empty_axes", 0):
        return n.term(0)
    return builder[n.node.op_type](n.term(0), axes or None, bool(n.attr("keepdims", 1)))


CONVERTERS: dict[str, Converter] = {
    **{op: _binary for op in BINARY}, **{op: _unary for op in UNARY},
    "Max": _variadic, "Min": _variadic, "Pow": _pow, "LeakyRelu": _leaky_relu, "Gelu": _gelu,
    "Clip": _clip, "Where": _where, "Cast": _cast, "Identity": _identity, "Dropout": _identity,
    "Reshape": _reshape, "Transpose": _transpose, "Concat": _concat, "Flatten": _flatten,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Slice": _slice, "Pad": _pad, "Gather": _gather,
    "ReduceSum": _reduce, "ReduceMean": _reduce, "ReduceMax": _reduce,
    **NN_CONVERTERS, **QUANT_CONVERTERS,
}
