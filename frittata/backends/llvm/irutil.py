"""Structured LLVM IR emission helpers: types, loops and branches as context managers.

Every loop helper makes the same blocks:

    pre ─► cond ──(i < stop)──► body ─► latch ─► cond
            └──────(else)─────► end

with the induction variable a phi in `cond`; the builder is left at the start of `end`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from llvmlite import ir

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

LLVM_TYPES = {"float16": I16, "float32": F32, "float64": F64, "int8": I8, "uint8": I8, "int16": I16, "uint16": I16,
              "int32": I32, "uint32": I32, "int64": I64, "uint64": I64, "bool": I8}
"""Every dtype's storage type; float16 is stored as its bits (the `half` module converts)."""
FLOAT_SUFFIX = {F32: "f32", F64: "f64"}
"""The overload suffix of a float type in intrinsic names (llvm.sqrt.f64, say)."""


def ltype(dtype: str) -> ir.Type:
    """The LLVM type of a stored element of `dtype` (bool is a byte holding 0 or 1)."""
    return LLVM_TYPES[dtype]


def is_float_type(ty: ir.Type) -> bool:
    return ty in FLOAT_SUFFIX


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, int(value))


def const(dtype: str, value) -> ir.Constant:
    """A constant of `dtype` (floats exactly as numpy rounds them to the dtype)."""
    if dtype == "float16":
        return ir.Constant(I16, int(np.array(value, np.float16).view(np.uint16)))
    if dtype in ("float32", "float64"):
        return ir.Constant(ltype(dtype), float(np.array(value, dtype)))
    if dtype == "bool":
        return ir.Constant(I8, int(bool(value)))
    bits = ltype(dtype).width
    return ir.Constant(ltype(dtype), int(value) & ((1 << bits) - 1))


def as_i64(b: ir.IRBuilder, value) -> ir.Value:
    return i64(value) if isinstance(value, int) else value


@contextmanager
def for_range(b: ir.IRBuilder, start, stop, step: int = 1, name: str = "i") -> Iterator[ir.Value]:
    """`for i in range(start, stop, step)` over i64 (step > 0); yields the induction variable."""
    start, stop = as_i64(b, start), as_i64(b, stop)
    pre = b.block
    cond = b.append_basic_block(f"{name}.cond")
    body = b.append_basic_block(f"{name}.body")
    end = b.append_basic_block(f"{name}.end")
    b.branch(cond)
    b.position_at_end(cond)
    index = b.phi(I64, name=name)
    index.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", index, stop), body, end)
    b.position_at_end(body)
    yield index
    index.add_incoming(b.add(index, i64(step), name=f"{name}.next"), b.block)
    b.branch(cond)
    b.position_at_end(end)


@contextmanager
def loop_nest(b: ir.IRBuilder, bounds: Sequence, name: str = "d") -> Iterator[list[ir.Value]]:
    """Nested `for_range(0, n)` loops, outermost first; yields the list of indices."""
    with _nest(b, list(bounds), name, []) as indices:
        yield indices


@contextmanager
def _nest(b: ir.IRBuilder, bounds: list, name: str, acc: list) -> Iterator[list[ir.Value]]:
    if not bounds:
        yield acc
        return
    with for_range(b, 0, bounds[0], name=f"{name}{len(acc)}") as index:
        with _nest(b, bounds[1:], name, acc + [index]) as indices:
            yield indices


@contextmanager
def if_then(b: ir.IRBuilder, pred: ir.Value, name: str = "if") -> Iterator[None]:
    """Blocks: cur ─(pred)─► then ─► end; cur ─(else)─► end."""
    then = b.append_basic_block(f"{name}.then")
    end = b.append_basic_block(f"{name}.end")
    b.cbranch(pred, then, end)
    b.position_at_end(then)
    yield
    b.branch(end)
    b.position_at_end(end)


def entry_alloca(b: ir.IRBuilder, ty: ir.Type, name: str = "acc", count: int = 1) -> ir.Value:
    """An alloca in the function's entry block (promoted to a register by mem2reg; `count`
    elements: an array on the stack)."""
    saved = b.block
    entry = b.function.entry_basic_block
    if entry.instructions:
        b.position_before(entry.instructions[0])
    else:
        b.position_at_end(entry)
    slot = b.alloca(ty, size=i64(count) if count > 1 else None, name=name)
    b.position_at_end(saved)
    return slot


def element_ptr(b: ir.IRBuilder, base: ir.Value, dtype: str, offset: ir.Value) -> ir.Value:
    """Address of element `offset` (i64, in elements) of a `dtype` array at `base`."""
    return b.gep(base, [offset], source_etype=ltype(dtype), inbounds=True)


def unflatten(b: ir.IRBuilder, flat: ir.Value, shape: tuple[int, ...]) -> list[ir.Value]:
    """Row-major multi-index of `flat` in `shape`."""
    indices = []
    for dim in reversed(shape):
        indices.append(b.urem(flat, i64(dim)))
        flat = b.udiv(flat, i64(dim))
    return list(reversed(indices))


def intrinsic(module: ir.Module, name: str, ret: ir.Type, args: Sequence[ir.Type],
              var_arg: bool = False) -> ir.Function:
    """Declare (once) an external function or LLVM intrinsic by its exact name."""
    if name in module.globals:
        return module.globals[name]
    return ir.Function(module, ir.FunctionType(ret, list(args), var_arg=var_arg), name=name)


def smin(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """The smaller of two signed integers."""
    return b.select(b.icmp_signed("<", x, y), x, y)


def smax(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """The larger of two signed integers."""
    return b.select(b.icmp_signed(">", x, y), x, y)


def zero_floats(b: ir.IRBuilder, dst: ir.Value, floats: int) -> None:
    """Zero `floats` float32s from `dst` (one `llvm.memset`; nothing when `floats` is 0)."""
    if floats:
        memset = intrinsic(b.module, "llvm.memset.p0.i64", VOID, [PTR, I8, I64, I1])
        b.call(memset, [dst, ir.Constant(I8, 0), i64(4 * floats), ir.Constant(I1, 0)])


def copy_floats(b: ir.IRBuilder, dst: ir.Value, src: ir.Value, floats: int) -> None:
    """Copy `floats` float32s from `src` to `dst`, which do not overlap (one `llvm.memcpy`; a
    kernel compiled without loop vectorization would copy a loop one float at a time)."""
    if floats:
        memcpy = intrinsic(b.module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
        b.call(memcpy, [dst, src, i64(4 * floats), ir.Constant(I1, 0)])


def thread_range(b: ir.IRBuilder, total, tid: ir.Value, nthreads: ir.Value) -> tuple[ir.Value, ir.Value]:
    """This thread's share [lo, hi) of range(total): contiguous, balanced chunks."""
    total = as_i64(b, total)
    t, n = b.sext(tid, I64), b.sext(nthreads, I64)
    lo = b.sdiv(b.mul(total, t), n, name="lo")
    hi = b.sdiv(b.mul(total, b.add(t, i64(1))), n, name="hi")
    return lo, hi
