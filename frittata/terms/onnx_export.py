"""Export a `Program` to an ONNX model (opset 21): inputs, parameters as initializers, outputs.

Each term op becomes a few ONNX nodes as its operator-table entry says: its own `onnx_export`
function, else its one-to-one ONNX operator (`Op.onnx`, attributes renamed), else — for kernel
ops — its expansion into plain ops, exported like any other graph. An exporter takes the graph
builder, the term, its arguments' value names and the wanted output name (or None), and returns
the name of the value holding the term's result. The model runs in onnxruntime, which is how
tests compare frittata against a peer.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

from frittata.terms.expansion import expand
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term

OPSET = 21
IR_VERSION = 10


class GraphBuilder:
    """Accumulates nodes and initializers under fresh, unique value names."""

    def __init__(self, reserved: set[str]) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.used = set(reserved)

    def fresh(self, hint: str) -> str:
        name, k = hint, 0
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.used.add(name)
        return name

    def node(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        """Add one node with one output; return the output's name."""
        out = out or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.fresh(f"n_{out}"), **attrs))
        return out

    def dtype(self, name: str) -> int:
        """The ONNX type code of a dtype name."""
        return onnx_dtype(name)

    def constant(self, value, dtype: str | np.dtype, hint: str = "c") -> str:
        """An initializer holding `value` as `dtype`; returns its name."""
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name


def to_onnx(program: Program, name: str = "frittata") -> onnx.ModelProto:
    """The ONNX model (opset 21) computing `program`; it passes `onnx.checker.check_model`."""
    g = GraphBuilder(set(program.inputs) | set(program.params) | set(program.outputs))
    names: dict[int, str] = {}
    wanted = _output_names(program)
    for node in program.terms():
        names[id(node)] = _export_leaf(g, node) if not node.args else export_node(
            g, node, [names[id(a)] for a in node.args], wanted.get(id(node)))
    outputs = [_make_output(g, out, names[id(term)], term) for out, term in program.outputs.items()]
    inputs = [helper.make_tensor_value_info(n, onnx_dtype(t.dtype), t.shape) for n, t in program.inputs.items()]
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION, producer_name="frittata")
    onnx.checker.check_model(model)
    return model


def save_onnx(program: Program, path: str | os.PathLike) -> None:
    """Write `to_onnx(program)` to `path`."""
    onnx.save_model(to_onnx(program), os.fspath(path))


def _output_names(program: Program) -> dict[int, str]:
    """Output name for each non-leaf output term (its first output), so no Identity is needed."""
    wanted: dict[int, str] = {}
    for out, term in program.outputs.items():
        if term.args and id(term) not in wanted:
            wanted[id(term)] = out
    return wanted


def _make_output(g: GraphBuilder, out: str, value: str, term: Term) -> onnx.ValueInfoProto:
    if value != out:
        g.node("Identity", [value], out)
    return helper.make_tensor_value_info(out, onnx_dtype(term.dtype), term.shape)


def _export_leaf(g: GraphBuilder, node: Term) -> str:
    match node.op:
        case Op.INPUT:
            return node.attr("name")
        case Op.PARAM:
            ref = node.attr("ref")
            g.used.add(ref.name)
            g.initializers.append(numpy_helper.from_array(ref.data, ref.name))
            return ref.name
        case Op.CONST:
            return g.constant(node.attr("value"), node.dtype, "const")
        case _:
            raise AssertionError(f"{node.op} is not a leaf")


def onnx_dtype(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def export_node(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    """Emit the nodes computing `node` from `args`; return the result's value name."""
    op = node.op
    if op.onnx_export is not None:
        return op.onnx_export(g, node, args, out)
    if op.onnx is not None:
        attrs = {theirs: _onnx_value(node.attr(ours)) for ours, theirs in op.onnx.attrs.items()}
        return g.node(op.onnx.op_type, args, out, **attrs)
    if op.expand is not None:
        return _export_expanded(g, expand(node), dict(zip(map(id, node.args), args)), out)
    raise AssertionError(f"{op} has no ONNX export: give it `onnx`, `onnx_export` or `expand`")


def _onnx_value(value):
    return list(value) if isinstance(value, tuple) else value


def _export_expanded(g: GraphBuilder, term: Term, names: dict[int, str], out: str | None) -> str:
    """Export `term` and the terms under it down to the already-named ones in `names`.

    Recursive, but only as deep as one kernel's expansion (a handful of terms).
    """
    if id(term) not in names:
        if term.op == Op.CONST:
            names[id(term)] = g.constant(term.attr("value"), term.dtype, "const")
        else:
            args = [_export_expanded(g, a, names, None) for a in term.args]
            names[id(term)] = export_node(g, term, args, out)
    return names[id(term)]
