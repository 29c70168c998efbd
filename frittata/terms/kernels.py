"""Kernel-level operators: contractions with fused epilogues, and blocked (NCHWc) layouts.

A fused contraction computes `epilogue(contraction(x, w) + bias)`, where the epilogue is a
tuple of steps applied in order to the accumulator before it is stored:

  ("add",)          add the residual operand (the 4th argument, same shape as the output)
  ("relu",)         max(v, 0)
  ("clip", lo, hi)  min(max(v, lo), hi)
  ("sigmoid",)      1 / (1 + e^-v)                      (floats)
  ("silu",)         v * sigmoid(v), SiLU or swish       (floats)
  ("hard_swish",)   v * clip(v / 6 + 1/2, 0, 1)         (floats)
  ("shift", s)      rounding arithmetic shift right by s (integers): (v + 2^(s-1)) >> s
  ("cast", dtype)   numpy astype to dtype (the output dtype becomes dtype)

`fused_conv2d(x, w, b, [r], ...)` is conv2d's attributes plus `epilogue`; `fused_dense(x, w, b, [r])`
is dense's. The bias has shape (O,) and the accumulator's dtype (float32, or int32 for integers).
`pack_nchwc(x, c)` turns [N, C, H, W] into [N, C/c, H, W, c]; `unpack_nchwc` inverts it.

Each op is defined by its expansion into plain ops (`expand_*`); its type, reference meaning
and ONNX export derive from that expansion (`frittata.terms.expansion`).
"""

from __future__ import annotations

from typing import Any

from frittata.errors import FrittataTypeError
from frittata.terms.attr_forms import as_int
from frittata.terms.contractions import CONV_ATTRS, conv2d, dense, infer_conv2d, infer_dense
from frittata.terms.dtypes import TensorType, check_dtype, is_float, is_int
from frittata.terms.elementwise import add, mul
from frittata.terms.activations import clip, hard_swish, relu, sigmoid
from frittata.terms.conversions import cast, right_shift
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.infer import fail
from frittata.terms.movement_ops import reshape, transpose
from frittata.terms.ops import Arity, Attr, Cost, Op, define
from frittata.terms.term import Term, build

__all__ = ["fused_conv2d", "fused_dense", "pack_nchwc", "unpack_nchwc"]

Epilogue = tuple[tuple, ...]
FLOAT_ONLY_STEPS = frozenset({"sigmoid", "silu", "hard_swish"})
"""Epilogue steps defined on floats only (activations with transcendental or fractional math)."""


def normalize_epilogue(steps) -> Epilogue:
    """Steps as tuples of (name, *numbers); numbers become ints or floats, dtypes canonical."""
    out: list[tuple] = []
    for step in steps:
        name, *rest = step
        match name, rest:
            case ("add" | "relu" | "sigmoid" | "silu" | "hard_swish"), []:
                out.append((name,))
            case "clip", [lo, hi]:
                out.append(("clip", lo, hi))
            case "shift", [s] if int(s) == s and 0 <= s < 32:
                out.append(("shift", int(s)))
            case "cast", [dtype]:
                out.append(("cast", check_dtype(dtype, "epilogue cast")))
            case _:
                raise FrittataTypeError(
                    f"epilogue: expected add, relu, sigmoid, silu, hard_swish, clip lo hi, shift s or cast dtype, "
                    f"got {step!r}")
    return tuple(out)


def epilogue_terms(acc: Term, residual: tuple[Term, ...], steps: Epilogue) -> Term:
    """The plain ops of an epilogue applied to `acc` (the contraction plus its bias)."""
    for step in steps:
        match step:
            case ("add",):
                acc = add(acc, residual[0])
            case ("relu",):
                acc = relu(acc)
            case ("sigmoid",):
                acc = sigmoid(acc)
            case ("silu",):
                acc = mul(acc, sigmoid(acc))
            case ("hard_swish",):
                acc = hard_swish(acc)
            case ("clip", lo, hi):
                acc = clip(acc, lo, hi)
            case ("shift", s):
                acc = right_shift(acc, s)
            case ("cast", dtype):
                acc = cast(acc, dtype)
    return acc


def channel_bias(acc: Term, bias: Term) -> Term:
    """acc[N, C, H, W] + bias[C]."""
    return add(acc, reshape(bias, (bias.shape[0], 1, 1)))


