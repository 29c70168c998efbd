"""Float32 softmax along a contiguous last axis, in explicit vectors of the kernel's lanes.

Each row takes three passes over memory (the row is in L1 after the first):

    m = max(row)                                  (vector maxnum, then the lanes)
    e_j = exp(row_j - m), stored; s = sum of e_j   (<L x double> partial sums, as `reduce` adds)
    row_j = e_j * (1 / s)                          (one reciprocal per row: within 1.5 ulp of e_j / s)

The columns past the last whole vector run one by one through the same code on scalars. The
exponential is `vmath.exp_nonpositive` (x - m <= 0): subnormal results as the interpreter's, and
0 where float32 e^x is 0 (a -inf mask's lanes make no subnormal). A NaN anywhere in the row makes
the whole row NaN (the sum is NaN), as the interpreter's `exp(x - max) / sum` does; so does a row
of -inf (-inf - -inf is NaN).
"""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm import vmath
from frittata.backends.llvm.irutil import F32, F64, entry_alloca, for_range, i64, intrinsic, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.views import View


def applies(x: View, out: View, lanes: int) -> bool:
    """Whether `emit` runs this softmax: float32, the softmax axis last in both (already
    transposed) views and contiguous in each, no padding, and at least one whole vector of
    at least 4 lanes."""
    return (lanes >= 4 and x.dtype == "float32" and x.bounds is None and x.strides[-1] == 1 and out.strides[-1] == 1
            and x.shape[-1] >= lanes)


def emit(k: Kernel, x: View, out: View) -> None:
    """out = softmax(x) along the last axis of both views (`applies` holds)."""
    b, lanes = k.b, k.lanes
    outer, n = x.shape[:-1], x.shape[-1]
    with k.take(math.prod(outer), name="o") as o:
        idx = unflatten(b, o, outer) + [i64(0)]
        emit_row(b, k.address(x, idx), k.address(out, idx), n, lanes)


def emit_row(b: ir.IRBuilder, row: ir.Value, dst: ir.Value, n: int, lanes: int) -> None:
    """dst = softmax(row) for the n contiguous floats at `row` (dst may be row: in place)."""
    top = _row_max(b, row, n, lanes)
    total = _exp_row(b, row, dst, n, lanes, top)
    _scale_row(b, dst, n, lanes, b.fptrunc(b.fdiv(ir.Constant(F64, 1.0), total), F32))


def _vec(lanes: int) -> ir.VectorType:
    return ir.VectorType(F32, lanes)


def _load(b: ir.IRBuilder, base: ir.Value, j, lanes: int) -> ir.Value:
    """The `lanes` floats (or, for lanes 1, the float) at base[j]."""
    at = b.gep(base, [j], source_etype=F32)
    return b.load(at, typ=F32 if lanes == 1 else _vec(lanes), align=4)


def _store(b: ir.IRBuilder, value: ir.Value, base: ir.Value, j) -> None:
    b.store(value, b.gep(base, [j], source_etype=F32), align=4)


def _larger(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """x if x > y, else y (one vmaxps): a NaN x is passed over, which leaves the row NaN all the
    same (its exponential is NaN, so is the sum)."""
    return b.select(b.fcmp_ordered(">", x, y), x, y)


def _row_max(b: ir.IRBuilder, row: ir.Value, n: int, lanes: int) -> ir.Value:
    """The largest float of the row (NaNs passed over, `_larger`)."""
    whole = n // lanes * lanes
    acc = entry_alloca(b, _vec(lanes), "vmax")
    b.store(_load(b, row, i64(0), lanes), acc)
    with for_range(b, lanes, whole, lanes, name="mx") as j:
        b.store(_larger(b, _load(b, row, j, lanes), b.load(acc)), acc)
    vector = b.load(acc)
    top = b.extract_element(vector, i64(0))
    for lane in range(1, lanes):
        top = _larger(b, b.extract_element(vector, i64(lane)), top)
    for j in range(whole, n):
        top = _larger(b, _load(b, row, i64(j), 1), top)
    return top


def _exp_row(b: ir.IRBuilder, row: ir.Value, dst: ir.Value, n: int, lanes: int, top: ir.Value) -> ir.Value:
    """Store e_j = exp(row_j - top) at dst and return their sum (double)."""
    whole = n // lanes * lanes
    wide = ir.VectorType(F64, lanes)
    acc = entry_alloca(b, wide, "vsum")
    b.store(ir.Constant(wide, [0.0] * lanes), acc)
    shift = splat(b, top, lanes)
    with for_range(b, 0, whole, lanes, name="ex") as j:
        e = vmath.exp_nonpositive(b, b.fsub(_load(b, row, j, lanes), shift))
        _store(b, e, dst, j)
        b.store(b.fadd(b.load(acc), b.fpext(e, wide), flags=("reassoc",)), acc)
    reduce = intrinsic(b.module, f"llvm.vector.reduce.fadd.v{lanes}f64", F64, [F64, wide])
    total = b.call(reduce, [ir.Constant(F64, 0.0), b.load(acc)], fastmath=("reassoc",))
    for j in range(whole, n):
        e = vmath.exp_nonpositive(b, b.fsub(_load(b, row, i64(j), 1), top))
        _store(b, e, dst, i64(j))
        total = b.fadd(total, b.fpext(e, F64))
    return total


def _scale_row(b: ir.IRBuilder, dst: ir.Value, n: int, lanes: int, scale: ir.Value) -> None:
    """dst_j *= scale."""
    whole = n // lanes * lanes
    factor = splat(b, scale, lanes)
    with for_range(b, 0, whole, lanes, name="sc") as j:
        _store(b, b.fmul(_load(b, dst, j, lanes), factor), dst, j)
    for j in range(whole, n):
        _store(b, b.fmul(_load(b, dst, i64(j), 1), scale), dst, i64(j))
