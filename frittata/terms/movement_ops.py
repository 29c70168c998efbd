"""Data movement: reshape (and flatten / squeeze / unsqueeze), transpose, concat, slice, pad, gather.

Each op's ONNX converters are in its table entry, including the ONNX operators that become a
reshape (Flatten, Squeeze, Unsqueeze) and Pad with negative pads (a pad, then a slice).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np

from frittata.errors import FrittataTypeError, FrontendError
from frittata.terms.attr_forms import as_axis, axis, ints
from frittata.terms.dtypes import TensorType, is_int
from frittata.terms.infer import axis_in, fail
from frittata.terms.ops import Attr, Cost, Op, define, variadic
from frittata.terms.term import Term, build

__all__ = ["reshape", "flatten", "squeeze", "unsqueeze", "transpose", "concat", "slice", "normalize_slice",
           "pad", "gather"]
INT64_MIN = -(2**63)


def _shape(value: Any, first: TensorType | None) -> tuple[int, ...]:
    """Dimensions as ints; one -1 is inferred from the operand's size."""
    dims = [int(d) for d in value]
    if first is not None and dims.count(-1) == 1:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or first.size % known:
            raise FrittataTypeError(f"reshape: cannot infer -1 in {tuple(dims)} for {first}")
        dims[dims.index(-1)] = first.size // known
    return tuple(dims)


