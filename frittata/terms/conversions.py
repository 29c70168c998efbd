"""Dtype conversions and integer requantization steps: cast, right_shift (elementwise)."""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.attr_forms import as_int
from frittata.terms.dtypes import INT_DTYPES, TensorType, check_dtype, is_float, is_int
from frittata.terms.elementwise import unary_op
from frittata.terms.infer import fail
from frittata.terms.ops import Attr, Op
from frittata.terms.term import Term, build

__all__ = ["cast", "right_shift"]


def _dtype(value: Any, first: TensorType | None) -> str:
    return check_dtype(value, "cast")


def _infer_cast(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType(types[0].shape, check_dtype(attrs["dtype"], "cast"))


def _check_shift(op: Op, x: TensorType, attrs: dict[str, Any]) -> None:
    if not is_int(x.dtype):
        raise fail(op, "an integer tensor", x)
    if not isinstance(attrs["shift"], int) or not 0 <= attrs["shift"] < 32:
        raise fail(op, "shift in [0, 32)", attrs["shift"])


def _shift(x: np.ndarray, shift: int) -> np.ndarray:
    wide = x.astype(np.int64)
    return wide if shift == 0 else (wide + (1 << (shift - 1))) >> shift


def _import_cast(n) -> Term:
    return cast(n.term(0), n.dtype_attr("to"))


def _export_cast(g, node: Term, args: list[str], out: str | None) -> str:
    return g.node("Cast", args, out, to=g.dtype(node.attr("dtype")))


def _export_shift(g, node: Term, args: list[str], out: str | None) -> str:
    """floor((x + 2^(s-1)) / 2^s) in int64: subtract the floor remainder (Mod), then Div exactly."""
    shift = node.attr("shift")
    wide = g.node("Cast", args, to=g.dtype("int64"))
    if shift == 0:
        return g.node("Cast", [wide], out, to=g.dtype(node.dtype))
    step = g.constant(1 << shift, "int64")
    biased = g.node("Add", [wide, g.constant(1 << (shift - 1), "int64")])
    floored = g.node("Sub", [biased, g.node("Mod", [biased, step], fmod=0)])
    return g.node("Cast", [g.node("Div", [floored, step])], out, to=g.dtype(node.dtype))


def _cast_vjp(b, node: Term, g: Term) -> tuple[Term]:
    """A cast between float types passes the cotangent back in the source type; a cast to or
    from an integer type is a step function, without a gradient."""
    source = node.args[0].dtype
    if not (is_float(source) and is_float(node.dtype)):
        b.not_differentiable(node, f"a cast from {source} (computed by {node.args[0].op.name}) to {node.dtype};"
                                   " only a cast from float to float has a gradient")
    return (b.cast(g, source),)


CAST = unary_op("cast", lambda x, dtype: x.astype(dtype), lambda p, x, dtype: p.cast(x, dtype),
                infer=_infer_cast,
                attrs=(Attr("dtype", str, normalize=_dtype,
                            choices=lambda x: ["float32", *INT_DTYPES]),),
                onnx_import={"Cast": _import_cast}, onnx_export=_export_cast, vjp=lambda b, n, g: _cast_vjp(b, n, g))
RIGHT_SHIFT = unary_op("right_shift", _shift, lambda p, x, shift: p.right_shift(x, shift),
                       attrs=(Attr("shift", int, normalize=as_int,
                                   choices=lambda x: list(range(9))),),
                       check=_check_shift, onnx_export=_export_shift)


def cast(x: Term, dtype: str) -> Term:
    """numpy `astype`: float -> int truncates toward zero, int -> narrower int wraps around."""
    return build(CAST, (x,), dtype=dtype)


def right_shift(x: Term, shift: int) -> Term:
    """Arithmetic shift right with rounding half up: (x + 2^(shift-1)) >> shift (x >> 0 = x)."""
    return build(RIGHT_SHIFT, (x,), shift=shift)
