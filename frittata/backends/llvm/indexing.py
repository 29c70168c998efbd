"""Kernels of the run-time indexing ops (take, gather_elements, gather_nd, scatter_elements,
scatter_nd, one_hot), with every index checked before any access.

    check:  first = -1;  for j in all indices:  if first < 0 and not -n_j <= idx[j] < n_j:  first = j
            if tid == 0:  status = {first >= 0, idx[first], first, n_first}
            if first < 0:  <the op's loops>

Every thread scans all the indices (they are few beside the data they move), so all threads
agree on the outcome without a barrier, and no out-of-range index is ever used as an address;
the caller reads the status record after the kernel returns (`STATUS_WORDS` int64 in the arena,
one per call) and raises `RuntimeInputError`. A negative index in range counts from the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.expr import load
from frittata.backends.llvm.irutil import (I1, I64, PTR, VOID, element_ptr, entry_alloca, for_range, i64, if_then,
                                           intrinsic, loop_nest, ltype)
from frittata.backends.llvm.irutil import const as llconst
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.scalar import binary, cast, widen
from frittata.backends.llvm.views import View, broadcast_to, row_major
from frittata.terms.ops import Op
from frittata.terms.term import Term

STATUS_WORDS = 4
"""int64 words of a status record: failed (0/1), the bad index, its flat position, the bound."""


def check_message(t: Term) -> list:
    """What the runtime needs to report a failed check of step `t`: the op (take_add names the
    take of its expansion, as the interpreter does), what the indices address, and the indices'
    shape (to turn a flat position into an index)."""
    data, indices = t.args[0].type, t.args[1].type
    if t.op in (Op.GATHER_ND, Op.SCATTER_ND):
        what = f"data {data}"
    else:
        what = f"axis {t.attr('axis')} of data {data}"
    return ["take" if t.op == Op.TAKE_ADD else t.op.value, what, list(indices.shape)]


def index_bounds(t: Term) -> tuple[int, ...]:
    """The bound of flat index position j is bounds[j % len(bounds)]."""
    data, indices = t.args[0].type, t.args[1].type
    if t.op == Op.GATHER_ND:
        batch = t.attr("batch_dims")
        return data.shape[batch:batch + indices.shape[-1]]
    if t.op == Op.SCATTER_ND:
        return data.shape[:indices.shape[-1]]
    return (data.shape[t.attr("axis")],)


def _index(k: Kernel, indices: View, flat: ir.Value) -> ir.Value:
    """Element `flat` of the contiguous `indices`, as i64."""
    ptr = element_ptr(k.b, k.base(indices.buf), indices.dtype, k.b.add(i64(indices.offset), flat))
    return widen(k.b, k.b.load(ptr, typ=ltype(indices.dtype)), indices.dtype)


def _integer(k: Kernel, indices: View, flat: ir.Value) -> ir.Value:
    """Element `flat` of contiguous integer or float `indices`, as i64 (floats truncated)."""
    if indices.dtype != "float32":
        return _index(k, indices, flat)
    value = k.b.load(_at(k, indices, flat), typ=ltype(indices.dtype))
    return cast(k.b, value, "float32", "int64")


def _bound_at(k: Kernel, bounds: tuple[int, ...], flat: ir.Value) -> ir.Value:
    """bounds[flat % len(bounds)] as an i64 value."""
    b = k.b
    if len(set(bounds)) == 1:
        return i64(bounds[0])
    which = b.urem(flat, i64(len(bounds)))
    value = i64(bounds[-1])
    for i in reversed(range(len(bounds) - 1)):
        value = b.select(b.icmp_signed("==", which, i64(i)), i64(bounds[i]), value)
    return value


def check(k: Kernel, indices: View, bounds: tuple[int, ...], status: View) -> ir.Value:
    """Scan every index; thread 0 writes the status record. Returns an i1: all in range."""
    b = k.b
    first = entry_alloca(b, I64, "first_bad")
    b.store(i64(-1), first)
    count = math.prod(indices.shape)
    with for_range(b, 0, count, name="chk") as j:
        value, bound = _index(k, indices, j), _bound_at(k, bounds, j)
        outside = b.or_(b.icmp_signed("<", value, b.neg(bound)), b.icmp_signed(">=", value, bound))
        fresh = b.icmp_signed("<", b.load(first, typ=I64), i64(0))
        with if_then(b, b.and_(outside, fresh), "bad"):
            b.store(j, first)
    at = b.load(first, typ=I64)
    ok = b.icmp_signed("<", at, i64(0))
    with if_then(b, b.icmp_signed("==", k.tid, ir.Constant(k.tid.type, 0)), "report"):
        safe = b.select(ok, i64(0), at)
        value = b.select(ok, i64(0), _index(k, indices, safe)) if count else i64(0)
        words = [b.zext(b.not_(ok), I64), value, at, _bound_at(k, bounds, safe)]
        for w, word in enumerate(words):
            b.store(word, k.address(status, [i64(w)]))
    return ok


def _wrapped(k: Kernel, value: ir.Value, bound) -> ir.Value:
    """A checked index in [-n, n) as its position in [0, n)."""
    b = k.b
    return b.select(b.icmp_signed("<", value, i64(0)), b.add(value, bound), value)


def _memcpy(k: Kernel, dst: ir.Value, src: ir.Value, nbytes: int) -> None:
    copy = intrinsic(k.module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
    k.b.call(copy, [dst, src, i64(nbytes), ir.Constant(I1, 0)])


def _at(k: Kernel, view: View, flat: ir.Value) -> ir.Value:
    """Address of element `flat` of a contiguous view."""
    return element_ptr(k.b, k.base(view.buf), view.dtype, k.b.add(i64(view.offset), flat))


def emit_take(k: Kernel, data: View, indices: View, axis: int, out: View, status: View) -> None:
    """out[p, j, q] = data[p, idx[j], q]: one row copy (memcpy of the trailing axes) per (p, j)."""
    pre, n, post = math.prod(data.shape[:axis]), data.shape[axis], math.prod(data.shape[axis + 1:])
    m, size = math.prod(indices.shape), post * _itemsize(data.dtype)
    b = k.b
    with if_then(b, check(k, indices, (n,), status), "ok"):
        with k.take(pre * m, name="r") as r:
            p, j = b.sdiv(r, i64(m)), b.srem(r, i64(m))
            row = _wrapped(k, _index(k, indices, j), i64(n))
            source = b.mul(b.add(b.mul(p, i64(n)), row), i64(post))
            _memcpy(k, _at(k, out, b.mul(r, i64(post))), _at(k, data, source), size)


def emit_take_add(k: Kernel, data: View, indices: View, addend: View, axis: int, out: View, status: View) -> None:
    """out[p, j, q] = data[p, idx[j], q] + addend[p, j, q] (the addend broadcast), one pass."""
    b = k.b
    n, ranked = data.shape[axis], len(indices.shape)
    shape, strides = out.shape, row_major(indices.shape)
    bias = broadcast_to(addend, shape)
    with if_then(b, check(k, indices, (n,), status), "ok"):
        with _shared_nest(k, shape) as at:
            position = _dot(k, at[axis:axis + ranked], strides)
            source = at[:axis] + [_wrapped(k, _index(k, indices, position), i64(n))] + at[axis + ranked:]
            total = binary(b, Op.ADD, data.dtype, load(k, data, source), load(k, bias, at))
            b.store(total, k.address(out, at))


@contextmanager
def _shared_nest(k: Kernel, shape: tuple[int, ...]) -> Iterator[list[ir.Value]]:
    """The loops over `shape`, axis 0 shared out in chunks (a rank-0 shape: no loop, thread 0)."""
    if not shape:
        with if_then(k.b, k.b.icmp_signed("==", k.tid, ir.Constant(k.tid.type, 0)), "scalar"):
            yield []
        return
    with k.take(shape[0], name="p") as outer:
        with loop_nest(k.b, shape[1:]) as inner:
            yield [outer] + inner


def emit_gather_elements(k: Kernel, data: View, indices: View, axis: int, out: View, status: View) -> None:
    """out[i] = data[i with axis `axis` replaced by idx[i]], over the indices' shape."""
    b = k.b
    n, shape, strides = data.shape[axis], indices.shape, row_major(indices.shape)
    with if_then(b, check(k, indices, (n,), status), "ok"):
        with k.take(shape[0], name="p") as outer:
            with loop_nest(b, shape[1:]) as inner:
                at = [outer] + inner
                flat = _dot(k, at, strides)
                source = list(at)
                source[axis] = _wrapped(k, _index(k, indices, flat), i64(n))
                b.store(load(k, data, source), _at(k, out, flat))


