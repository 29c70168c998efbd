"""max_pool2d of 8-bit integers with a 2x2 window, stride 2 and no padding (the pools between a
low-bit network's layers) as vectors of whole output rows: per output row, a vector of 2L bytes
from each of its two input rows, their max, then the max of its even and odd bytes gives L
outputs (L = min(16, OW)). A row of more than L outputs takes chunks of L in a loop, and a
row that is not a multiple of L one more, starting L before the row's end (its outputs computed
twice, by the same thread, so written twice with the same values); rows are the items the
threads take.

The general kernel (`pool`) vectorizes along the output width only inside a row, so rows of
14 or 7 outputs (28x28 and 14x14 inputs) ran scalar."""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm import scalar
from frittata.backends.llvm.irutil import I32, element_ptr, for_range, i64, ltype, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View, row_major
from frittata.terms.ops import Op

LANES = 16
"""Outputs of one vector: 16 bytes, from 32 bytes of each input row (one AVX2 register)."""
BYTE_DTYPES = ("int8", "uint8")


def pools_byte_rows(x: View, node_attr, out: View) -> bool:
    """Whether `emit_byte_pool` runs this max_pool2d: 8-bit integers, window 2x2, stride 2, no
    padding, both tensors row-major."""
    return (x.dtype in BYTE_DTYPES and node_attr("kernel") == (2, 2) and node_attr("strides") == (2, 2)
            and node_attr("pads") == (0, 0, 0, 0) and x.bounds is None and x.strides == row_major(x.shape)
            and out.strides == row_major(out.shape))


def emit_byte_pool(k: Kernel, x: View, out: View) -> None:
    """Emit the pool (see the module docstring): per row, a loop over its whole chunks of L
    outputs, then the tail chunk ending at the row's end."""
    b = k.b
    h, w = x.shape[2:]
    oh_n, ow_n = out.shape[2:]
    lanes = min(LANES, ow_n)
    wide = ir.VectorType(ltype(x.dtype), 2 * lanes)
    even = ir.Constant(ir.VectorType(I32, lanes), list(range(0, 2 * lanes, 2)))
    odd = ir.Constant(ir.VectorType(I32, lanes), list(range(1, 2 * lanes, 2)))
    source, target = k.base(x.buf), k.base(out.buf)

    def largest(u: ir.Value, v: ir.Value) -> ir.Value:
        return scalar.binary(b, Op.MAXIMUM, x.dtype, u, v)

    with k.take(math.prod(out.shape[:3]), name="row") as row:
        plane, oh = unflatten(b, row, (math.prod(out.shape[:2]), oh_n))
        top = b.add(b.mul(b.add(b.mul(plane, i64(h)), b.mul(oh, i64(2))), i64(w)), i64(x.offset))
        first = b.add(b.mul(row, i64(ow_n)), i64(out.offset))

        def chunk(start: ir.Value) -> None:
            pair = [b.load(element_ptr(b, source, x.dtype, b.add(top, b.add(i64(r * w), b.mul(start, i64(2))))),
                           typ=wide, align=1) for r in (0, 1)]
            both = largest(*pair)
            value = largest(b.shuffle_vector(both, both, even), b.shuffle_vector(both, both, odd))
            b.store(value, element_ptr(b, target, out.dtype, b.add(first, start)), align=1)

        with for_range(b, 0, ow_n // lanes, name="chunk") as c:
            chunk(b.mul(c, i64(lanes)))
        if ow_n % lanes:
            chunk(i64(ow_n - lanes))