def _infer_reshape(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    shape = tuple(attrs["shape"])
    if any(d < 0 for d in shape) or math.prod(shape) != x.size:
        raise fail(op, f"a shape of {x.size} elements", f"{shape} for {x}")
    return TensorType(shape, x.dtype)


def _perm(value: Any, first: TensorType | None) -> tuple[int, ...]:
    if value is None and first is not None:
        return tuple(reversed(range(first.rank)))
    return tuple(int(p) for p in value)


def _infer_transpose(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    perm = tuple(attrs["perm"])
    if sorted(perm) != list(range(x.rank)):
        raise fail(op, f"a permutation of range({x.rank})", perm)
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


def _infer_concat(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    first, where = types[0], attrs["axis"]
    axis_in(op, where, first.rank)
    rest_f = first.shape[:where] + first.shape[where + 1:]
    for t in types[1:]:
        if t.dtype != first.dtype or t.rank != first.rank or t.shape[:where] + t.shape[where + 1:] != rest_f:
            raise fail(op, f"operands like {first} except along axis {where}", t)
    size = sum(t.shape[where] for t in types)
    return TensorType(first.shape[:where] + (size,) + first.shape[where + 1:], first.dtype)


def normalize_slice(triple: Sequence, dim: int, axis_index: int = 0) -> tuple[int, int | None, int]:
    """`slice.indices` of a (start, stop, step) triple over an axis of `dim` (entries ints or
    None, the step not 0), except that a stop before index 0 (negative step) is None, not -1.
    Anything else raises FrittataTypeError naming the axis (`axis_index`)."""
    entries = tuple(triple) if isinstance(triple, Sequence) and not isinstance(triple, str) else None
    if (entries is None or len(entries) != 3
            or any(e is not None and (isinstance(e, bool) or not isinstance(e, Integral)) for e in entries)):
        raise FrittataTypeError(f"slice: expected a (start, stop, step) triple of ints or None on axis {axis_index}, "
                                f"got {triple!r}")
    if entries[2] == 0:
        raise FrittataTypeError(f"slice: expected a non-zero step on axis {axis_index}, got {triple!r}")
    start, stop, step = builtins.slice(*entries).indices(dim)
    return (start, None if stop < 0 else stop, step)


def _slices(value: Any, first: TensorType | None) -> tuple:
    if first is None:
        return tuple(tuple(s) for s in value)
    if len(value) != first.rank:
        raise FrittataTypeError(f"slice: expected {first.rank} (start, stop, step) triples, got {value!r}")
    return tuple(normalize_slice(s, d, i) for i, (s, d) in enumerate(zip(value, first.shape)))


def _infer_slice(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    """The slices hold one (start, stop, step) per axis, as `normalize_slice` gives them."""
    (x,) = types
    slices = attrs["slices"]
    if len(slices) != x.rank:
        raise fail(op, f"{x.rank} (start, stop, step) triples", slices)
    shape = []
    for dim, (start, stop, step) in zip(x.shape, slices):
        bounds = builtins.slice(start, stop, step).indices(dim) if step else None
        if bounds is None or bounds[::2] != (start, step) or (stop is not None and bounds[1] != stop):
            raise fail(op, f"a normalized slice of an axis of {dim}", (start, stop, step))
        shape.append(len(range(*bounds)))
    return TensorType(tuple(shape), x.dtype)


def _pad_value(value: Any, first: TensorType | None) -> int | float:
    return value if first is None else (int(value) if is_int(first.dtype) else float(value))


def _infer_pad(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    pads = attrs["pads"]
    if len(pads) != x.rank or any(b < 0 or a < 0 for b, a in pads):
        raise fail(op, f"{x.rank} non-negative (before, after) pairs", pads)
    return TensorType(tuple(d + b + a for d, (b, a) in zip(x.shape, pads)), x.dtype)


def _infer_gather(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    where, indices, ishape = attrs["axis"], attrs["indices"], tuple(attrs["indices_shape"])
    axis_in(op, where, x.rank)
    if len(indices) != math.prod(ishape) or any(not 0 <= i < x.shape[where] for i in indices):
        raise fail(op, f"{math.prod(ishape)} indices in [0, {x.shape[where]})", indices)
    return TensorType(x.shape[:where] + ishape + x.shape[where + 1:], x.dtype)


def _gather(node: Term, args: list[np.ndarray]) -> np.ndarray:
    indices = np.array(node.attr("indices"), dtype=np.int64).reshape(node.attr("indices_shape"))
    return np.take(args[0], indices, axis=node.attr("axis"))


def _export_reshape(g, node: Term, args: list[str], out: str | None) -> str:
    shape = node.attr("shape")
    return g.node("Reshape", args + [g.constant(shape, "int64", "shape")], out, allowzero=int(0 in shape))


def _export_slice(g, node: Term, args: list[str], out: str | None) -> str:
    """A stop of None (before index 0, negative step) is INT64_MIN, which ONNX clamps to -1."""
    triples = node.attr("slices")
    parts = [[s[0] for s in triples], [INT64_MIN if s[1] is None else s[1] for s in triples],
             list(range(len(triples))), [s[2] for s in triples]]
    return g.node("Slice", args + [g.constant(p, "int64") for p in parts], out)


def _export_pad(g, node: Term, args: list[str], out: str | None) -> str:
    pairs = node.attr("pads")
    pads = g.constant([b for b, _ in pairs] + [a for _, a in pairs], "int64", "pads")
    return g.node("Pad", args + [pads, g.constant(node.attr("value"), node.dtype)], out, mode="constant")


def _export_gather(g, node: Term, args: list[str], out: str | None) -> str:
    indices = np.array(node.attr("indices"), dtype=np.int64).reshape(node.attr("indices_shape"))
    return g.node("Gather", args + [g.constant(indices, "int64", "indices")], out, axis=node.attr("axis"))


def _export_simple(onnx_type: str, **attrs: str):
    def export(g, node: Term, args: list[str], out: str | None) -> str:
        values = {theirs: node.attr(ours) for theirs, ours in attrs.items()}
        return g.node(onnx_type, args, out, **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})

    return export


def _import_reshape(n) -> Term:
    x, shape = n.term(0), [int(d) for d in n.const(1, "shape")]
    if not n.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return reshape(x, shape)


def _import_unsqueeze(n) -> Term:
    axes = n.axes(1)
    if axes is None:
        raise FrontendError("Unsqueeze: expected axes (an attribute or input 1), got none")
    return unsqueeze(n.term(0), axes)


def onnx_slice(dim: int, start: int, end: int, step: int) -> tuple[int, int | None, int]:
    """ONNX Slice bounds of one axis as a Python (start, stop, step); stop None = before index 0."""
    if step == 0:
        raise FrontendError("unsupported: Slice with step 0")
    start, end = (v + dim if v < 0 else v for v in (start, end))
    if step > 0:
        return (min(max(start, 0), dim), min(max(end, 0), dim), step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return (start, None if end < 0 else end, step)


def _slice_bounds(n) -> tuple[np.ndarray, ...]:
    """(starts, ends, axes, steps): attributes before opset 10, constant inputs 1..4 since."""
    if n.opset < 10:
        starts, ends = np.array(n.attr("starts"), np.int64), np.array(n.attr("ends"), np.int64)
        axes = np.array(n.attr("axes", range(len(starts))), np.int64)
        return starts, ends, axes, np.ones(len(starts), np.int64)
    starts, ends = n.const(1, "starts"), n.const(2, "ends")
    axes = n.const(3, "axes") if n.has(3) else np.arange(len(starts))
    steps = n.const(4, "steps") if n.has(4) else np.ones(len(starts), np.int64)
    return starts, ends, axes, steps


def _import_slice(n) -> Term:
    x = n.term(0)
    starts, ends, axes, steps = _slice_bounds(n)
    triples: list[tuple[int, int | None, int]] = [(0, d, 1) for d in x.shape]
    for start, end, where, step in zip(starts, ends, axes, steps):
        where = int(where) % x.type.rank
        triples[where] = onnx_slice(x.shape[where], int(start), int(end), int(step))
    return slice(x, triples)


def _pad_pairs(n, rank: int) -> list[tuple[int, int]]:
    """(before, after) per axis from `pads` (an attribute before opset 11, input 1 since) and axes."""
    raw = [int(p) for p in (n.const(1, "pads") if n.opset >= 11 else n.attr("pads"))]
    axes = [a % rank for a in (n.axes(3) or range(rank))]
    if len(raw) != 2 * len(axes):
        raise FrontendError(f"Pad: expected {2 * len(axes)} pads for axes {axes}, got {raw}")
    pairs = [(0, 0)] * rank
    for i, where in enumerate(axes):
        pairs[where] = (raw[i], raw[i + len(axes)])
    return pairs


def _border_indices(mode: str, dim: int, before: int, after: int) -> list[int]:
    """Source index of each padded position for the edge, reflect and wrap modes."""
    if mode == "reflect" and dim < 2 and before + after > 0:
        raise FrontendError(f"unsupported: Pad mode 'reflect' of an axis of {dim}")
    out = []
    for i in range(-before, dim + after):
        if mode == "edge":
            out.append(min(max(i, 0), dim - 1))
        elif mode == "wrap":
            out.append(i % dim)
        else:
            period = 2 * (dim - 1)
            j = i % period
            out.append(j if j < dim else period - j)
    return out


def _import_pad(n) -> Term:
    """Pad: constant mode is `pad`; edge, reflect and wrap gather border rows; negative pads crop."""
    mode = n.attr("mode", "constant")
    if mode not in ("constant", "edge", "reflect", "wrap"):
        raise FrontendError(f"unsupported: Pad mode {mode!r}; expected constant, edge, reflect or wrap")
    x = n.term(0)
    pairs = _pad_pairs(n, x.type.rank)
    if mode != "constant":
        for where, (b, a) in enumerate(pairs):
            if b or a:
                x = gather(x, _border_indices(mode, x.shape[where], b, a), where)
        return x
    value = n.optional_const(2, "constant_value") if n.opset >= 11 else np.array(n.attr("value", 0.0))
    padded = pad(x, [(max(b, 0), max(a, 0)) for b, a in pairs], 0 if value is None else value.item())
    if all(b >= 0 and a >= 0 for b, a in pairs):
        return padded
    return slice(padded, [(-min(b, 0), d + min(a, 0), 1) for (b, a), d in zip(pairs, padded.shape)])


def _split_sizes(n, dim: int) -> list[int]:
    """Part sizes: `split` (attribute before opset 13, input 1 since), else equal parts of
    ceil(dim / parts) with a smaller last one, parts = `num_outputs` (opset 18) or the outputs."""
    given = n.attr("split") if n.opset < 13 else n.optional_const(1, "split")
    if given is not None and len(given):
        return [int(v) for v in np.asarray(given).reshape(-1)]
    parts = n.attr("num_outputs", len(n.node.output))
    size = -(-dim // parts)
    return [min(size, dim - i * size) for i in range(parts)]


def _import_split(n) -> list[Term]:
    x = n.term(0)
    where = axis(n.attr("axis", 0), x.type.rank, "Split")
    sizes = _split_sizes(n, x.shape[where])
    if sum(sizes) != x.shape[where] or any(v < 0 for v in sizes):
        raise FrontendError(f"Split: expected part sizes summing to {x.shape[where]}, got {sizes}")
    parts, start = [], 0
    for size in sizes:
        triples = [(0, d, 1) for d in x.shape]
        triples[where] = (start, start + size, 1)
        parts.append(slice(x, triples))
        start += size
    return parts


def _perms(x: TensorType) -> list[tuple[int, ...]]:
    """The reversal and the rotations of the axes."""
    axes = tuple(range(x.rank))
    return [tuple(reversed(axes))] + [axes[i:] + axes[:i] for i in range(max(x.rank, 1))]


def _concat_vjp(b, node: Term, g: Term) -> tuple[Term, ...]:
    """Each operand gets its own stretch of g along the axis."""
    where, start, parts = node.attr("axis"), 0, []
    for arg in node.args:
        bounds = [(0, d, 1) for d in g.shape]
        bounds[where] = (start, start + arg.shape[where], 1)
        parts.append(b.slice(g, bounds))
        start += arg.shape[where]
    return tuple(parts)


def _gather_vjp(b, node: Term, g: Term) -> tuple[Term]:
    """Scatter-add as a product with the constant [D, K] one-hot matrix of the K indices."""
    (x,), where, indices = node.args, node.attr("axis"), node.attr("indices")
    rows = math.prod(x.shape[:where])
    picked = b.reshape(g, (rows, len(indices), -1))
    onehot = np.zeros((x.shape[where], len(indices)), dtype=g.dtype)
    onehot[list(indices), range(len(indices))] = 1
    return (b.reshape(b.matmul(b.constant("gather.scatter", onehot), picked), x.shape),)


RESHAPE = define("reshape", 1, _infer_reshape, classes=("movement",), cost=Cost.VIEW,
                 attrs=(Attr("shape", tuple, normalize=_shape,
                             choices=lambda x: [x.shape, (x.size,), (1,) + x.shape, x.shape[::-1]]),),
                 evaluate=lambda node, args: args[0].reshape(node.attr("shape")), onnx_export=_export_reshape,
                 vjp=lambda b, n, g: (b.reshape(g, n.args[0].shape),),
                 onnx_import={"Reshape": _import_reshape, "Unsqueeze": _import_unsqueeze,
                              "Flatten": lambda n: flatten(n.term(0), n.attr("axis", 1)),
                              "Squeeze": lambda n: squeeze(n.term(0), n.axes(1))})
TRANSPOSE = define("transpose", 1, _infer_transpose, classes=("movement",), cost=Cost.STRIDED_COPY,
                   attrs=(Attr("perm", tuple, None, _perm, _perms),),
                   evaluate=lambda node, args: args[0].transpose(node.attr("perm")),
                   onnx_export=_export_simple("Transpose", perm="perm"),
                   vjp=lambda b, n, g: (b.transpose(g, tuple(np.argsort(n.attr("perm")))),),
                   onnx_import={"Transpose": lambda n: transpose(n.term(0), n.attr("perm"))})
CONCAT = define("concat", variadic(1), _infer_concat, classes=("movement",), cost=Cost.COPY,
                attrs=(Attr("axis", int, 0, as_axis("concat"), lambda x: list(range(max(x.rank, 1)))),),
                evaluate=lambda node, args: np.concatenate(args, axis=node.attr("axis")),
                onnx_export=_export_simple("Concat", axis="axis"), vjp=lambda b, n, g: _concat_vjp(b, n, g),
                onnx_import={"Concat": lambda n: concat(*n.terms(), axis=n.attr("axis"))})
SLICE = define("slice", 1, _infer_slice, classes=("movement",), cost=Cost.COPY,
               attrs=(Attr("slices", tuple, normalize=_slices,
                           choices=lambda x: [tuple((0, d, 1) for d in x.shape)]),),
               evaluate=lambda node, args: args[0][tuple(builtins.slice(*s) for s in node.attr("slices"))],
               onnx_export=_export_slice, onnx_import={"Slice": _import_slice, "Split": _import_split},
               vjp=lambda b, n, g: (b.unslice(g, n.args[0].shape, n.attr("slices")),))
PAD = define("pad", 1, _infer_pad, classes=("movement",), cost=Cost.COPY,
             attrs=(Attr("pads", tuple, normalize=lambda v, x: tuple((int(b), int(a)) for b, a in v),
                         choices=lambda x: [tuple((0, 0) for _ in x.shape)]),
                    Attr("value", (int, float), 0, _pad_value, lambda x: [0])),
             evaluate=lambda node, args: np.pad(args[0], node.attr("pads"), constant_values=node.attr("value")),
             onnx_export=_export_pad, onnx_import={"Pad": _import_pad},
             vjp=lambda b, n, g: (b.slice(
                 g, [(lo, lo + d, 1) for (lo, _), d in zip(n.attr("pads"), n.args[0].shape)]),))
GATHER = define("gather", 1, _infer_gather, classes=("movement",), cost=Cost.COPY,
                attrs=(Attr("axis", int, 0, as_axis("gather"), lambda x: [0]),
                       Attr("indices", tuple, normalize=ints,
                            choices=lambda x: [(0,)]),
                       Attr("indices_shape", tuple, normalize=ints,
                            choices=lambda x: [(1,)])),
                evaluate=_gather, onnx_export=_export_gather, vjp=lambda b, n, g: _gather_vjp(b, n, g))


def reshape(x: Term, shape: Sequence[int]) -> Term:
    """Row-major reshape; one dimension may be -1 (inferred)."""
    return build(RESHAPE, (x,), shape=shape)


def flatten(x: Term, axis: int = 1) -> Term:
    """Reshape to 2-D: [prod(shape[:axis]), prod(shape[axis:])]."""
    axis = axis + x.type.rank if axis < 0 else axis
    return reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


def squeeze(x: Term, axes: Sequence[int] | None = None) -> Term:
    rank = x.type.rank
    drop = {i for i, d in enumerate(x.shape) if d == 1} if axes is None else {a % rank for a in axes}
    if any(x.shape[a] != 1 for a in drop):
        raise FrittataTypeError(f"squeeze: expected size-1 axes {sorted(drop)}, got {x.type}")
    return reshape(x, [d for i, d in enumerate(x.shape) if i not in drop])


def unsqueeze(x: Term, axes: Sequence[int]) -> Term:
    rank = x.type.rank + len(axes)
    new = {a % rank for a in axes}
    dims = iter(x.shape)
    return reshape(x, [1 if i in new else next(dims) for i in range(rank)])


def transpose(x: Term, perm: Sequence[int] | None = None) -> Term:
    return build(TRANSPOSE, (x,), perm=perm)


def concat(*xs: Term, axis: int = 0) -> Term:
    return build(CONCAT, xs, axis=axis)


def slice(x: Term, slices: Sequence) -> Term:  # noqa: A001
    """Basic slicing: one (start, stop, step) per axis, each with Python slice semantics."""
    return build(SLICE, (x,), slices=slices)


def pad(x: Term, pads: Sequence[Sequence[int]], value: float | int = 0) -> Term:
    """Constant padding: one (before, after) pair per axis."""
    return build(PAD, (x,), pads=pads, value=value)


def gather(x: Term, indices, axis: int = 0, indices_shape: Sequence[int] | None = None) -> Term:
    """numpy `take` with constant indices (negative ones count from the end)."""
    where = _axis_of(x, axis)
    array = np.asarray(indices, dtype=np.int64)
    shape = array.shape if indices_shape is None else tuple(indices_shape)
    flat = tuple(int(i) + x.shape[where] if i < 0 else int(i) for i in array.reshape(-1))
    return build(GATHER, (x,), axis=where, indices=flat, indices_shape=shape)


def _axis_of(x: Term, value: int) -> int:
    return axis(value, x.type.rank, "gather")
