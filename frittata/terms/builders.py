"""The Python builder API: one function per operator, named like the operator.

Each builder normalizes its attributes (ints to tuples, negative axes to positive) and builds an
interned `Term`, whose type is inferred on the spot. `repr` of any term is a call of these
builders, so `eval(repr(t), vars(frittata.terms))` rebuilds it. Python numbers mixed with
terms become `const` leaves of the term's dtype.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import check_dtype, is_int, make_type
from frittata.terms.fused import fused_elementwise
from frittata.terms.kernels import fused_conv2d, fused_dense, pack_nchwc, unpack_nchwc
from frittata.terms.tiled import tiled_conv2d, tiled_dense
from frittata.terms.vta_ops import vta_conv2d, vta_dense, vta_pack, vta_unpack
from frittata.terms.ops import Op
from frittata.terms.term import ParamRef, Term

Operand = Term | int | float

__all__ = [
    "fused_elementwise",
    "fused_conv2d",
    "fused_dense",
    "pack_nchwc",
    "unpack_nchwc",
    "tiled_conv2d",
    "tiled_dense",
    "vta_pack",
    "vta_unpack",
    "vta_dense",
    "vta_conv2d",
    "var",
    "param",
    "const",
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "maximum",
    "minimum",
    "neg",
    "abs",
    "exp",
    "log",
    "sqrt",
    "erf",
    "tanh",
    "sigmoid",
    "relu",
    "leaky_relu",
    "gelu",
    "clip",
    "cast",
    "right_shift",
    "round",
    "where",
    "matmul",
    "dense",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool",
    "batch_norm",
    "layer_norm",
    "softmax",
    "reduce_sum",
    "reduce_mean",
    "reduce_max",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "transpose",
    "concat",
    "slice",
    "normalize_slice",
    "pad",
    "gather",
]


def var(name: str, shape: Sequence[int], dtype: str = "float32") -> Term:
    """A named program input of a fixed shape and dtype."""
    ty = make_type(shape, dtype, f"input {name!r}")
    return Term.make(Op.INPUT, (), (("name", str(name)), ("shape", ty.shape), ("dtype", ty.dtype)))


def param(name: str, data: np.ndarray) -> Term:
    """A named constant tensor (weights); its data is kept out of the term's hash."""
    ref = ParamRef(str(name), np.asarray(data))
    check_dtype(ref.data.dtype, f"param {name!r}")
    return Term.make(Op.PARAM, (), (("ref", ref),))


def const(value: float | int | bool, dtype: str = "float32") -> Term:
    """A scalar constant (shape ()); it broadcasts against any operand."""
    dtype = check_dtype(dtype, "const")
    scalar = np.array(value).astype(dtype).item()
    return Term.make(Op.CONST, (), (("value", scalar), ("dtype", dtype)))


def _operands(*xs: Operand) -> tuple[Term, ...]:
    like = next((x for x in xs if isinstance(x, Term)), None)
    if like is None:
        raise FrittataTypeError(f"expected at least one term operand, got {xs!r}")
    return tuple(x if isinstance(x, Term) else const(x, like.dtype) for x in xs)


def _binary(op: Op, a: Operand, b: Operand) -> Term:
    return Term.make(op, _operands(a, b))


def add(a: Operand, b: Operand) -> Term:
    return _binary(Op.ADD, a, b)


def sub(a: Operand, b: Operand) -> Term:
    return _binary(Op.SUB, a, b)


def mul(a: Operand, b: Operand) -> Term:
    return _binary(Op.MUL, a, b)


def div(a: Operand, b: Operand) -> Term:
    """Division; on integers it truncates toward zero (C and ONNX semantics)."""
    return _binary(Op.DIV, a, b)


def pow(a: Operand, b: Operand) -> Term:  # noqa: A001 - named like the operator
    return _binary(Op.POW, a, b)


def maximum(a: Operand, b: Operand) -> Term:
    return _binary(Op.MAXIMUM, a, b)


def minimum(a: Operand, b: Operand) -> Term:
    return _binary(Op.MINIMUM, a, b)


def neg(x: Term) -> Term:
    return Term.make(Op.NEG, (x,))


def abs(x: Term) -> Term:  # noqa: A001
    return Term.make(Op.ABS, (x,))


def exp(x: Term) -> Term:
    return Term.make(Op.EXP, (x,))


def log(x: Term) -> Term:
    return Term.make(Op.LOG, (x,))


def sqrt(x: Term) -> Term:
    return Term.make(Op.SQRT, (x,))


def erf(x: Term) -> Term:
    return Term.make(Op.ERF, (x,))


def tanh(x: Term) -> Term:
    return Term.make(Op.TANH, (x,))


def sigmoid(x: Term) -> Term:
    return Term.make(Op.SIGMOID, (x,))