def emit_gather_nd(k: Kernel, data: View, indices: View, batch: int, out: View, status: View) -> None:
    """For each batch b and index row r: out[b, r, :] = data[b, idx[b, r, 0], ..., idx[b, r, d-1], :]."""
    b = k.b
    depth = indices.shape[-1]
    lead, rows = math.prod(indices.shape[:batch]), math.prod(indices.shape[batch:-1])
    inner_shape = data.shape[batch:]
    size = math.prod(inner_shape[depth:])
    strides = row_major(inner_shape)[:depth]
    bounds = inner_shape[:depth]
    with if_then(b, check(k, indices, bounds, status), "ok"):
        with k.take(lead * rows, name="r") as r:
            batch_base = b.mul(b.sdiv(r, i64(rows)), i64(math.prod(inner_shape)))
            source = _row_offset(k, indices, r, bounds, strides, batch_base)
            _memcpy(k, _at(k, out, b.mul(r, i64(size))), _at(k, data, source), size * _itemsize(data.dtype))


def emit_scatter_elements(k: Kernel, data: View, indices: View, updates: View, axis: int, reduction: str,
                          out: View, status: View) -> None:
    """out = data; then (thread 0, in index order) out[i with axis replaced by idx[i]] = / += updates[i]."""
    b = k.b
    n, shape = data.shape[axis], indices.shape
    out_strides, strides = row_major(data.shape), row_major(shape)
    with if_then(b, check(k, indices, (n,), status), "ok"):
        _copy(k, data, out)
        with if_then(b, b.icmp_signed("==", k.tid, ir.Constant(k.tid.type, 0)), "serial"):
            with loop_nest(b, shape) as at:
                flat = _dot(k, at, strides)
                target = list(at)
                target[axis] = _wrapped(k, _index(k, indices, flat), i64(n))
                _update(k, _at(k, out, _dot(k, target, out_strides)), _at(k, updates, flat), data.dtype, reduction)


