"""Type inference: the shape and dtype of a node from its arguments and attributes.

`infer_type` runs once per node when it is built; a node that makes no sense raises
`FrittataTypeError` naming the operator, what it expected and what it got.
"""

from __future__ import annotations

from typing import Any, assert_never

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType, check_dtype, is_float, is_int
from frittata.terms.ops import BINARY, REDUCTIONS, UNARY, Op

FLOAT_ONLY = frozenset(
    {Op.EXP, Op.LOG, Op.SQRT, Op.ERF, Op.TANH, Op.SIGMOID, Op.LEAKY_RELU, Op.GELU, Op.POW, Op.ROUND}
)


def fail(op: Op, expected: str, got: object) -> FrittataTypeError:
    return FrittataTypeError(f"{op.value}: expected {expected}, got {got}")


def infer_type(op: Op, args: tuple, attrs: dict[str, Any]) -> TensorType:
    types = [a.type for a in args]
    match op:
        case Op.INPUT:
            return TensorType(tuple(attrs["shape"]), check_dtype(attrs["dtype"], "input"))
        case Op.PARAM:
            data = attrs["ref"].data
            return TensorType(tuple(data.shape), check_dtype(data.dtype, f"param {attrs['ref'].name!r}"))
        case Op.CONST:
            return TensorType((), check_dtype(attrs["dtype"], "const"))
        case _ if op in BINARY:
            return _binary(op, types)
        case _ if op in UNARY:
            return _unary(op, types, attrs)
        case Op.WHERE:
            return _where(types)
        case Op.MATMUL | Op.DENSE:
            return _matmul(op, types)
        case Op.CONV2D:
            return _conv2d(types, attrs)
        case Op.MAX_POOL2D | Op.AVG_POOL2D:
            return _pool2d(op, types, attrs)
        case Op.GLOBAL_AVG_POOL:
            (x,) = _arity(op, types, 1)
            _need_rank(op, x, 3, at_least=True)
            _need_float(op, x)
            return TensorType(x.shape[:2] + (1,) * (x.rank - 2), x.dtype)
        case Op.BATCH_NORM | Op.LAYER_NORM | Op.SOFTMAX:
            return _normalization(op, types, attrs)
        case _ if op in REDUCTIONS:
            return _reduce(op, types, attrs)
        case Op.RESHAPE | Op.TRANSPOSE | Op.CONCAT | Op.SLICE | Op.PAD | Op.GATHER:
            from frittata.terms.infer_movement import infer_movement

            return infer_movement(op, types, attrs)
        case Op.FUSED_CONV2D | Op.FUSED_DENSE | Op.PACK_NCHWC | Op.UNPACK_NCHWC:
            from frittata.terms.kernels import infer_kernel

            return infer_kernel(op, types, attrs)
        case Op.TILED_CONV2D | Op.TILED_DENSE:
            from frittata.terms.tiled import infer_tiled

            return infer_tiled(op, types, attrs)
        case Op.FUSED_ELEMENTWISE:
            from frittata.terms.fused import infer_fused

            return infer_fused(types, attrs["expr"])
        case Op.VTA_PACK | Op.VTA_UNPACK | Op.VTA_DENSE | Op.VTA_CONV2D:
            from frittata.terms.vta_ops import infer_vta

            return infer_vta(op, types, attrs)
        case _:
            assert_never(op)  # type: ignore[arg-type]  # the `_ if op in ...` cases do not narrow


def _arity(op: Op, types: list[TensorType], n: int) -> list[TensorType]:
    if len(types) != n:
        raise fail(op, f"{n} operand(s)", len(types))
    return types


def _need_rank(op: Op, t: TensorType, rank: int, at_least: bool = False) -> None:
    if t.rank < rank if at_least else t.rank != rank:
        raise fail(op, f"rank {'>= ' if at_least else ''}{rank}", f"{t}")


def _need_float(op: Op, t: TensorType) -> None:
    if not is_float(t.dtype):
        raise fail(op, "a float tensor", t)


def _same_dtype(op: Op, types: list[TensorType]) -> str:
    dtypes = {t.dtype for t in types}
    if len(dtypes) != 1:
        raise fail(op, "operands of one dtype (cast explicitly)", ", ".join(map(str, types)))
    return dtypes.pop()


def broadcast(op: Op, types: list[TensorType]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*(t.shape for t in types)))
    except ValueError:
        raise fail(op, "shapes that broadcast", ", ".join(map(str, types))) from None


def _binary(op: Op, types: list[TensorType]) -> TensorType:
    _arity(op, types, 2)
    dtype = _same_dtype(op, types)
    if dtype == "bool" or (op in FLOAT_ONLY and not is_float(dtype)):
        raise fail(op, "float operands" if op in FLOAT_ONLY else "numeric operands", dtype)
    return TensorType(broadcast(op, types), dtype)


