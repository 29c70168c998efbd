"""Bit packing and unpacking lowered to LLVM IR (`bitpack` / `bitunpack`, see
frittata.terms.bitserial): the activations of a bit-serial layer are packed at run time."""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm.bitpack_bytes import lower_bitpack_bytes, packs_byte_lanes
from frittata.backends.llvm.irutil import I32, I64, entry_alloca, for_range, i64, ltype, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.views import View, transpose
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.term import Term


PIXELS = (8, 4)
"""Elements of the last other axis packed together when that axis is contiguous (the first of
these dividing it): one vector load of as many values per bit, their bits or-ed into as many
words per plane (8: one AVX2 register of i32 lanes)."""


def lower_bitpack(k: Kernel, t: Term, x: View, out: View) -> None:
    """8-bit values into 64-bit words in vector lanes (`bitpack_bytes`) where that applies;
    otherwise each thread packs a share of the output's words: per word, the W elements along the axis
    are read once (a clamped load and a select past the end) and each of their low bits is
    or-ed into its plane's word, kept in a register. Where the last other axis is contiguous
    (NCHW packed along C: the pixels of a row), PIXELS words of adjacent positions are packed
    at once from vector loads (elsewhere one word at a time, in scalars), their bits gathered
    in 32-bit lanes (a 64-bit word as two halves: a vector of 8 words is one AVX2 register per
    operation, not two)."""
    if packs_byte_lanes(t, x, out):
        lower_bitpack_bytes(k, t, x, out)
        return
    b = k.b
    where, bits, width = t.attr("axis"), t.attr("bits"), WORD_BITS[t.dtype]
    rank = len(x.shape)
    moved = transpose(x, tuple(i for i in range(rank) if i != where) + (where,))
    rest, words = moved.shape[:-1], t.shape[-1]
    contiguous = bool(rest) and moved.strides[len(rest) - 1] == 1 and x.bounds is None
    g = next((n for n in PIXELS if contiguous and rest[-1] % n == 0), 1)
    groups = rest[:-1] + (rest[-1] // g,) if rest else rest
    halves = 2 if g > 1 and width == 64 else 1
    lanes = ir.VectorType(I32, g) if g > 1 else I64
    planes = [[entry_alloca(b, lanes, "plane") for _ in range(halves)] for _ in range(bits)]
    with k.take(math.prod(groups) * words, name="word") as flat:
        *at, word = unflatten(b, flat, groups + (words,))
        if g > 1:
            at[-1] = b.mul(at[-1], i64(g))
        first = b.mul(word, i64(width))
        for half in range(halves):
            span = width // halves
            _gather_half(k, moved, at, b.add(first, i64(half * span)), span, [slots[half] for slots in planes])
        _store_words(k, out, at, word, planes, ltype(t.dtype))


def _gather_half(k: Kernel, moved: View, at: list, first, span: int, slots: list) -> None:
    """Or bit `plane` of the `span` elements from `first` along the last axis (zero past its end)
    into bit (element - first) of each plane's slot: a vector of i32 lanes (g pixels) or an i64."""
    b, lanes = k.b, slots[0].type.pointee
    g = lanes.count if isinstance(lanes, ir.VectorType) else 1
    lane = lanes.element if g > 1 else lanes
    source, zero = ltype(moved.dtype), ir.Constant(lanes, None)
    for slot in slots:
        b.store(zero, slot)
    with for_range(b, 0, span, name="bit") as bit:
        c = b.add(first, bit)
        inside = b.icmp_signed("<", c, i64(moved.shape[-1]))
        value = b.load(k.address(moved, at + [b.select(inside, c, i64(0))]),
                       typ=ir.VectorType(source, g) if g > 1 else source, align=1)
        if source.width < lane.width:
            value = b.sext(value, lanes)
        elif source.width > lane.width:
            value = b.trunc(value, lanes)
        value = b.select(inside, value, zero)
        shift = _splat(b, bit, g, lane)
        for plane, slot in enumerate(slots):
            one = b.and_(b.lshr(value, _splat(b, i64(plane), g, lane)), _splat(b, i64(1), g, lane))
            b.store(b.or_(b.load(slot), b.shl(one, shift)), slot)


def _store_words(k: Kernel, out: View, at: list, word, planes: list, word_type: ir.IntType) -> None:
    """Each plane's words (joined from their halves) stored at out[at + pixel][plane][word]."""
    b = k.b
    for plane, slots in enumerate(planes):
        lanes = slots[0].type.pointee
        g = lanes.count if isinstance(lanes, ir.VectorType) else 1
        packed = _joined(b, [b.load(slot) for slot in slots], g)
        for pixel in range(g):
            one = b.extract_element(packed, ir.Constant(I32, pixel)) if g > 1 else packed
            one = b.trunc(one, word_type) if word_type.width < one.type.width else one
            position = at[:-1] + [b.add(at[-1], i64(pixel))] if at else at
            b.store(one, k.address(out, position + [i64(plane), word]))


def _joined(b: ir.IRBuilder, halves: list, g: int):
    """One plane's words from their halves: itself, or low | high << 32 as g i64 lanes."""
    if len(halves) == 1:
        return halves[0]
    words = ir.VectorType(I64, g)
    low, high = (b.zext(half, words) for half in halves)
    return b.or_(low, b.shl(high, ir.Constant(words, [32] * g)))


def _splat(b: ir.IRBuilder, value: ir.Value, g: int, lane: ir.IntType) -> ir.Value:
    """An i64 truncated to `lane` in every lane of a g-lane vector (g = 1: the i64 scalar itself)."""
    if g == 1:
        return value
    if isinstance(value, ir.Constant):
        return ir.Constant(ir.VectorType(lane, g), [value.constant] * g)
    return splat(b, b.trunc(value, lane) if lane.width < 64 else value, g)


def lower_bitunpack(k: Kernel, t: Term, p: View, out: View) -> None:
    """Each output element from its bit of each plane: Σ_j bit_j 2^j (bipolar: 2v - (2^B - 1))."""
    b = k.b
    where, bits, width = t.attr("axis"), p.shape[-2], WORD_BITS[p.dtype]
    with k.take(math.prod(t.shape), name="e") as flat:
        index = unflatten(b, flat, t.shape)
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
