"""max_pool2d without a branch per tap: clamped window indices and a vectorizable interior loop.

A max is idempotent, so a tap that falls in the padding can read the nearest edge cell of
its own window instead (clamping the index into [0, size)); that cell is in the window
whenever the window meets the image, which padding smaller than the kernel guarantees. Each thread takes
a share of the flat (n, c, oh) output rows and makes

    rows[r] = clamp(oh * sh + r - top)                              once per output row
    for ow in left edge and right edge:  out = max over taps at clamped columns
    for ow in interior (no clamping):    out = max over the kh * kw taps, straight-line

so the interior loop is innermost, branch-free and vectorized along the output width. The
float max propagates NaN, as numpy's `max` does in the interpreter.
"""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm import scalar
from frittata.backends.llvm.expr import load
from frittata.backends.llvm.irutil import F32, for_range, i64, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.pool_bytes import emit_byte_pool, pools_byte_rows
from frittata.backends.llvm.views import View
from frittata.terms.ops import Op


def _interior(n_out: int, size: int, kernel: int, stride: int, before: int) -> tuple[int, int]:
    """The output positions [lo, hi) whose whole window lies inside [0, size)."""
    lo = min(n_out, -(-before // stride))
    hi = max(lo, min(n_out, (size - kernel + before) // stride + 1))
    return lo, hi


def emit_max_pool(k: Kernel, x: View, node_attr, out: View) -> None:
    """max_pool2d over clamped windows (type inference keeps padding below the kernel, so every
    window meets the image); 8-bit 2x2 pools by whole rows (`pool_bytes`)."""
    if pools_byte_rows(x, node_attr, out):
        emit_byte_pool(k, x, out)
        return
    (kh, kw), (sh, sw), (top, left, _, _) = node_attr("kernel"), node_attr("strides"), node_attr("pads")
    assert top < kh and left < kw, f"max_pool2d: padding {(top, left)} not below the kernel {(kh, kw)}"
    h, w = x.shape[2:]
    oh_n, ow_n = out.shape[2:]
    b = k.b
    with k.take(math.prod(out.shape[:3]), name="row") as row:
        n, c, oh = unflatten(b, row, out.shape[:3])
        base = b.sub(b.mul(oh, i64(sh)), i64(top))
        rows = [_clamp(b, b.add(base, i64(r)), h) for r in range(kh)]
        tap = _Taps(k, x, node_attr, n, c, rows)
        first, last = _interior(ow_n, w, kw, sw, left)
        for start, stop, clamp in ((0, first, True), (first, last, False), (last, ow_n, True)):
            if start < stop:
                with for_range(b, start, stop, name="ow") as ow:
                    b.store(tap.window_max(ow, clamp), k.address(out, [n, c, oh, ow]))


class _Taps:
    """Loads and maxes one window's kh * kw taps, given the output column."""

    def __init__(self, k: Kernel, x: View, node_attr, n, c, rows: list) -> None:
        self.k, self.x, self.n, self.c, self.rows = k, x, n, c, rows
        (_, self.kw), (_, self.sw), (_, self.left, _, _) = (node_attr("kernel"), node_attr("strides"),
                                                             node_attr("pads"))

    def window_max(self, ow: ir.Value, clamp: bool) -> ir.Value:
        b, width = self.k.b, self.x.shape[3]
        base = b.sub(b.mul(ow, i64(self.sw)), i64(self.left))
        cols = [b.add(base, i64(s)) for s in range(self.kw)]
        cols = [_clamp(b, col, width) for col in cols] if clamp else cols
        values = [load(self.k, self.x, [self.n, self.c, r, col]) for r in self.rows for col in cols]
        return _float_max(b, values) if self.x.dtype == "float32" else _int_max(b, self.x.dtype, values)


def _int_max(b: ir.IRBuilder, dtype: str, values: list[ir.Value]) -> ir.Value:
    result = values[0]
    for value in values[1:]:
        result = scalar.binary(b, Op.MAXIMUM, dtype, result, value)
    return result


def _float_max(b: ir.IRBuilder, values: list[ir.Value]) -> ir.Value:
    """The max of `values`, NaN if any is NaN: compare-and-select (one `maxps` per tap) plus
    one unordered compare per pair of taps to catch a NaN."""
    result, nan = values[0], b.fcmp_unordered("uno", values[0], values[-1])
    for i, value in enumerate(values[1:], 1):
        result = b.select(b.fcmp_ordered(">", result, value), result, value)
        if i % 2:
            nan = b.or_(nan, b.fcmp_unordered("uno", values[i - 1], value))
    return b.select(nan, ir.Constant(F32, float("nan")), result)


def _clamp(b: ir.IRBuilder, index: ir.Value, size: int) -> ir.Value:
    """min(max(index, 0), size - 1) as selects."""
    low = b.select(b.icmp_signed("<", index, i64(0)), i64(0), index)
    return b.select(b.icmp_signed(">", low, i64(size - 1)), i64(size - 1), low)