def emit_scatter_nd(k: Kernel, data: View, indices: View, updates: View, reduction: str, out: View,
                    status: View) -> None:
    """out = data; then (thread 0, in row order) out[idx[r], :] = / += updates[r, :]."""
    b = k.b
    depth = indices.shape[-1]
    rows, size = math.prod(indices.shape[:-1]), math.prod(data.shape[depth:])
    bounds, strides = data.shape[:depth], row_major(data.shape)[:depth]
    with if_then(b, check(k, indices, bounds, status), "ok"):
        _copy(k, data, out)
        with if_then(b, b.icmp_signed("==", k.tid, ir.Constant(k.tid.type, 0)), "serial"):
            with for_range(b, 0, rows, name="r") as r:
                target = _row_offset(k, indices, r, bounds, strides, i64(0))
                with for_range(b, 0, size, name="s") as s:
                    source = b.add(b.mul(r, i64(size)), s)
                    _update(k, _at(k, out, b.add(target, s)), _at(k, updates, source), data.dtype, reduction)


def emit_one_hot(k: Kernel, indices: View, depth: int, axis: int, off, on, out: View) -> None:
    """out[p, d, q] = on if wrap(idx[p, q]) == d else off; an index outside [-depth, depth) matches no d."""
    b = k.b
    pre, post = math.prod(indices.shape[:axis]), math.prod(indices.shape[axis:])
    with k.take(pre, name="p") as p:
        with for_range(b, 0, post, name="q") as q:
            value = _integer(k, indices, b.add(b.mul(p, i64(post)), q))
            wrapped = b.select(b.icmp_signed("<", value, i64(0)), b.add(value, i64(depth)), value)
            with for_range(b, 0, depth, name="d") as d:
                hot = b.icmp_signed("==", wrapped, d)
                value_out = b.select(hot, llconst(out.dtype, on), llconst(out.dtype, off))
                flat = b.add(b.mul(b.add(b.mul(p, i64(depth)), d), i64(post)), q)
                b.store(value_out, _at(k, out, flat))