def _unary(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = _arity(op, types, 1)
    if op in FLOAT_ONLY:
        _need_float(op, x)
    if op == Op.CAST:
        return TensorType(x.shape, check_dtype(attrs["dtype"], "cast"))
    if x.dtype == "bool":
        raise fail(op, "a numeric tensor", x)
    if op == Op.RIGHT_SHIFT:
        if not is_int(x.dtype):
            raise fail(op, "an integer tensor", x)
        if not isinstance(attrs["shift"], int) or not 0 <= attrs["shift"] < 32:
            raise fail(op, "shift in [0, 32)", attrs["shift"])
    if op == Op.CLIP and attrs["lo"] is not None and attrs["hi"] is not None and attrs["lo"] > attrs["hi"]:
        raise fail(op, "lo <= hi", (attrs["lo"], attrs["hi"]))
    return x


def _where(types: list[TensorType]) -> TensorType:
    cond, a, b = _arity(Op.WHERE, types, 3)
    if cond.dtype != "bool":
        raise fail(Op.WHERE, "a bool condition", cond)
    return TensorType(broadcast(Op.WHERE, types), _same_dtype(Op.WHERE, [a, b]))


def contraction_dtype(op: Op, a: TensorType, b: TensorType) -> str:
    """float32 x float32 -> float32; any integer x integer -> int32 (accumulator)."""
    if is_float(a.dtype) and a.dtype == b.dtype:
        return a.dtype
    if is_int(a.dtype) and is_int(b.dtype):
        return "int32"
    raise fail(op, "two float32 or two integer operands", f"{a}, {b}")


def _matmul(op: Op, types: list[TensorType]) -> TensorType:
    a, b = _arity(op, types, 2)
    dtype = contraction_dtype(op, a, b)
    if op == Op.DENSE:
        _need_rank(op, a, 1, at_least=True)
        _need_rank(op, b, 2)
        if a.shape[-1] != b.shape[1]:
            raise fail(op, "x[..., K] and w[N, K] with equal K", f"x {a}, w {b}")
        return TensorType(a.shape[:-1] + (b.shape[0],), dtype)
    _need_rank(op, a, 2, at_least=True)
    _need_rank(op, b, 2, at_least=True)
    if a.shape[-1] != b.shape[-2]:
        raise fail(op, "a[..., M, K] @ b[..., K, N] with equal K", f"{a} @ {b}")
    batch = broadcast(op, [TensorType(a.shape[:-2], dtype), TensorType(b.shape[:-2], dtype)])
    return TensorType(batch + (a.shape[-2], b.shape[-1]), dtype)


def window_out(op: Op, size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Output length of a sliding window: floor((size + pad - dilation*(kernel-1) - 1)/stride) + 1."""
    if stride < 1 or dilation < 1 or kernel < 1 or pad < 0:
        raise fail(op, "kernel, stride, dilation >= 1 and padding >= 0", (kernel, stride, dilation, pad))
    span = size + pad - dilation * (kernel - 1) - 1
    if span < 0:
        raise fail(op, f"a window of {kernel} (dilation {dilation}) to fit input {size} + padding {pad}", span)
    return span // stride + 1


def _conv2d(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    op = Op.CONV2D
    x, w = _arity(op, types, 2)
    _need_rank(op, x, 4)
    _need_rank(op, w, 4)
    dtype = contraction_dtype(op, x, w)
    groups = attrs["groups"]
    (n, c, h, wd), (o, ci, kh, kw) = x.shape, w.shape
    if groups < 1 or c % groups or o % groups or ci * groups != c:
        raise fail(op, f"C={c} = groups({groups}) * weight in-channels({ci}) and O={o} divisible by groups",
                   f"x {x}, w {w}")
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = attrs["strides"], attrs["dilations"], attrs["pads"]
    oh = window_out(op, h, kh, sh, pt + pb, dh)
    ow = window_out(op, wd, kw, sw, pl + pr, dw)
    return TensorType((n, o, oh, ow), dtype)


def _pool2d(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = _arity(op, types, 1)
    _need_rank(op, x, 4)
    if op == Op.AVG_POOL2D:
        _need_float(op, x)
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = attrs["kernel"], attrs["strides"], attrs["pads"]
    if max(pt, pb) >= kh or max(pl, pr) >= kw:
        raise fail(op, f"padding smaller than the kernel {(kh, kw)}", (pt, pl, pb, pr))
    n, c, h, w = x.shape
    return TensorType((n, c, window_out(op, h, kh, sh, pt + pb), window_out(op, w, kw, sw, pl + pr)), x.dtype)


def _normalization(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x = types[0]
    _need_float(op, x)
    match op:
        case Op.BATCH_NORM:
            _arity(op, types, 5)
            _need_rank(op, x, 2, at_least=True)
            for t in types[1:]:
                if t.shape != (x.shape[1],) or t.dtype != x.dtype:
                    raise fail(op, f"scale/bias/mean/var of shape ({x.shape[1]},) {x.dtype}", t)
        case Op.LAYER_NORM:
            _arity(op, types, 3)
            axis = attrs["axis"]
            if not 0 <= axis < x.rank:
                raise fail(op, f"axis in [0, {x.rank})", axis)
            for t in types[1:]:
                if t.shape != x.shape[axis:] or t.dtype != x.dtype:
                    raise fail(op, f"scale/bias of shape {x.shape[axis:]} {x.dtype}", t)
        case Op.SOFTMAX:
            _arity(op, types, 1)
            if not 0 <= attrs["axis"] < x.rank:
                raise fail(op, f"axis in [0, {x.rank})", attrs["axis"])
    return x


def _reduce(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = _arity(op, types, 1)
    axes = attrs["axes"]
    if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.rank for a in axes):
        raise fail(op, f"sorted distinct axes in [0, {x.rank})", axes)
    if op == Op.REDUCE_MEAN:
        _need_float(op, x)
    if op == Op.REDUCE_MAX and any(x.shape[a] == 0 for a in axes):
        raise fail(op, "non-empty reduced axes", x)
    keep = attrs["keepdims"]
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
    return TensorType(shape, x.dtype)
