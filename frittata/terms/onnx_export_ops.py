"""Per-operator ONNX export: a table from term `Op` to a small function emitting its nodes.

Each exporter takes the graph builder, the term, its arguments' value names and the wanted
output name (or None), and returns the name of the value holding the term's result.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from frittata.terms.onnx_export import GraphBuilder, onnx_dtype
from frittata.terms.onnx_export_kernels import expand_kernel
from frittata.terms.ops import KERNELS, Op
from frittata.terms.term import Term

Exporter = Callable[[GraphBuilder, Term, list[str], "str | None"], str]

SIMPLE = {
    Op.ADD: "Add", Op.SUB: "Sub", Op.MUL: "Mul", Op.POW: "Pow", Op.MAXIMUM: "Max",
    Op.MINIMUM: "Min", Op.NEG: "Neg", Op.ABS: "Abs", Op.ROUND: "Round", Op.EXP: "Exp", Op.LOG: "Log",
    Op.SQRT: "Sqrt", Op.ERF: "Erf", Op.TANH: "Tanh", Op.SIGMOID: "Sigmoid", Op.RELU: "Relu",
    Op.WHERE: "Where", Op.GLOBAL_AVG_POOL: "GlobalAveragePool",
}
INT64_MIN = -(2**63)


def export_node(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    """Emit the nodes computing `node` from `args`; return the result's value name."""
    if node.op in SIMPLE:
        return g.node(SIMPLE[node.op], args, out)
    if node.op in KERNELS:
        return _export_expanded(g, expand_kernel(node), dict(zip(map(id, node.args), args)), out)
    return EXPORTERS[node.op](g, node, args, out)


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