def _row_offset(k: Kernel, indices: View, r: ir.Value, bounds: tuple[int, ...], strides: tuple[int, ...],
                base: ir.Value) -> ir.Value:
    """base + sum_t wrap(idx[r, t]) * strides[t], over the `len(bounds)` entries of index row r."""
    b = k.b
    offset = base
    for t, (bound, stride) in enumerate(zip(bounds, strides)):
        value = _index(k, indices, b.add(b.mul(r, i64(len(bounds))), i64(t)))
        offset = b.add(offset, b.mul(_wrapped(k, value, i64(bound)), i64(stride)))
    return offset


def _copy(k: Kernel, data: View, out: View) -> None:
    """out = data (contiguous, same shape), shared out in chunks, then a barrier."""
    b = k.b
    total = math.prod(data.shape)
    with k.take(total, name="c") as i:
        b.store(b.load(_at(k, data, i), typ=ltype(data.dtype)), _at(k, out, i))
    k.sync()


COMBINE = {"add": Op.ADD, "mul": Op.MUL, "max": Op.MAXIMUM, "min": Op.MINIMUM}
"""The elementwise op a scatter reduction folds each update in with."""


def _update(k: Kernel, target: ir.Value, source: ir.Value, dtype: str, reduction: str) -> None:
    b = k.b
    value = b.load(source, typ=ltype(dtype))
    if reduction != "none":
        value = binary(b, COMBINE[reduction], dtype, b.load(target, typ=ltype(dtype)), value)
    b.store(value, target)


def _dot(k: Kernel, at: list[ir.Value], strides: tuple[int, ...]) -> ir.Value:
    offset = i64(0)
    for index, stride in zip(at, strides):
        offset = k.b.add(offset, k.b.mul(index, i64(stride)))
    return offset


def _itemsize(dtype: str) -> int:
    return np.dtype(dtype).itemsize


def emit(k: Kernel, t: Term, args: list[View], out: View, status: View | None) -> None:
    """The kernel of indexing step `t` (take_add too); `status` is its record (every op but
    one_hot has one)."""
    if t.op == Op.ONE_HOT:
        axis = t.attr("axis") % (t.args[0].type.rank + 1)
        emit_one_hot(k, args[0], t.attr("depth"), axis, t.attr("off"), t.attr("on"), out)
        return
    assert status is not None, f"{t.op} checks its indices and needs a status record"
    match t.op:
        case Op.TAKE:
            emit_take(k, args[0], args[1], t.attr("axis"), out, status)
        case Op.TAKE_ADD:
            emit_take_add(k, args[0], args[1], args[2], t.attr("axis"), out, status)
        case Op.GATHER_ELEMENTS:
            emit_gather_elements(k, args[0], args[1], t.attr("axis"), out, status)
        case Op.GATHER_ND:
            emit_gather_nd(k, args[0], args[1], t.attr("batch_dims"), out, status)
        case Op.SCATTER_ELEMENTS:
            emit_scatter_elements(k, args[0], args[1], args[2], t.attr("axis"), t.attr("reduction"), out, status)
        case _:
            emit_scatter_nd(k, args[0], args[1], args[2], t.attr("reduction"), out, status)
