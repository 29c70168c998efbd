"""ONNX import: an ONNX model (opsets 11-21) becomes a `Program` of terms.

Graph inputs become `var`s, initializers become `param`s, and every node is converted by the
table in `frittata.terms.onnx_ops` (quantized operators in `frittata.terms.onnx_quant`).
Nodes whose inputs are all known at import time (shape sub-graphs: Shape -> Gather -> Concat ->
Reshape, Constant, ConstantOfShape, ...) are folded to numpy constants with the ONNX reference
implementation. Every problem is a `FrontendError` that names the node or value at fault.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from frittata.errors import FrittataError, FrontendError
from frittata.terms import builders as tb
from frittata.terms.dtypes import DTYPES
from frittata.terms.onnx_node import NodeView, Value
from frittata.terms.onnx_ops import CONVERTERS
from frittata.terms.program import Program
from frittata.terms.term import Term

OPSETS = range(11, 22)
DEFAULT_DOMAINS = ("", "ai.onnx")
STATIC_SHAPE_OPS = frozenset({"Shape", "Size"})


def from_onnx(model: str | os.PathLike | bytes | onnx.ModelProto,
              shapes: Mapping[str, Sequence[int]] | None = None) -> Program:
    """Import an ONNX model as a Program; `shapes` fixes the symbolic dims of named inputs."""
    proto = load_model(model)
    opset = _default_opset(proto)
    graph = proto.graph
    _check_supported(graph)
    importer = _Importer(opset)
    importer.add_initializers(graph)
    inputs = importer.add_inputs(graph, dict(shapes or {}))
    for node in graph.node:
        importer.convert(node)
    return importer.program(graph, inputs)


def load_model(model: str | os.PathLike | bytes | onnx.ModelProto) -> onnx.ModelProto:
    """Parse a path, bytes or ModelProto; a file that is not an ONNX model is a FrontendError."""
    if isinstance(model, onnx.ModelProto):
        return model
    where = "ONNX bytes" if isinstance(model, bytes) else f"ONNX file {os.fspath(model)!r}"
    try:
        data = model if isinstance(model, bytes) else open(model, "rb").read()
        proto = onnx.ModelProto.FromString(data)
    except OSError as e:
        raise FrontendError(f"{where}: expected a readable file, got {e.strerror}") from None
    except Exception as e:  # protobuf's DecodeError and friends
        raise FrontendError(f"{where}: expected a serialized ModelProto, got a parse error ({e});"
                            " the file may be truncated or not an ONNX model") from None
    if not proto.HasField("graph") or not proto.graph.output:
        raise FrontendError(f"{where}: expected a model with a graph and outputs, got none"
                            " (truncated file, or not an ONNX model)")
    return proto


def _default_opset(proto: onnx.ModelProto) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions or versions[0] not in OPSETS:
        raise FrontendError(f"ONNX model: expected default-domain opset in 11..21, got {versions or 'none'}")
    return versions[0]


def _check_supported(graph: onnx.GraphProto) -> None:
    """Raise one FrontendError listing every unsupported operator type, with counts and nodes."""
    known = {i.name for i in graph.initializer}
    bad: dict[str, list[str]] = {}
    for node in graph.node:
        custom = node.domain not in DEFAULT_DOMAINS
        foldable = all(n in known or not n for n in node.input) or node.op_type in STATIC_SHAPE_OPS
        if foldable and not custom:
            known.update(node.output)
        elif custom or node.op_type not in CONVERTERS:
            key = node.op_type if not custom else f"{node.domain}.{node.op_type}"
            bad.setdefault(key, []).append(node.name or f"<unnamed, output {node.output[0]!r}>")
    if bad:
        counts = Counter({k: len(v) for k, v in bad.items()})
        lines = [f"  {op} x{n}: {', '.join(bad[op])}" for op, n in counts.most_common()]
        raise FrontendError(f"ONNX model: {sum(counts.values())} node(s) of {len(bad)} unsupported"
                            " operator type(s):\n" + "\n".join(lines))


class _Importer:
    """The value environment: ONNX value name -> numpy constant or term."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.env: dict[str, Value] = {}
        self.materialized: dict[str, Term] = {}

    def add_initializers(self, graph: onnx.GraphProto) -> None:
        for init in graph.initializer:
            self.env[init.name] = numpy_helper.to_array(init)

    def add_inputs(self, graph: onnx.GraphProto, shapes: dict) -> list[str]:
        unknown = set(shapes) - {i.name for i in graph.input}
        if unknown:
            raise FrontendError(f"from_onnx shapes=: expected graph input names"
                                f" {[i.name for i in graph.input]}, got {sorted(unknown)}")
        names = []
        for info in graph.input:
            if info.name not in self.env:
                self.env[info.name] = _input_var(info, shapes.get(info.name))
                names.append(info.name)
        return names

    def term(self, name: str, value: Value) -> Term:
        """The term of a value: a constant becomes `const` (scalars) or a `param` once."""
        if isinstance(value, Term):
            return value
        if name not in self.materialized:
            array = np.asarray(value)
            self.materialized[name] = (tb.const(array.item(), array.dtype.name) if array.ndim == 0
                                       else tb.param(name, array))
        return self.materialized[name]

    def lookup(self, node: onnx.NodeProto, name: str) -> Value | None:
        if not name:
            return None
        if name not in self.env:
            raise FrontendError(f"ONNX node {node.name!r} ({node.op_type}): input {name!r} is not"
                                " defined by any graph input, initializer or earlier node")
        return self.env[name]

    def convert(self, node: onnx.NodeProto) -> None:
        view = NodeView(node, [self.lookup(node, n) for n in node.input], self)
        try:
            outputs = self._fold(view) if view.foldable() else CONVERTERS[node.op_type](view)
        except FrittataError as e:
            raise FrontendError(f"ONNX node {node.name!r} ({node.op_type}): {e}") from e
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for name, value in zip(node.output, outputs):
            if name:
                self.env[name] = value

    def _fold(self, view: NodeView) -> list[np.ndarray]:
        node = view.node
        if node.op_type in STATIC_SHAPE_OPS:
            return [view.static_shape_op()]
        feeds = {n: v for n, v in zip(node.input, view.values) if n}
        try:
            return list(ReferenceEvaluator(node, opsets={"": self.opset}).run(None, feeds))
        except Exception as e:
            raise FrontendError(f"constant folding failed: {type(e).__name__}: {e}") from e

    def program(self, graph: onnx.GraphProto, inputs: list[str]) -> Program:
        outputs = {o.name: self.term(o.name, self.env[o.name]) for o in graph.output}
        used = Program(outputs).inputs
        return Program(outputs, input_order=[n for n in inputs if n in used])


