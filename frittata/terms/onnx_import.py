"""ONNX import: an ONNX model (default-domain opsets 7 to the newest `onnx` defines) becomes a `Program`.

Graph inputs become `var`s (or constants, when `constants=` binds them), initializers become
`param`s (old exporters also list them among the graph inputs), and every node is converted by the
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
from onnx import helper
from onnx.reference import ReferenceEvaluator

from frittata.errors import FrittataError, FrontendError
from frittata.terms import builders as tb
from frittata.terms.dtypes import DTYPES
from frittata.terms.onnx_initializers import initializer_array
from frittata.terms.onnx_node import NodeView, UnboundInputError, Value
from frittata.terms.onnx_ops import CONVERTERS
from frittata.terms.program import Program
from frittata.terms.term import Term

OPSETS = range(7, onnx.defs.onnx_opset_version() + 1)
"""The default-domain opsets import reads: 7 to the newest the installed `onnx` defines."""
DEFAULT_DOMAINS = ("", "ai.onnx")
STATIC_SHAPE_OPS = frozenset({"Shape", "Size"})


def from_onnx(model: str | os.PathLike | bytes | onnx.ModelProto,
              shapes: Mapping[str, Sequence[int]] | None = None,
              constants: Mapping[str, object] | None = None) -> Program:
    """Import an ONNX model as a Program.

    `shapes` fixes the symbolic dims of named inputs; `constants` binds named graph inputs to
    values known at compile time (axes, pads, shapes, bounds a model takes as inputs), which
    are then no longer inputs of the program. numpy scalars count as 0-d arrays.
    """
    proto = load_model(model)
    base_dir = os.path.dirname(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else None
    opset = default_opset(proto)
    graph = proto.graph
    if opset < OPSETS.start:
        check_early_opset(graph, opset)
    bound = _bound_constants(graph, constants or {})
    _check_supported(graph, set(bound))
    importer = _Importer(opset)
    importer.add_initializers(graph, base_dir)
    importer.env.update(bound)
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


def default_opset(proto: onnx.ModelProto) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions or not 1 <= versions[0] < OPSETS.stop:
        raise FrontendError(f"ONNX model: expected default-domain opset in {OPSETS.start}..{OPSETS.stop - 1},"
                            f" got {versions or 'none'}")
    return versions[0]


def check_early_opset(graph: onnx.GraphProto, opset: int) -> None:
    """A model of opset 1-6 imports when each of its operators means at `opset` what it means at
    opset 7 (the same schema version in `onnx.defs`), as for ops unchanged since opset 1."""
    changed = sorted({n.op_type for n in graph.node if n.domain in DEFAULT_DOMAINS
                      and _schema_version(n.op_type, opset) != _schema_version(n.op_type, OPSETS.start)})
    if changed:
        raise FrontendError(f"ONNX model: expected default-domain opset in {OPSETS.start}..{OPSETS.stop - 1},"
                            f" got [{opset}], where {changed} mean something else than at opset"
                            f" {OPSETS.start}; convert it with onnx.version_converter")


def _schema_version(op_type: str, opset: int) -> int | None:
    try:
        return onnx.defs.get_schema(op_type, opset).since_version
    except onnx.defs.SchemaError:
        return None


def _bound_constants(graph: onnx.GraphProto, constants: Mapping[str, object]) -> dict[str, np.ndarray]:
    """`constants=` as numpy arrays of the inputs' declared dtypes; an unknown name is an error."""
    declared = {i.name: i for i in graph.input}
    unknown = sorted(set(constants) - set(declared))
    if unknown:
        raise FrontendError(f"from_onnx constants=: expected graph input names {sorted(declared)},"
                            f" got {unknown}")
    bound = {}
    for name, value in constants.items():
        code = declared[name].type.tensor_type.elem_type
        dtype = helper.tensor_dtype_to_np_dtype(code) if code else np.asarray(value).dtype
        bound[name] = np.asarray(value, dtype=dtype)
    return bound


def node_status(graph: onnx.GraphProto, bound: set[str]) -> list[tuple[onnx.NodeProto, str, str]]:
    """Each node with its operator's name (`domain.op` outside the default domain) and what
    import does with it: "folded" (its inputs are known at import time, or it only reads a
    shape: evaluated to a constant), "converted" (a converter makes it a term) or
    "unsupported". `bound` names the graph inputs bound to constants."""
    known = {i.name for i in graph.initializer} | bound
    status = []
    for node in graph.node:
        custom = node.domain not in DEFAULT_DOMAINS
        key = node.op_type if not custom else f"{node.domain}.{node.op_type}"
        foldable = all(n in known or not n for n in node.input) or node.op_type in STATIC_SHAPE_OPS
        if foldable and not custom:
            known.update(node.output)
            status.append((node, key, "folded"))
        else:
            status.append((node, key, "unsupported" if custom or node.op_type not in CONVERTERS else "converted"))
    return status