def relu(x: Term) -> Term:
    return Term.make(Op.RELU, (x,))


def leaky_relu(x: Term, alpha: float = 0.01) -> Term:
    """x if x >= 0 else alpha * x."""
    return Term.make(Op.LEAKY_RELU, (x,), (("alpha", float(alpha)),))


def gelu(x: Term, approximate: str = "none") -> Term:
    """0.5 x (1 + erf(x / sqrt 2)); with approximate="tanh" the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise FrittataTypeError(f"gelu: expected approximate 'none' or 'tanh', got {approximate!r}")
    return Term.make(Op.GELU, (x,), (("approximate", approximate),))


def clip(x: Term, lo: float | int | None = None, hi: float | int | None = None) -> Term:
    """min(max(x, lo), hi); a bound of None is absent. Bounds take the dtype of x."""
    conv = int if is_int(x.dtype) else float
    bounds = tuple(None if v is None else conv(v) for v in (lo, hi))
    return Term.make(Op.CLIP, (x,), (("lo", bounds[0]), ("hi", bounds[1])))


def cast(x: Term, dtype: str) -> Term:
    """numpy `astype`: float -> int truncates toward zero, int -> narrower int wraps around."""
    return Term.make(Op.CAST, (x,), (("dtype", check_dtype(dtype, "cast")),))


def right_shift(x: Term, shift: int) -> Term:
    """Arithmetic shift right with rounding half up: (x + 2^(shift-1)) >> shift (x >> 0 = x)."""
    return Term.make(Op.RIGHT_SHIFT, (x,), (("shift", int(shift)),))


def round(x: Term) -> Term:  # noqa: A001
    """Round to the nearest integer, ties to even (numpy rint, ONNX Round); stays float."""
    return Term.make(Op.ROUND, (x,))


def where(cond: Term, a: Operand, b: Operand) -> Term:
    """Elementwise `a if cond else b` with broadcasting; cond is bool."""
    return Term.make(Op.WHERE, (cond,) + _operands(a, b))


def matmul(a: Term, b: Term) -> Term:
    """numpy matmul on rank >= 2 with broadcast batch dims; integers accumulate in int32."""
    return Term.make(Op.MATMUL, (a, b))


def dense(x: Term, w: Term) -> Term:
    """x[..., K] times w[N, K] transposed -> [..., N] (a fully connected layer without bias)."""
    return Term.make(Op.DENSE, (x, w))


def _pair(v: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2:
        raise FrittataTypeError(f"expected {name} as an int or 2 ints, got {v!r}")
    return (int(pair[0]), int(pair[1]))


def _pads(v: int | Sequence[int]) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right), from an int, (h, w) or 4 ints."""
    pads = (v,) * 4 if isinstance(v, int) else tuple(v)
    if len(pads) == 2:
        pads = pads * 2
    if len(pads) != 4:
        raise FrittataTypeError(f"expected pads as an int, 2 or 4 ints, got {v!r}")
    return tuple(int(p) for p in pads)  # type: ignore[return-value]


def conv2d(x: Term, w: Term, strides=1, pads=0, dilations=1, groups: int = 1) -> Term:
    """2-D convolution, NCHW input, OIHW weights (I = C / groups); pads (top, left, bottom, right).

    float32 x float32 -> float32, integer x integer -> int32. groups = C gives depthwise.
    """
    attrs = (("strides", _pair(strides, "strides")), ("pads", _pads(pads)),
             ("dilations", _pair(dilations, "dilations")), ("groups", int(groups)))
    return Term.make(Op.CONV2D, (x, w), attrs)


def max_pool2d(x: Term, kernel, strides=None, pads=0) -> Term:
    """Max over kernel windows of an NCHW tensor; padding never wins (it is -inf)."""
    k = _pair(kernel, "kernel")
    s = k if strides is None else _pair(strides, "strides")
    return Term.make(Op.MAX_POOL2D, (x,), (("kernel", k), ("strides", s), ("pads", _pads(pads))))


def avg_pool2d(x: Term, kernel, strides=None, pads=0, count_include_pad: bool = False) -> Term:
    """Mean over kernel windows; padded cells count in the divisor only if count_include_pad."""
    k = _pair(kernel, "kernel")
    s = k if strides is None else _pair(strides, "strides")
    attrs = (("kernel", k), ("strides", s), ("pads", _pads(pads)),
             ("count_include_pad", bool(count_include_pad)))
    return Term.make(Op.AVG_POOL2D, (x,), attrs)


def global_avg_pool(x: Term) -> Term:
    """Mean over all spatial axes, keeping them as 1: [N, C, H, W] -> [N, C, 1, 1]."""
    return Term.make(Op.GLOBAL_AVG_POOL, (x,))


