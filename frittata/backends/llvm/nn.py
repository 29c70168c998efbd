"""Generic (any dtype) contractions, average pooling and fused epilogues as plain loop nests.

These are the reference-shaped kernels: every matmul / dense / conv2d / avg_pool2d term lowers
here unless `gemm` / `conv` take it on a fast float32 path. Each makes

    for flat output position p in the chunks this thread takes:    acc = 0
        for the reduction window / K:  acc += x[...] * w[...]      (f32, or i32 for integers)
        out[p] = epilogue(acc + bias)
"""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm import scalar
from frittata.backends.llvm.expr import load
from frittata.backends.llvm.irutil import F32, I64, entry_alloca, for_range, i64, if_then, loop_nest, ltype, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View, broadcast_to, padded
from frittata.terms.dtypes import is_float
from frittata.terms.ops import Op


def _acc_dtype(dtype: str) -> str:
    """What a contraction accumulates in: float64 in double, the other floats (float16 too) in
    float32, integers in int32 (wrapping)."""
    if dtype == "float64":
        return dtype
    return "float32" if is_float(dtype) else "int32"


def _acc_type(dtype: str) -> ir.Type:
    return ltype(_acc_dtype(dtype))


def _mac(b: ir.IRBuilder, acc: ir.Value, x: ir.Value, xd: str, w: ir.Value, wd: str) -> ir.Value:
    """acc + x * w in the accumulator type."""
    accd = _acc_dtype(xd)
    product = scalar.binary(b, Op.MUL, accd, scalar.cast(b, x, xd, accd), scalar.cast(b, w, wd, accd))
    return scalar.binary(b, Op.ADD, accd, acc, product)


def _stored(b: ir.IRBuilder, acc: ir.Value, dtype: str) -> ir.Value:
    """The accumulator as the output's dtype (float16 rounds once, at the end)."""
    return scalar.cast(b, acc, _acc_dtype(dtype), dtype)


def emit_matmul(k: Kernel, a: View, w: View, out: View) -> None:
    """numpy matmul with broadcast batch axes: out[..., m, n] = sum_k a[..., m, k] w[..., k, n]."""
    shape = out.shape
    batch, (m, n), kdim = shape[:-2], shape[-2:], a.shape[-1]
    av = broadcast_to(a, batch + (m, kdim))
    wv = broadcast_to(w, batch + (kdim, n))
    _emit_dot(k, out, shape[:-1], n, kdim, lambda i, j, r: (av, i + [r]), lambda i, j, r: (wv, i[:-1] + [r, j]))


def emit_dense(k: Kernel, x: View, w: View, out: View) -> None:
    """out[..., n] = sum_k x[..., k] w[n, k]."""
    kdim, n = x.shape[-1], w.shape[0]
    _emit_dot(k, out, out.shape[:-1], n, kdim, lambda i, j, r: (x, i + [r]), lambda i, j, r: (w, [j, r]))


def _emit_dot(k: Kernel, out: View, rows: tuple, n: int, kdim: int, a_at, w_at, epilogue=None) -> None:
    b = k.b
    acc = entry_alloca(b, _acc_type(out.dtype if epilogue is None else epilogue.acc_dtype))
    with k.take(math.prod(rows), name="row") as row:
        idx = unflatten(b, row, rows)
        with for_range(b, 0, n, name="col") as col:
            b.store(ir.Constant(acc.allocated_type, 0), acc)
            with for_range(b, 0, kdim, name="k") as r:
                (av, ai), (wv, wi) = a_at(idx, col, r), w_at(idx, col, r)
                value = _mac(b, b.load(acc), load(k, av, ai), av.dtype, load(k, wv, wi), wv.dtype)
                b.store(value, acc)
            total = b.load(acc)
            result = _stored(b, total, out.dtype) if epilogue is None else epilogue(k, total, idx + [col], col)
            b.store(result, k.address(out, idx + [col]))


def emit_conv2d(k: Kernel, x: View, w: View, node_attr, out: View, epilogue=None) -> None:
    """Direct grouped convolution over a zero-padded view of x (no out-of-bounds loads)."""
    (sh, sw), (dh, dw), groups = node_attr("strides"), node_attr("dilations"), node_attr("groups")
    top, left, bottom, right = node_attr("pads")
    xp = padded(x, ((0, 0), (0, 0), (top, bottom), (left, right)), 0)
    o, ci, kh, kw = w.shape
    per_group = o // groups
    b = k.b
    acc = entry_alloca(b, _acc_type(out.dtype if epilogue is None else epilogue.acc_dtype))
    with k.take(math.prod(out.shape[:2]), name="nc") as nc:
        n, oc = unflatten(b, nc, out.shape[:2])
        base_c = b.mul(b.udiv(oc, i64(per_group)), i64(ci))
        with loop_nest(b, out.shape[2:], name="s") as (oh, ow):
            b.store(ir.Constant(acc.allocated_type, 0), acc)
            with loop_nest(b, (ci, kh, kw), name="r") as (c, r, s):
                ih = b.add(b.mul(oh, i64(sh)), b.mul(r, i64(dh)))
                iw = b.add(b.mul(ow, i64(sw)), b.mul(s, i64(dw)))
                xv = load(k, xp, [n, b.add(base_c, c), ih, iw])
                b.store(_mac(b, b.load(acc), xv, x.dtype, load(k, w, [oc, c, r, s]), w.dtype), acc)
            idx = [n, oc, oh, ow]
            total = b.load(acc)
            result = _stored(b, total, out.dtype) if epilogue is None else epilogue(k, total, idx, oc)
            b.store(result, k.address(out, idx))


