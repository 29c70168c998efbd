"""ONNX import of data-movement operators by tracing positions: Tile, DepthToSpace,
SpaceToDepth, GatherElements, GatherND, ScatterND, ScatterElements, Trilu, ReverseSequence,
Compress.

Each of these moves elements of its data inputs (and may write zeros) under control of inputs
known at import time. Running the ONNX operator itself (the reference evaluator) on the
*positions* of the data elements, numbered from 1 (0 stands for a written zero), tells where
every output element comes from; the node becomes one `gather` of the flattened data (and a
`where` for the zeros). The operator's semantics are therefore exactly ONNX's, per opset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term

DATA_INPUTS = {
    "Tile": (0,), "DepthToSpace": (0,), "SpaceToDepth": (0,), "GatherElements": (0,), "GatherND": (0,),
    "ScatterND": (0, 2), "ScatterElements": (0, 2), "Trilu": (0,), "ReverseSequence": (0,), "Compress": (0,),
}
"""The inputs whose elements each operator moves; its other inputs must be import-time constants."""


def _positions(n: NodeView, data: list[Term]) -> np.ndarray:
    """The source position (1-based over the concatenated flattened data, 0 = zero) per output."""
    values = list(n.values)
    start = 1
    for i, t in zip(DATA_INPUTS[n.node.op_type], data):
        values[i] = np.arange(start, start + t.type.size, dtype=np.int64).reshape(t.shape)
        start += t.type.size
    for i, name in enumerate(n.node.input):
        if name and i not in DATA_INPUTS[n.node.op_type]:
            values[i] = n.const(i, name)
    feeds = NodeView(n.node, values, n.importer)
    return np.asarray(n.importer.fold(feeds)[0])


def _traced(n: NodeView) -> Term:
    if n.attr("reduction", "none") != "none":
        raise unsupported(f"{n.node.op_type} with reduction {n.attr('reduction')!r}")
    data = [n.term(i) for i in DATA_INPUTS[n.node.op_type] if n.has(i)]
    if len({t.dtype for t in data}) > 1:
        raise unsupported(f"{n.node.op_type} of data of dtypes {[t.dtype for t in data]}")
    positions = _positions(n, data)
    if not positions.any():
        return n.importer.term(n.node.output[0] + ":zeros", np.zeros(positions.shape, data[0].dtype))
    flat = [tb.reshape(t, (t.type.size,)) for t in data]
    source = flat[0] if len(flat) == 1 else tb.concat(*flat)
    moved = tb.gather(source, np.maximum(positions - 1, 0), 0)
    if positions.all():
        return moved
    written = n.importer.term(n.node.output[0] + ":written", positions > 0)
    return tb.where(written, moved, 0)


TRACED_CONVERTERS: dict[str, Callable[[NodeView], Any]] = {op_type: _traced for op_type in DATA_INPUTS}
