"""ONNX-import converters: the full table, from the operator table plus the many-to-one cases.

`CONVERTERS` maps an ONNX op_type to a small function from a `NodeView` to the node's output
term (or list of outputs). An op that maps one-to-one onto an ONNX operator declares it in its
table entry (`Op.onnx`, converted by `table_converter`) or gives its own converters
(`Op.onnx_import`); the converters here cover ONNX operators that become several terms or none
(Identity, Flatten, Squeeze, Slice, ...); neural-network operators live in `onnx_nn`, quantized
ones in `onnx_quant`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from frittata.errors import FrontendError
from frittata.terms import builders as tb
from frittata.terms.onnx_nn import NN_CONVERTERS
from frittata.terms.onnx_node import NodeView, Value, unsupported
from frittata.terms.onnx_quant import QUANT_CONVERTERS
from frittata.terms.ops import Op
from frittata.terms.term import Term, build

Converter = Callable[[NodeView], "Value | list[Value]"]


def table_converter(op: Op) -> Converter:
    """The converter of an op's one-to-one ONNX operator: inputs in order, attributes renamed."""
    assert op.onnx is not None
    names = op.onnx.attrs

    def convert(n: NodeView) -> Term:
        attrs = {ours: n.attr(theirs) for ours, theirs in names.items() if theirs in n.attrs}
        return build(op, n.terms(), **attrs)

    return convert


def _from_table() -> dict[str, Converter]:
    table: dict[str, Converter] = {}
    for op in Op:
        if op.onnx is not None:
            table[op.onnx.op_type] = table_converter(op)
        table.update(op.onnx_import)
    return table


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
    **_from_table(), "Identity": _identity, "Dropout": _identity,
    "Reshape": _reshape, "Transpose": _transpose, "Concat": _concat, "Flatten": _flatten,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Slice": _slice, "Pad": _pad, "Gather": _gather,
    "ReduceSum": _reduce, "ReduceMean": _reduce, "ReduceMax": _reduce,
    **NN_CONVERTERS, **QUANT_CONVERTERS,
}
