"""Data movement that is not a single strided view: concat (its operands in one loop) and gather.

    concat:  for p in the chunks this thread takes:  for each operand i the chunk spans:
                 out[..., off_i + j, ...] = x_i[..., j, ...]   (`expr.emit_maps`)
    gather:  for p in the chunks this thread takes:  for j:  for q:  out[p, j, q] = x[p, table[j], q]
"""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm.expr import Leaf, emit_maps, load
from frittata.backends.llvm.irutil import I64, for_range, i64
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View


def emit_concat(k: Kernel, parts: list[View], axis: int, out: View) -> None:
    """out = the `parts` joined along `axis`: each part is a map into its slice of `out`, and
    the maps share one loop (`expr.emit_maps`), so the work counter is taken from once."""
    maps = []
    offset = 0
    for part in parts:
        target = View(out.buf, part.shape, out.offset + offset * out.strides[axis], out.strides)
        maps.append((part.shape, target, Leaf(part)))
        offset += part.shape[axis]
    emit_maps(k, maps)


def emit_gather(k: Kernel, x: View, axis: int, indices: tuple[int, ...], out: View) -> None:
    pre, size, post = math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:])
    flat_x = View(x.buf, (pre, size, post), x.offset, (size * post, post, 1))
    flat_out = View(out.buf, (pre, len(indices), post), out.offset, (len(indices) * post, post, 1))
    table = _table(k, indices)
    b = k.b
    with k.take(pre, name="p") as p:
        with for_range(b, 0, len(indices), name="j") as j:
            row = b.load(b.gep(table, [i64(0), j], inbounds=True), typ=I64)
            with for_range(b, 0, post, name="q") as q:
                b.store(load(k, flat_x, [p, row, q]), k.address(flat_out, [p, j, q]))


def _table(k: Kernel, indices: tuple[int, ...]) -> ir.GlobalVariable:
    """A private constant i64 array holding the gather indices."""
    ty = ir.ArrayType(I64, len(indices))
    table = ir.GlobalVariable(k.module, ty, name=f"{k.function.name}.indices")
    table.global_constant = True
    table.linkage = "private"
    table.initializer = ir.Constant(ty, [int(i) for i in indices])
    return table