def emit_fused(k: Kernel, op: Op, node_attr, views: list[View], out: View) -> None:
    """fused_dense / fused_conv2d: the generic contraction with bias and epilogue per element."""
    x, w, bias = views[:3]
    epilogue = Epilogue(bias, views[3] if len(views) > 3 else None, node_attr("epilogue"))
    if op == Op.FUSED_CONV2D:
        emit_conv2d(k, x, w, node_attr, out, epilogue)
    else:
        kdim, n = x.shape[-1], w.shape[0]
        _emit_dot(k, out, out.shape[:-1], n, kdim, lambda i, j, r: (x, i + [r]),
                  lambda i, j, r: (w, [j, r]), epilogue)


class Epilogue:
    """acc + bias[channel], then the kernel's epilogue steps, one scalar at a time, in the
    bias's dtype."""

    def __init__(self, bias: View, residual: View | None, steps: tuple) -> None:
        self.bias, self.residual, self.steps = bias, residual, steps
        self.acc_dtype = bias.dtype

    def __call__(self, k: Kernel, acc: ir.Value, idx: list[ir.Value], channel: ir.Value) -> ir.Value:
        b, dtype = k.b, self.acc_dtype
        # the accumulator rounded to the bias's dtype first (float16 accumulates in float32)
        value = scalar.binary(b, Op.ADD, dtype, _stored(b, acc, dtype), load(k, self.bias, [channel]))
        for step in self.steps:
            match step:
                case ("add",):
                    assert self.residual is not None
                    value = scalar.binary(b, Op.ADD, dtype, value, load(k, self.residual, idx))
                case ("relu",) if dtype == "float16":  # through float32, as the operators compute it
                    value = scalar.elementwise(b, Op.RELU, (), [dtype], [value])
                case ("clip", lo, hi) if dtype == "float16":
                    value = scalar.elementwise(b, Op.CLIP, (("lo", lo), ("hi", hi)), [dtype], [value])
                case ("relu",):
                    value = scalar.clip(b, dtype, value, 0, None)
                case ("clip", lo, hi):
                    value = scalar.clip(b, dtype, value, lo, hi)
                case ("sigmoid",):
                    value = scalar.elementwise(b, Op.SIGMOID, (), [dtype], [value])
                case ("silu",):
                    gate = scalar.elementwise(b, Op.SIGMOID, (), [dtype], [value])
                    value = scalar.binary(b, Op.MUL, dtype, value, gate)
                case ("hard_swish",):
                    value = scalar.elementwise(b, Op.HARD_SWISH, (), [dtype], [value])
                case ("shift", s):
                    value = scalar.right_shift(b, dtype, value, s)
                case ("cast", to):
                    value, dtype = scalar.cast(b, value, dtype, to), to
        return value


def emit_avg_pool(k: Kernel, x: View, node_attr, out: View) -> None:
    """avg_pool2d: sum each window's in-image cells; padding counts in the divisor only if asked."""
    (kh, kw), (sh, sw), (top, left, _, _) = node_attr("kernel"), node_attr("strides"), node_attr("pads")
    h, w = x.shape[2:]
    b = k.b
    acc = entry_alloca(b, F32)
    count = entry_alloca(b, I64, "count")
    with k.take(math.prod(out.shape[:2]), name="nc") as nc:
        n, c = unflatten(b, nc, out.shape[:2])
        with loop_nest(b, out.shape[2:], name="s") as (oh, ow):
            b.store(ir.Constant(F32, 0.0), acc)
            b.store(i64(0), count)
            with loop_nest(b, (kh, kw), name="r") as (r, s):
                ih = b.sub(b.add(b.mul(oh, i64(sh)), r), i64(top))
                iw = b.sub(b.add(b.mul(ow, i64(sw)), s), i64(left))
                inside = b.and_(_in(b, ih, h), _in(b, iw, w))
                with if_then(b, inside, "inside"):
                    b.store(b.fadd(b.load(acc), load(k, x, [n, c, ih, iw])), acc)
                    b.store(b.add(b.load(count), i64(1)), count)
            b.store(_average(b, acc, count, kh * kw, node_attr), k.address(out, [n, c, oh, ow]))


def _in(b: ir.IRBuilder, index: ir.Value, size: int) -> ir.Value:
    return b.and_(b.icmp_signed(">=", index, i64(0)), b.icmp_signed("<", index, i64(size)))


def _average(b: ir.IRBuilder, acc: ir.Value, count: ir.Value, window: int, node_attr) -> ir.Value:
    divisor = (ir.Constant(F32, float(window)) if node_attr("count_include_pad")
               else b.sitofp(b.load(count), F32))
    return b.fdiv(b.load(acc), divisor)
