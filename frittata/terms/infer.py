"""Type inference: `infer_type` and the checks that the families' type rules share.

`infer_type` runs once per node when it is built: it checks the operand count against the
op's arity, then calls the op's own rule (`Op.infer`). A node that makes no sense raises
`FrittataTypeError` naming the operator, what it expected and what it got.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType, is_float, is_int
from frittata.terms.ops import Op, class_set


def fail(op: Op, expected: str, got: object) -> FrittataTypeError:
    return FrittataTypeError(f"{op.value}: expected {expected}, got {got}")


def infer_type(op: Op, args: tuple, attrs: dict[str, Any]) -> TensorType:
    """The type of `op(*args, **attrs)`; `args` need only a `.type`."""
    if not op.arity.accepts(len(args)):
        raise fail(op, str(op.arity), len(args))
    return op.infer(op, [a.type for a in args], attrs)


def need_rank(op: Op, t: TensorType, rank: int, at_least: bool = False) -> None:
    if t.rank < rank if at_least else t.rank != rank:
        raise fail(op, f"rank {'>= ' if at_least else ''}{rank}", f"{t}")


def need_float(op: Op, t: TensorType) -> None:
    if not is_float(t.dtype):
        raise fail(op, "a float tensor", t)


def same_dtype(op: Op, types: list[TensorType]) -> str:
    dtypes = {t.dtype for t in types}
    if len(dtypes) != 1:
        raise fail(op, "operands of one dtype (cast explicitly)", ", ".join(map(str, types)))
    return dtypes.pop()


def broadcast(op: Op, types: list[TensorType]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*(t.shape for t in types)))
    except ValueError:
        raise fail(op, "shapes that broadcast", ", ".join(map(str, types))) from None


def contraction_dtype(op: Op, a: TensorType, b: TensorType) -> str:
    """float32 x float32 -> float32; any integer x integer -> int32 (accumulator)."""
    if is_float(a.dtype) and a.dtype == b.dtype:
        return a.dtype
    if is_int(a.dtype) and is_int(b.dtype):
        return "int32"
    raise fail(op, "two float32 or two integer operands", f"{a}, {b}")


def window_out(op: Op, size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Output length of a sliding window: floor((size + pad - dilation*(kernel-1) - 1)/stride) + 1."""
    if stride < 1 or dilation < 1 or kernel < 1 or pad < 0:
        raise fail(op, "kernel, stride, dilation >= 1 and padding >= 0", (kernel, stride, dilation, pad))
    span = size + pad - dilation * (kernel - 1) - 1
    if span < 0:
        raise fail(op, f"a window spanning at most input {size} + padding {pad} = {size + pad}",
                   f"a window of {kernel} (dilation {dilation}) spanning {dilation * (kernel - 1) + 1}")
    return span // stride + 1


def axis_in(op: Op, axis: int, rank: int) -> None:
    if not 0 <= axis < rank:
        raise fail(op, f"axis in [0, {rank})", axis)


def __getattr__(name: str) -> frozenset[Op]:
    """`FLOAT_ONLY`: the elementwise ops defined on floats only (from the op classes)."""
    if name == "FLOAT_ONLY":
        return class_set("float_only") & class_set("elementwise")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