def batch_norm(x: Term, scale: Term, bias: Term, mean: Term, var: Term, eps: float = 1e-5) -> Term:
    """Inference batch norm over axis 1: (x - mean) / sqrt(var + eps) * scale + bias."""
    return Term.make(Op.BATCH_NORM, (x, scale, bias, mean, var), (("eps", float(eps)),))


def _axis(axis: int, rank: int, op: str) -> int:
    if not -rank <= axis < builtins.max(rank, 1):
        raise FrittataTypeError(f"{op}: expected axis in [{-rank}, {rank}), got {axis}")
    return axis % rank if rank else 0


def layer_norm(x: Term, scale: Term, bias: Term, axis: int = -1, eps: float = 1e-5) -> Term:
    """Normalize over axes [axis, rank): (x - mean) / sqrt(var + eps) * scale + bias."""
    attrs = (("axis", _axis(axis, x.type.rank, "layer_norm")), ("eps", float(eps)))
    return Term.make(Op.LAYER_NORM, (x, scale, bias), attrs)


def softmax(x: Term, axis: int = -1) -> Term:
    return Term.make(Op.SOFTMAX, (x,), (("axis", _axis(axis, x.type.rank, "softmax")),))


def _reduce(op: Op, x: Term, axes, keepdims: bool) -> Term:
    rank = x.type.rank
    axes = range(rank) if axes is None else ([axes] if isinstance(axes, int) else axes)
    norm = tuple(sorted({_axis(int(a), rank, op.value) for a in axes}))
    return Term.make(op, (x,), (("axes", norm), ("keepdims", bool(keepdims))))


def reduce_sum(x: Term, axes=None, keepdims: bool = False) -> Term:
    return _reduce(Op.REDUCE_SUM, x, axes, keepdims)


def reduce_mean(x: Term, axes=None, keepdims: bool = False) -> Term:
    return _reduce(Op.REDUCE_MEAN, x, axes, keepdims)


def reduce_max(x: Term, axes=None, keepdims: bool = False) -> Term:
    return _reduce(Op.REDUCE_MAX, x, axes, keepdims)


def reshape(x: Term, shape: Sequence[int]) -> Term:
    """Row-major reshape; one dimension may be -1 (inferred)."""
    dims = [int(d) for d in shape]
    if dims.count(-1) == 1:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or x.type.size % known:
            raise FrittataTypeError(f"reshape: cannot infer -1 in {tuple(dims)} for {x.type}")
        dims[dims.index(-1)] = x.type.size // known
    return Term.make(Op.RESHAPE, (x,), (("shape", tuple(dims)),))


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
    perm = tuple(reversed(range(x.type.rank))) if perm is None else tuple(int(p) for p in perm)
    return Term.make(Op.TRANSPOSE, (x,), (("perm", perm),))


def concat(*xs: Term, axis: int = 0) -> Term:
    rank = xs[0].type.rank if xs else 0
    return Term.make(Op.CONCAT, tuple(xs), (("axis", _axis(axis, rank, "concat")),))


def slice(x: Term, slices: Sequence) -> Term:  # noqa: A001
    """Basic slicing: one (start, stop, step) per axis, each with Python slice semantics."""
    if len(slices) != x.type.rank:
        raise FrittataTypeError(f"slice: expected {x.type.rank} (start, stop, step) triples, got {slices!r}")
    norm = tuple(normalize_slice(s, d) for s, d in zip(slices, x.shape))
    return Term.make(Op.SLICE, (x,), (("slices", norm),))


def normalize_slice(triple: Sequence, dim: int) -> tuple[int, int | None, int]:
    """`slice.indices`, except that a stop before index 0 (negative step) is None, not -1."""
    start, stop, step = builtins.slice(*triple).indices(dim)
    return (start, None if stop < 0 else stop, step)


def pad(x: Term, pads: Sequence[Sequence[int]], value: float | int = 0) -> Term:
    """Constant padding: one (before, after) pair per axis."""
    pairs = tuple((int(b), int(a)) for b, a in pads)
    fill = int(value) if is_int(x.dtype) else float(value)
    return Term.make(Op.PAD, (x,), (("pads", pairs), ("value", fill)))


def gather(x: Term, indices, axis: int = 0, indices_shape: Sequence[int] | None = None) -> Term:
    """numpy `take` with constant indices (negative ones count from the end)."""
    axis = _axis(axis, x.type.rank, "gather")
    array = np.asarray(indices, dtype=np.int64)
    shape = array.shape if indices_shape is None else tuple(indices_shape)
    flat = tuple(int(i) + x.shape[axis] if i < 0 else int(i) for i in array.reshape(-1))
    attrs = (("axis", axis), ("indices", flat), ("indices_shape", tuple(int(d) for d in shape)))
    return Term.make(Op.GATHER, (x,), attrs)