def _input_var(info: onnx.ValueInfoProto, fixed: Sequence[int] | None) -> Term:
    ttype = info.type.tensor_type
    dtype = helper.tensor_dtype_to_np_dtype(ttype.elem_type).name if ttype.elem_type else "?"
    if dtype not in DTYPES:
        raise FrontendError(f"graph input {info.name!r}: expected a dtype in {DTYPES}, got {dtype}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in ttype.shape.dim]
    if fixed is not None:
        fixed = tuple(int(d) for d in fixed)
        if len(fixed) != len(dims) or any(isinstance(d, int) and d != f for d, f in zip(dims, fixed)):
            raise FrontendError(f"graph input {info.name!r}: shapes= gives {fixed}, which does not"
                                f" match the model's shape {tuple(dims)}")
        dims = list(fixed)
    symbolic = [d for d in dims if not isinstance(d, int)]
    if symbolic or not ttype.HasField("shape"):
        raise FrontendError(f"graph input {info.name!r}: expected static dimensions, got"
                            f" {tuple(dims) if ttype.HasField('shape') else 'no shape'}"
                            f" (symbolic {symbolic}); fix them with"
                            f" from_onnx(..., shapes={{{info.name!r}: (...)}})")
    return tb.var(info.name, [int(d) for d in dims], dtype)
