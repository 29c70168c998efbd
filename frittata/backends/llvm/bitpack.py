"""Bit packing and unpacking lowered to LLVM IR (`bitpack` / `bitunpack`, see
frittata.terms.bitserial): the activations of a bit-serial layer are packed at run time."""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm.irutil import I32, I64, entry_alloca, for_range, i64, ltype
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.reduce import _unflatten
from frittata.backends.llvm.views import View, transpose
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.term import Term


PIXELS = (8, 4)
"""Elements of the last other axis packed together when that axis is contiguous (the first of
these dividing it): one vector load of as many values per bit, their bits or-ed into as many
words per plane (8: two AVX2 registers)."""


def lower_bitpack(k: Kernel, t: Term, x: View, out: View) -> None:
    """Each thread packs a share of the output's words: per word, the W elements along the axis
    are read once (a clamped load and a select past the end) and each of their low bits is
    or-ed into its plane's word, kept in a register. Where the last other axis is contiguous
    (NCHW packed along C: the pixels of a row), PIXELS words of adjacent positions are packed
    at once from vector loads (elsewhere one word at a time, in scalars)."""
    b = k.b
    where, bits, width = t.attr("axis"), t.attr("bits"), WORD_BITS[t.dtype]
    rank = len(x.shape)
    moved = transpose(x, tuple(i for i in range(rank) if i != where) + (where,))
    rest, length, words = moved.shape[:-1], moved.shape[-1], t.shape[-1]
    contiguous = bool(rest) and moved.strides[len(rest) - 1] == 1 and x.bounds is None
    g = next((n for n in PIXELS if contiguous and rest[-1] % n == 0), 1)
    groups = rest[:-1] + (rest[-1] // g,) if rest else rest
    wide = ir.VectorType(I64, g) if g > 1 else I64
    zero = ir.Constant(wide, None) if g > 1 else i64(0)
    planes = [entry_alloca(b, wide, "plane") for _ in range(bits)]
    with k.take(math.prod(groups) * words, name="word") as flat:
        *at, word = _unflatten(b, flat, groups + (words,))
        if g > 1:
            at[-1] = b.mul(at[-1], i64(g))
        for slot in planes:
            b.store(zero, slot)
        with for_range(b, 0, width, name="bit") as bit:
            c = b.add(b.mul(word, i64(width)), bit)
            inside = b.icmp_signed("<", c, i64(length))
            value = b.load(k.address(moved, at + [b.select(inside, c, i64(0))]),
                           typ=ir.VectorType(ltype(x.dtype), g) if g > 1 else ltype(x.dtype), align=1)
            value = b.sext(value, wide) if ltype(x.dtype).width < 64 else value
            value = b.select(inside, value, zero)
            shift = _splat(b, bit, g)
            for plane, slot in enumerate(planes):
                one = b.and_(b.lshr(value, _splat(b, i64(plane), g)), _splat(b, i64(1), g))
                b.store(b.or_(b.load(slot), b.shl(one, shift)), slot)
        word_type = ltype(t.dtype)
        for plane, slot in enumerate(planes):
            packed = b.load(slot)
            for lane in range(g):
                one = b.extract_element(packed, ir.Constant(I32, lane)) if g > 1 else packed
                one = b.trunc(one, word_type) if word_type.width < 64 else one
                position = at[:-1] + [b.add(at[-1], i64(lane))] if at else at
                b.store(one, k.address(out, position + [i64(plane), word]))


def _splat(b: ir.IRBuilder, value: ir.Value, g: int) -> ir.Value:
    """An i64 in every lane of a g-lane vector (g = 1: the scalar itself)."""
    if g == 1:
        return value
    if isinstance(value, ir.Constant):
        return ir.Constant(ir.VectorType(I64, g), [value.constant] * g)
    return splat(b, value, g)


def lower_bitunpack(k: Kernel, t: Term, p: View, out: View) -> None:
    """Each output element from its bit of each plane: Σ_j bit_j 2^j (bipolar: 2v - (2^B - 1))."""
    b = k.b
    where, bits, width = t.attr("axis"), p.shape[-2], WORD_BITS[p.dtype]
    with k.take(math.prod(t.shape), name="e") as flat:
        index = _unflatten(b, flat, t.shape)
        element, rest = index[where], index[:where] + index[where + 1:]
        word, bit = b.udiv(element, i64(width)), b.urem(element, i64(width))
        value = i64(0)
        for j in range(bits):
            packed = b.load(k.address(p, rest + [i64(j), word]), typ=ltype(p.dtype))
            packed = b.zext(packed, I64) if ltype(p.dtype).width < 64 else packed
            value = b.or_(value, b.shl(b.and_(b.lshr(packed, bit), i64(1)), i64(j)))
        if t.attr("encoding") == "bipolar":
            value = b.sub(b.shl(value, i64(1)), i64((1 << bits) - 1))
        b.store(b.trunc(value, ltype(t.dtype)), k.address(out, index))
