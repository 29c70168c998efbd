"""A fused elementwise map of one 8-bit tensor onto a few levels 0..L (L <= MAX_LEVELS), such as
the requantization of an int8 layer's output to a low-bit layer's 1- or 2-bit codes, as compares
on vectors of 32 bytes: out = Σ_k [x >= T[k]].

The map has only 256 inputs, so it is evaluated on all of them at compile time (by the reference
interpreter, on the kernel's own expression); where it is monotone non-decreasing with values in
0..L, T[k-1] is the least input with out >= k (`least_reaching`, the convention the table
kernel's requantization shares) and the compares are exact. The general map kernel
computes such an expression in int32 lanes, 8 values a vector."""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.bitserial_epilogue import MAX_LEVELS, least_reaching
from frittata.backends.llvm.irutil import element_ptr, for_range, i64
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View, row_major
from frittata.terms.fused import fused_elementwise
from frittata.terms.interp import evaluate
from frittata.terms.leaves import var
from frittata.terms.ops import Op
from frittata.terms.term import Term

LANES = 32
"""Values per vector: the bytes of one AVX2 register."""
BYTE_DTYPES = ("int8", "uint8")


def byte_levels(t: Term) -> np.ndarray | None:
    """The thresholds T (in the input's dtype) of `t`, a fused_elementwise of one 8-bit operand
    of its own shape with an 8-bit result, or None where the map is not monotone onto 0..L."""
    if t.op != Op.FUSED_ELEMENTWISE or len(t.args) != 1:
        return None
    (x,) = t.args
    if x.dtype not in BYTE_DTYPES or t.dtype not in BYTE_DTYPES or x.shape != t.shape:
        return None
    info = np.iinfo(x.dtype)
    domain = np.arange(info.min, info.max + 1).astype(x.dtype)
    values = evaluate(fused_elementwise(var("v", domain.shape, x.dtype), expr=t.attr("expr")), {"v": domain})
    values = np.asarray(values).astype(np.int64)
    if values.min() < 0 or values.max() > MAX_LEVELS or (np.diff(values) < 0).any():
        return None
    table = least_reaching(lambda v: values[v - info.min], int(info.min), int(info.max), int(values.max()))
    return table.astype(x.dtype)


def thresholds_for(t: Term, x: View, out: View) -> np.ndarray | None:
    """The thresholds `emit_byte_levels` computes `t` from these views with (both row-major, no
    padding), or None where it does not apply."""
    if x.bounds is not None or x.strides != row_major(x.shape) or out.strides != row_major(out.shape):
        return None
    return byte_levels(t)


def emit_byte_levels(k: Kernel, t: Term, x: View, out: View, thresholds: np.ndarray) -> None:
    """`t` from `x` into `out` as compares against `thresholds` (`thresholds_for`): chunks of
    LANES values taken from the work counter; the last, shorter chunk of a size that is not a
    multiple of LANES value by value."""
    b = k.b
    size, signed = math.prod(t.shape), x.dtype == "int8"
    chunks, tail = -(-size // LANES), size % LANES
    source, target = k.base(x.buf), k.base(out.buf)

    def levels(value: ir.Value) -> ir.Value:
        lanes = value.type.count if isinstance(value.type, ir.VectorType) else 0
        level = ir.Constant(value.type, None)
        for bound in thresholds:
            limit = ir.Constant(value.type, [int(bound)] * lanes if lanes else int(bound))
            reached = b.icmp_signed(">=", value, limit) if signed else b.icmp_unsigned(">=", value, limit)
            level = b.add(level, b.zext(reached, value.type))
        return level

    def copy(first: ir.Value, count: int) -> None:
        typ = ir.VectorType(ir.IntType(8), count) if count > 1 else ir.IntType(8)
        value = b.load(element_ptr(b, source, x.dtype, b.add(first, i64(x.offset))), typ=typ, align=1)
        b.store(levels(value), element_ptr(b, target, out.dtype, b.add(first, i64(out.offset))), align=1)

    with k.take(chunks, name="chunk") as chunk:
        first = b.mul(chunk, i64(LANES))
        if not tail:
            copy(first, LANES)
            return
        last = b.icmp_signed("==", chunk, i64(chunks - 1))
        with b.if_else(last) as (short, whole):
            with short:
                with for_range(b, 0, tail, name="tail") as i:
                    copy(b.add(first, i), 1)
            with whole:
                copy(first, LANES)