def _div(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    """ONNX integer Div truncates toward zero like ours, but a zero divisor must give 0."""
    if node.dtype == "float32":
        return g.node("Div", args, out)
    zero = g.constant(0, node.dtype)
    is_zero = g.node("Equal", [args[1], zero])
    safe = g.node("Where", [is_zero, g.constant(1, node.dtype), args[1]])
    return g.node("Where", [is_zero, zero, g.node("Div", [args[0], safe])], out)


def _leaky_relu(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("LeakyRelu", args, out, alpha=node.attr("alpha"))


def _gelu(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("Gelu", args, out, approximate=node.attr("approximate"))


def _clip(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    bounds = [("" if v is None else g.constant(v, node.dtype)) for v in (node.attr("lo"), node.attr("hi"))]
    return g.node("Clip", args + bounds, out)


def _cast(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("Cast", args, out, to=onnx_dtype(node.attr("dtype")))


def _right_shift(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    """floor((x + 2^(s-1)) / 2^s) in int64: subtract the floor remainder (Mod), then Div exactly."""
    shift = node.attr("shift")
    wide = g.node("Cast", args, to=onnx_dtype("int64"))
    if shift == 0:
        return g.node("Cast", [wide], out, to=onnx_dtype(node.dtype))
    step = g.constant(1 << shift, "int64")
    biased = g.node("Add", [wide, g.constant(1 << (shift - 1), "int64")])
    floored = g.node("Sub", [biased, g.node("Mod", [biased, step], fmod=0)])
    return g.node("Cast", [g.node("Div", [floored, step])], out, to=onnx_dtype(node.dtype))


def _int32(g: GraphBuilder, arg: str, term: Term) -> str:
    return arg if term.dtype == "int32" else g.node("Cast", [arg], to=onnx_dtype("int32"))


def _matmul(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    """Float MatMul; integers as int32 MatMul (exact, wrapping like our int32 accumulator)."""
    if node.dtype == "float32":
        return g.node("MatMul", args, out)
    return g.node("MatMul", [_int32(g, a, t) for a, t in zip(args, node.args)], out)


def _dense(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    if node.dtype == "float32" and node.args[0].type.rank == 2:
        return g.node("Gemm", args, out, transB=1)
    return _matmul(g, node, [args[0], g.node("Transpose", [args[1]], perm=[1, 0])], out)


def _conv2d(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    """Float Conv; 8-bit integers as ConvInteger on uint8 (x + 128 with zero point 128).

    Wider integer operands go through float32 Conv, exact while partial sums stay below 2^24.
    """
    attrs = dict(strides=list(node.attr("strides")), pads=list(node.attr("pads")),
                 dilations=list(node.attr("dilations")), group=node.attr("groups"))
    if node.dtype == "float32":
        return g.node("Conv", args, out, **attrs)
    if all(t.dtype in ("int8", "uint8") for t in node.args):
        shifted = [_as_uint8(g, a, t) for a, t in zip(args, node.args)]
        return g.node("ConvInteger", [shifted[0][0], shifted[1][0], shifted[0][1], shifted[1][1]], out, **attrs)
    floats = [g.node("Cast", [a], to=onnx_dtype("float32")) for a in args]
    return g.node("Cast", [g.node("Conv", floats, **attrs)], out, to=onnx_dtype("int32"))


def _as_uint8(g: GraphBuilder, arg: str, term: Term) -> tuple[str, str]:
    """(uint8 value, zero point) representing an int8 or uint8 tensor exactly."""
    if term.dtype == "uint8":
        return arg, g.constant(0, "uint8")
    wide = g.node("Add", [g.node("Cast", [arg], to=onnx_dtype("int32")), g.constant(128, "int32")])
    return g.node("Cast", [wide], to=onnx_dtype("uint8")), g.constant(128, "uint8")


def _pool_attrs(node: Term) -> dict:
    return dict(kernel_shape=list(node.attr("kernel")), strides=list(node.attr("strides")),
                pads=list(node.attr("pads")))


def _max_pool(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("MaxPool", args, out, **_pool_attrs(node))


def _avg_pool(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("AveragePool", args, out, count_include_pad=int(node.attr("count_include_pad")),
                  **_pool_attrs(node))


def _batch_norm(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("BatchNormalization", args, out, epsilon=node.attr("eps"))


def _layer_norm(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("LayerNormalization", args, out, axis=node.attr("axis"), epsilon=node.attr("eps"))


def _softmax(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("Softmax", args, out, axis=node.attr("axis"))


def _reduce(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    op_type = {Op.REDUCE_SUM: "ReduceSum", Op.REDUCE_MEAN: "ReduceMean", Op.REDUCE_MAX: "ReduceMax"}[node.op]
    axes = g.constant(node.attr("axes"), "int64")
    return g.node(op_type, args + [axes], out, keepdims=int(node.attr("keepdims")),
                  noop_with_empty_axes=int(not node.attr("axes")))


def _reshape(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    shape = node.attr("shape")
    return g.node("Reshape", args + [g.constant(shape, "int64", "shape")], out, allowzero=int(0 in shape))


def _transpose(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("Transpose", args, out, perm=list(node.attr("perm")))


def _concat(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    return g.node("Concat", args, out, axis=node.attr("axis"))


def _slice(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    """A stop of None (before index 0, negative step) is INT64_MIN, which ONNX clamps to -1."""
    triples = node.attr("slices")
    parts = [[s[0] for s in triples], [INT64_MIN if s[1] is None else s[1] for s in triples],
             list(range(len(triples))), [s[2] for s in triples]]
    return g.node("Slice", args + [g.constant(p, "int64") for p in parts], out)


def _pad(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    pairs = node.attr("pads")
    pads = g.constant([b for b, _ in pairs] + [a for _, a in pairs], "int64", "pads")
    return g.node("Pad", args + [pads, g.constant(node.attr("value"), node.dtype)], out, mode="constant")


def _gather(g: GraphBuilder, node: Term, args: list[str], out: str | None) -> str:
    indices = np.array(node.attr("indices"), dtype=np.int64).reshape(node.attr("indices_shape"))
    return g.node("Gather", args + [g.constant(indices, "int64", "indices")], out, axis=node.attr("axis"))


EXPORTERS: dict[Op, Exporter] = {
    Op.DIV: _div, Op.LEAKY_RELU: _leaky_relu, Op.GELU: _gelu, Op.CLIP: _clip, Op.CAST: _cast,
    Op.RIGHT_SHIFT: _right_shift, Op.MATMUL: _matmul, Op.DENSE: _dense, Op.CONV2D: _conv2d,
    Op.MAX_POOL2D: _max_pool, Op.AVG_POOL2D: _avg_pool, Op.BATCH_NORM: _batch_norm,
    Op.LAYER_NORM: _layer_norm, Op.SOFTMAX: _softmax, Op.REDUCE_SUM: _reduce,
    Op.REDUCE_MEAN: _reduce, Op.REDUCE_MAX: _reduce, Op.RESHAPE: _reshape,
    Op.TRANSPOSE: _transpose, Op.CONCAT: _concat, Op.SLICE: _slice, Op.PAD: _pad,
    Op.GATHER: _gather,
}