def _expand_fused(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    x, w, bias = args[:3]
    if op == Op.FUSED_CONV2D:
        conv = {k: attrs[k] for k in ("strides", "pads", "dilations", "groups")}
        acc = channel_bias(conv2d(x, w, **conv), bias)
    else:
        acc = add(dense(x, w), bias)
    return epilogue_terms(acc, args[3:], attrs["epilogue"])


def _check_fused(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    """The contraction's own checks, then bias and residual types, named after the kernel."""
    core = Op.CONV2D if op == Op.FUSED_CONV2D else Op.DENSE
    acc = infer_conv2d(core, types[:2], attrs) if op == Op.FUSED_CONV2D else infer_dense(core, types[:2], attrs)
    channels = acc.shape[1] if op == Op.FUSED_CONV2D else acc.shape[-1]
    if types[2] != TensorType((channels,), acc.dtype):
        raise fail(op, f"bias {TensorType((channels,), acc.dtype)}", types[2])
    check_epilogue(op, acc, types[3:], attrs["epilogue"])


def check_epilogue(op: Op, acc: TensorType, residual: list[TensorType], epilogue: Epilogue) -> None:
    adds = sum(step[0] == "add" for step in epilogue)
    if adds != len(residual):
        raise fail(op, f"{adds} residual operand(s) for epilogue {epilogue}", len(residual))
    dtype = acc.dtype
    for step in epilogue:
        if step[0] == "add" and residual[0] != TensorType(acc.shape, dtype):
            raise fail(op, f"residual {TensorType(acc.shape, dtype)}", residual[0])
        if step[0] == "shift" and not is_int(dtype):
            raise fail(op, "an integer accumulator before a shift step", dtype)
        if step[0] in FLOAT_ONLY_STEPS and not is_float(dtype):
            raise fail(op, f"a float accumulator before a {step[0]} step", dtype)
        if step[0] == "cast":
            dtype = step[1]


def _pack(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    n, ch, h, w = args[0].shape
    c = attrs["c"]
    return transpose(reshape(args[0], (n, ch // c, c, h, w)), (0, 1, 3, 4, 2))


def _unpack(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    n, cb, h, w, c = args[0].shape
    return reshape(transpose(args[0], (0, 1, 4, 2, 3)), (n, cb * c, h, w))


def _check_layout(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    (x,), c = types, attrs["c"]
    if op == Op.PACK_NCHWC and (x.rank != 4 or c < 1 or x.shape[1] % c):
        raise fail(op, f"an NCHW tensor whose channels divide by {c}", x)
    if op == Op.UNPACK_NCHWC and (x.rank != 5 or x.shape[4] != c):
        raise fail(op, f"an NCHWc tensor with c = {c}", x)


EPILOGUE = Attr("epilogue", tuple, (), lambda v, x: normalize_epilogue(v))
FUSED = ("kernel", "fused")
FUSED_CONV2D = define("fused_conv2d", Arity(3, 4), infer_by_expansion(_check_fused), attrs=CONV_ATTRS + (EPILOGUE,),
                      expand=_expand_fused, classes=FUSED, cost=Cost.CONTRACTION)
FUSED_DENSE = define("fused_dense", Arity(3, 4), infer_by_expansion(_check_fused), attrs=(EPILOGUE,),
                     expand=_expand_fused, classes=FUSED, cost=Cost.CONTRACTION)
PACK_C = Attr("c", int, normalize=as_int,
              choices=lambda x: [d for d in range(1, x.shape[1] + 1) if x.shape[1] % d == 0])
UNPACK_C = Attr("c", int, normalize=as_int, choices=lambda x: [x.shape[4]])
PACK_NCHWC = define("pack_nchwc", 1, infer_by_expansion(_check_layout), attrs=(PACK_C,), expand=_pack,
                    classes=("kernel", "movement"), cost=Cost.STRIDED_COPY)
UNPACK_NCHWC = define("unpack_nchwc", 1, infer_by_expansion(_check_layout), attrs=(UNPACK_C,), expand=_unpack,
                      classes=("kernel", "movement"), cost=Cost.STRIDED_COPY)


def fused_conv2d(x: Term, w: Term, bias: Term, *residual: Term, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), groups: int = 1, epilogue: Epilogue = ()) -> Term:
    """epilogue(conv2d(x, w, ...) + bias[O]), one kernel (see the module docstring)."""
    return build(FUSED_CONV2D, (x, w, bias) + residual, strides=strides, pads=pads, dilations=dilations,
                 groups=groups, epilogue=epilogue)


def fused_dense(x: Term, w: Term, bias: Term, *residual: Term, epilogue: Epilogue = ()) -> Term:
    """epilogue(dense(x, w) + bias[N]), one kernel (see the module docstring)."""
    return build(FUSED_DENSE, (x, w, bias) + residual, epilogue=epilogue)


def pack_nchwc(x: Term, c: int) -> Term:
    """[N, C, H, W] -> [N, C/c, H, W, c]."""
    return build(PACK_NCHWC, (x,), c=c)


def unpack_nchwc(x: Term, c: int) -> Term:
    """[N, C/c, H, W, c] -> [N, C, H, W]."""
    return build(UNPACK_NCHWC, (x,), c=c)