def node_label(node: onnx.NodeProto) -> str:
    """A node's name, or what names it when it has none."""
    return node.name or f"<unnamed, output {node.output[0]!r}>"


def _check_supported(graph: onnx.GraphProto, bound: set[str]) -> None:
    """Raise one FrontendError listing every unsupported operator type, with counts and nodes."""
    bad: dict[str, list[str]] = {}
    for node, key, status in node_status(graph, bound):
        if status == "unsupported":
            bad.setdefault(key, []).append(node_label(node))
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

    def add_initializers(self, graph: onnx.GraphProto, base_dir: str | None) -> None:
        for init in graph.initializer:
            self.env[init.name] = initializer_array(init, base_dir)

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
            outputs = self.fold(view) if view.foldable() else CONVERTERS[node.op_type](view)
        except UnboundInputError as e:
            raise UnboundInputError(e.names, f"ONNX node {node.name!r} ({node.op_type}): {e}") from e
        except FrittataError as e:
            raise FrontendError(f"ONNX node {node.name!r} ({node.op_type}): {e}") from e
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for name, value in zip(node.output, outputs):
            if name:
                self.env[name] = value

    def fold(self, view: NodeView) -> list[np.ndarray]:
        """The outputs of a node whose inputs are all constants, by the ONNX reference evaluator."""
        node = view.node
        if node.op_type in STATIC_SHAPE_OPS:
            return [view.static_shape_op()]
        feeds = {n: v for n, v in zip(node.input, view.values) if n and isinstance(v, np.ndarray)}
        try:
            outputs = ReferenceEvaluator(_one_node_model(node, feeds, self.opset)).run(None, feeds)
        except Exception as e:
            raise FrontendError(f"constant folding failed: {type(e).__name__}: {e}") from e
        return [np.asarray(o) for o in outputs]

    def program(self, graph: onnx.GraphProto, inputs: list[str]) -> Program:
        outputs = {o.name: self.term(o.name, self.env[o.name]) for o in graph.output}
        used = Program(outputs).inputs
        return Program(outputs, input_order=[n for n in inputs if n in used])


def _one_node_model(node: onnx.NodeProto, feeds: Mapping[str, np.ndarray], opset: int) -> onnx.ModelProto:
    """`node` as a model of `opset`: the reference evaluator picks an operator's version from a
    model's opset import (given a bare node it may pick a newer version's semantics)."""
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for n, v in feeds.items()]
    outputs = [helper.make_value_info(n, onnx.TypeProto()) for n in node.output if n]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def input_dtype(info: onnx.ValueInfoProto) -> str | None:
    """numpy's name for a graph input's tensor element type ("float32", "bfloat16", "object" for
    strings); None when the input has no tensor type (a sequence, a map, no type at all) or its
    element type is undefined."""
    code = info.type.tensor_type.elem_type
    if info.type.WhichOneof("value") != "tensor_type" or not code:
        return None
    try:
        return helper.tensor_dtype_to_np_dtype(code).name
    except KeyError:
        return None


def input_dtype_problem(info: onnx.ValueInfoProto) -> str | None:
    """Why import refuses a graph input's type (expected a tensor of a frittata dtype, got what
    it has, naming the input), or None when import takes it."""
    if input_dtype(info) in DTYPES:
        return None
    kind = info.type.WhichOneof("value")
    code = info.type.tensor_type.elem_type
    if kind is None:
        got = "no type"
    elif kind != "tensor_type":
        got = "a " + kind.removesuffix("_type").replace("_", " ")
    elif not code:
        got = "a tensor of undefined element type"
    elif code in onnx.TensorProto.DataType.values():
        got = "a tensor of " + onnx.TensorProto.DataType.Name(code).lower()
    else:
        got = f"a tensor of element type {code}"
    return f"graph input {info.name!r}: expected a tensor of a dtype in {DTYPES}, got {got}"


def _input_var(info: onnx.ValueInfoProto, fixed: Sequence[int] | None) -> Term:
    problem = input_dtype_problem(info)
    if problem is not None:
        raise FrontendError(problem)
    dtype = input_dtype(info)
    assert dtype is not None, "no problem means a dtype in DTYPES"
    ttype = info.type.tensor_type
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
