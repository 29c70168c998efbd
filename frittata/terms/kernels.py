"""Kernel-level operators: contractions with fused epilogues, and blocked (NCHWc) layouts.

A fused contraction computes `epilogue(contraction(x, w) + bias)`, where the epilogue is a
tuple of steps applied in order to the accumulator before it is stored:

  ("add",)          add the residual operand (the 4th argument, same shape as the output)
  ("relu",)         max(v, 0)
  ("clip", lo, hi)  min(max(v, lo), hi)
  ("shift", s)      rounding arithmetic shift right by s (integers): (v + 2^(s-1)) >> s
  ("cast", dtype)   numpy astype to dtype (the output dtype becomes dtype)

`fused_conv2d(x, w, b, [r], ...)` is conv2d's attributes plus `epilogue`; `fused_dense(x, w, b, [r])`
is dense's. The bias has shape (O,) and the accumulator's dtype (float32, or int32 for integers).
`pack_nchwc(x, c)` turns [N, C, H, W] into [N, C/c, H, W, c]; `unpack_nchwc` inverts it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType, check_dtype, is_int
from frittata.terms.ops import Op
from frittata.terms.term import Term

Epilogue = tuple[tuple, ...]


def fused_conv2d(x: Term, w: Term, bias: Term, *residual: Term, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), groups: int = 1, epilogue: Epilogue = ()) -> Term:
    attrs = (("strides", tuple(strides)), ("pads", tuple(pads)), ("dilations", tuple(dilations)),
             ("groups", int(groups)), ("epilogue", normalize_epilogue(epilogue)))
    return Term.make(Op.FUSED_CONV2D, (x, w, bias) + residual, attrs)


def fused_dense(x: Term, w: Term, bias: Term, *residual: Term, epilogue: Epilogue = ()) -> Term:
    return Term.make(Op.FUSED_DENSE, (x, w, bias) + residual, (("epilogue", normalize_epilogue(epilogue)),))


def pack_nchwc(x: Term, c: int) -> Term:
    return Term.make(Op.PACK_NCHWC, (x,), (("c", int(c)),))


def unpack_nchwc(x: Term, c: int) -> Term:
    return Term.make(Op.UNPACK_NCHWC, (x,), (("c", int(c)),))


def normalize_epilogue(steps) -> Epilogue:
    """Steps as tuples of (name, *numbers); numbers become ints or floats, dtypes canonical."""
    out: list[tuple] = []
    for step in steps:
        name, *rest = step
        match name, rest:
            case ("add" | "relu"), []:
                out.append((name,))
            case "clip", [lo, hi]:
                out.append(("clip", lo, hi))
            case "shift", [s] if int(s) == s and 0 <= s < 32:
                out.append(("shift", int(s)))
            case "cast", [dtype]:
                out.append(("cast", check_dtype(dtype, "epilogue cast")))
            case _:
                raise FrittataTypeError(
                    f"epilogue: expected add, relu, clip lo hi, shift s or cast dtype, got {step!r}")
    return tuple(out)


def infer_kernel(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    from frittata.terms.infer import _conv2d, _matmul, fail

    match op:
        case Op.FUSED_CONV2D | Op.FUSED_DENSE:
            if len(types) not in (3, 4):
                raise fail(op, "x, w, bias and an optional residual", len(types))
            acc = _conv2d(types[:2], attrs) if op == Op.FUSED_CONV2D else _matmul(Op.DENSE, types[:2])
            channels = acc.shape[1] if op == Op.FUSED_CONV2D else acc.shape[-1]
            if types[2] != TensorType((channels,), acc.dtype):
                raise fail(op, f"bias {TensorType((channels,), acc.dtype)}", types[2])
            return _epilogue_type(op, acc, types[3:], attrs["epilogue"])
        case Op.PACK_NCHWC | Op.UNPACK_NCHWC:
            return _layout_type(op, types, attrs["c"])
        case _:
            raise AssertionError(f"{op} is not a kernel op")


def _epilogue_type(op: Op, acc: TensorType, residual: list[TensorType], epilogue: Epilogue) -> TensorType:
    from frittata.terms.infer import fail

    adds = sum(step[0] == "add" for step in epilogue)
    if adds != len(residual):
        raise fail(op, f"{adds} residual operand(s) for epilogue {epilogue}", len(residual))
    dtype = acc.dtype
    for step in epilogue:
        if step[0] == "add" and residual[0] != TensorType(acc.shape, dtype):
            raise fail(op, f"residual {TensorType(acc.shape, dtype)}", residual[0])
        if step[0] == "shift" and not is_int(dtype):
            raise fail(op, "an integer accumulator before a shift step", dtype)
        if step[0] == "cast":
            dtype = step[1]
    return TensorType(acc.shape, dtype)


def _layout_type(op: Op, types: list[TensorType], c: int) -> TensorType:
    from frittata.terms.infer import fail

    (x,) = types
    if op == Op.PACK_NCHWC:
        if x.rank != 4 or c < 1 or x.shape[1] % c:
            raise fail(op, f"an NCHW tensor whose channels divide by {c}", x)
        n, ch, h, w = x.shape
        return TensorType((n, ch // c, h, w, c), x.dtype)
    if x.rank != 5 or x.shape[4] != c:
        raise fail(op, f"an NCHWc tensor with c = {c}", x)
    n, cb, h, w, _ = x.shape
    return TensorType((n, cb * c, h, w), x.dtype)


def apply_epilogue(acc: np.ndarray, residual: list[np.ndarray], epilogue: Epilogue) -> np.ndarray:
    """The reference meaning of an epilogue, applied to an accumulator (bias already added)."""
    for step in epilogue:
        match step:
            case ("add",):
                acc = acc + residual[0]
            case ("relu",):
                acc = np.maximum(acc, np.zeros((), acc.dtype))
            case ("clip", lo, hi):
                acc = np.clip(acc, lo, hi).astype(acc.dtype)
            case ("shift", s):
                wide = acc.astype(np.int64)
                acc = (wide if s == 0 else (wide + (1 << (s - 1))) >> s).astype(acc.dtype)
            case ("cast", dtype):
                acc = acc.astype(dtype)
    return acc


def eval_kernel(node: Term, args: list[np.ndarray], contraction) -> np.ndarray:
    """Reference semantics of kernel ops; `contraction(node, [x, w])` computes the core."""
    match node.op:
        case Op.FUSED_CONV2D | Op.FUSED_DENSE:
            bias = args[2].reshape((1, -1, 1, 1)) if node.op == Op.FUSED_CONV2D else args[2]
            acc = (contraction(node, args[:2]) + bias).astype(node.args[2].dtype)
            return apply_epilogue(acc, args[3:], node.attr("epilogue"))
        case Op.PACK_NCHWC:
            n, ch, h, w = args[0].shape
            c = node.attr("c")
            return args[0].reshape(n, ch // c, c, h, w).transpose(0, 1, 3, 4, 2)
        case Op.UNPACK_NCHWC:
            n, cb, h, w, c = args[0].shape
            return args[0].transpose(0, 1, 4, 2, 3).reshape(n, cb * c, h, w)
        case _:
            raise AssertionError(f"{node.op} is not a kernel op")
