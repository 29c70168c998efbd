"""Transposes that move the input's contiguous axis away from the last, in 8 x 8 register tiles.

A transpose is a copy through a permuted view (`lower`'s map); when the output's last axis q
walks the input with a stride, that map loads one element at a time (an attention block's
[1, 128, 4, 64] -> [1, 4, 64, 128] took 44 us on one AMD EPYC Zen 3 core, 1.3 ns an element).
Here the output is cut into 8 x 8 tiles over q and the axis p that the input walks contiguously:

    for each tile (the other axes, p0 in p step 8, q0 in q step 8; shared out in chunks):
        v_r = in[..., p0:p0+8 (contiguous), q0 + r]   for r < 8      (8 vector loads)
        w_c = lane c of every v_r                       for c < 8      (unpack, shuffle, 128-bit swap)
        out[..., p0 + c, q0:q0+8 (contiguous)] = w_c                    (8 vector stores)

Only when 8 divides both extents, for 4-byte elements; anything else keeps the map.
"""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm.irutil import I32, i64, ltype, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View, collapse

TILE = 8
"""Lanes of a tile's vectors and rows per tile: one 256-bit register of 4-byte elements."""

FOUR_BYTE = frozenset({"float32", "int32", "uint32"})


def tiled(out: View, moved: View) -> tuple[View, View, int] | None:
    """The collapsed (out, in) views and the axis p the input walks contiguously, when this
    transpose runs in tiles (see the module docstring), else None."""
    if moved.dtype not in FOUR_BYTE or moved.bounds is not None:
        return None
    shape, (o, i) = collapse(out.shape, [out, moved])
    if len(shape) < 2 or o.strides[-1] != 1 or i.strides[-1] == 1 or shape[-1] % TILE:
        return None
    p = next((d for d in range(len(shape) - 1) if i.strides[d] == 1), None)
    if p is None or shape[p] % TILE:
        return None
    return o, i, p


def emit(k: Kernel, out: View, moved: View, p: int) -> None:
    """out = moved, tile by tile (`tiled`'s views and axis)."""
    b = k.b
    q = len(out.shape) - 1
    counts = tuple(n // TILE if d in (p, q) else n for d, n in enumerate(out.shape))
    vec = ir.VectorType(ltype(moved.dtype), TILE)
    with k.take(math.prod(counts), name="tile") as item:
        idx = unflatten(b, item, counts)
        idx[p], idx[q] = b.mul(idx[p], i64(TILE)), b.mul(idx[q], i64(TILE))
        rows = []
        for r in range(TILE):
            at = idx[:q] + [b.add(idx[q], i64(r))]
            rows.append(b.load(k.address(moved, at), typ=vec, align=4))
        for c, column in enumerate(_transposed(b, rows)):
            at = list(idx)
            at[p] = b.add(idx[p], i64(c))
            b.store(column, k.address(out, at), align=4)


def _shuffle(b: ir.IRBuilder, x: ir.Value, y: ir.Value, mask: list[int]) -> ir.Value:
    return b.shuffle_vector(x, y, ir.Constant(ir.VectorType(I32, len(mask)), mask))


UNPACK = ([0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15])
"""vunpcklps / vunpckhps: interleave the low (high) pairs of each 128-bit half."""
PAIRS = ([0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15])
"""vshufps 0x44 / 0xEE: the low (high) two-element pairs of each half, one from each operand."""
HALVES = ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15])
"""vperm2f128 0x20 / 0x31: the low (high) 128-bit halves of the two operands."""


def _transposed(b: ir.IRBuilder, rows: list[ir.Value]) -> list[ir.Value]:
    """The 8 columns of the 8 x 8 tile whose rows are `rows` (the AVX sequence: 24 shuffles)."""
    t = [_shuffle(b, rows[2 * i], rows[2 * i + 1], mask) for i in range(4) for mask in UNPACK]
    u = [_shuffle(b, t[base + j], t[base + j + 2], mask)
         for base in (0, 4) for j in range(2) for mask in PAIRS]
    return [_shuffle(b, u[j], u[j + 4], mask) for mask in HALVES for j in range(4)]
