"""Bit packing and unpacking lowered to LLVM IR (`bitpack` / `bitunpack`, see
frittata.terms.bitserial): the activations of a bit-serial layer are packed at run time."""

from __future__ import annotations

import math

from frittata.backends.llvm.irutil import I64, entry_alloca, for_range, i64, ltype
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.reduce import _unflatten
from frittata.backends.llvm.views import View, transpose
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.term import Term


def lower_bitpack(k: Kernel, t: Term, x: View, out: View) -> None:
    """Each thread packs a share of the output's pixels: per word, the W elements along the
    axis are read once (a clamped load and a select past the end) and each of their low bits
    is or-ed into its plane's word, kept in a register."""
    b = k.b
    where, bits, width = t.attr("axis"), t.attr("bits"), WORD_BITS[t.dtype]
    rank = len(x.shape)
    moved = transpose(x, tuple(i for i in range(rank) if i != where) + (where,))
    rest, length, words = moved.shape[:-1], moved.shape[-1], t.shape[-1]
    word_type = ltype(t.dtype)
    planes = [entry_alloca(b, I64, "plane") for _ in range(bits)]
    lo, hi = k.split(math.prod(rest) * words)
    with for_range(b, lo, hi, name="word") as flat:
        *at, word = _unflatten(b, flat, rest + (words,))
        for slot in planes:
            b.store(i64(0), slot)
        with for_range(b, 0, width, name="bit") as bit:
            c = b.add(b.mul(word, i64(width)), bit)
            inside = b.icmp_signed("<", c, i64(length))
            value = b.load(k.address(moved, at + [b.select(inside, c, i64(0))]), typ=ltype(x.dtype))
            value = b.select(inside, b.sext(value, I64) if ltype(x.dtype).width < 64 else value, i64(0))
            for plane, slot in enumerate(planes):
                one = b.and_(b.lshr(value, i64(plane)), i64(1))
                b.store(b.or_(b.load(slot), b.shl(one, bit)), slot)
        for plane, slot in enumerate(planes):
            packed = b.load(slot)
            packed = b.trunc(packed, word_type) if word_type.width < 64 else packed
            b.store(packed, k.address(out, at + [i64(plane), word]))


def lower_bitunpack(k: Kernel, t: Term, p: View, out: View) -> None:
    """Each output element from its bit of each plane: Σ_j bit_j 2^j (bipolar: 2v - (2^B - 1))."""
    b = k.b
    where, bits, width = t.attr("axis"), p.shape[-2], WORD_BITS[p.dtype]
    lo, hi = k.split(math.prod(t.shape))
    with for_range(b, lo, hi, name="e") as flat:
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
