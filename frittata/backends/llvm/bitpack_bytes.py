"""`bitpack` of 8-bit values into 64-bit words with the positions in vector lanes: 32 positions of
one channel are one AVX2 vector of bytes, so a channel's bit costs a shift, an AND and an OR per
32 positions, and 8 such byte vectors transpose by unpacks into the positions' words.

x is read as [outer, C, inner] (C the packed axis, inner the positions after it, contiguous) and
out written as [outer, inner, bits, words]. Each item is BYTE_CHUNK consecutive positions of one
word of one outer index:

    for plane j:  acc[q] = Σ_{i < 8} ((x[o, 64 w + 8 q + i, p0 : p0 + 32] >> j) & 1) << i   (bytes)
                  out[o, p0 + p, j, w] = bytes acc[0][p], ..., acc[7][p]            (`transposed`)

The last chunk of a run that is not a multiple of BYTE_CHUNK starts BYTE_CHUNK before the run's
end and stores only the positions past the previous chunk (a masked tail: no read past the run,
no position written twice); the last word takes only the channels left (zero bits past C).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from llvmlite import ir

from frittata.backends.llvm.bitserial_byte_staging import transposed
from frittata.backends.llvm.irutil import element_ptr, entry_alloca, for_range, i64, ltype, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View, row_major
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.term import Term

BYTE_CHUNK = 32
"""Positions packed at once: the bytes of one AVX2 vector."""
WORD = WORD_BITS["int64"]
BYTE_CHANNELS = 8
"""Channels one byte of a word packs (one a bit): byte q of word w holds channels 64 w + 8 q + i."""
WORD_BYTES = WORD // BYTE_CHANNELS
"""Bytes of a word, each packed as one byte vector and transposed with the others."""
BYTE_VECTOR = ir.VectorType(ir.IntType(8), BYTE_CHUNK)
MAX_PLANES = 4
"""Planes packed this way at most (a low-bit network's activations have 1 to 4 bits): each
plane's transpose and stores are code of their own, which LLVM takes ~0.2 s per plane to build."""


def packs_byte_lanes(t: Term, x: View, out: View) -> bool:
    """Whether this kernel packs `t`: 8-bit values into int64 words, at most MAX_PLANES planes,
    both tensors row-major, at least BYTE_CHUNK contiguous positions after the axis."""
    where = t.attr("axis")
    return (ltype(x.dtype).width == 8 and t.dtype == "int64" and t.attr("bits") <= MAX_PLANES and x.bounds is None
            and x.strides == row_major(x.shape) and out.bounds is None and out.strides == row_major(out.shape)
            and math.prod(x.shape[where + 1:]) >= BYTE_CHUNK)


def lower_bitpack_bytes(k: Kernel, t: Term, x: View, out: View) -> None:
    """Emit `t` (see the module docstring); the threads take the items from the work counter."""
    b, where = k.b, t.attr("axis")
    channels, inner = x.shape[where], math.prod(x.shape[where + 1:])
    outer, words = math.prod(x.shape[:where]), t.shape[-1]
    chunks, tail = -(-inner // BYTE_CHUNK), inner % BYTE_CHUNK
    last = channels - (words - 1) * WORD
    with k.take(outer * words * chunks, name="chunk") as item:
        o, word, chunk = unflatten(b, item, (outer, words, chunks))

        def columns(span: tuple[ir.Value, int]) -> None:
            def body(count: int) -> None:
                _pack_chunk(k, t, x, out, (o, word, span[0]), span[1], count)
            _either(b, b.icmp_signed("==", word, i64(words - 1)) if last < WORD else None, last, WORD, body)

        _either(b, b.icmp_signed("==", chunk, i64(chunks - 1)) if tail else None,
                (i64(inner - BYTE_CHUNK), BYTE_CHUNK - tail), (b.mul(chunk, i64(BYTE_CHUNK)), 0), columns)


def _either(b: ir.IRBuilder, condition: ir.Value | None, then, otherwise, emit: Callable) -> None:
    """emit(then) where `condition` holds and emit(otherwise) elsewhere (no branch without one)."""
    if condition is None:
        emit(otherwise)
        return
    with b.if_else(condition) as (yes, no):
        with yes:
            emit(then)
        with no:
            emit(otherwise)


def _pack_chunk(k: Kernel, t: Term, x: View, out: View, at: tuple, skip: int, count: int) -> None:
    """The words of positions first + skip .. first + BYTE_CHUNK of word `word` of outer index o
    (at = (o, word, first)) from its first `count` channels: a loop over the word's bytes
    (BYTE_CHANNELS each, unrolled; each channel's vector loaded once for all planes), each plane's
    byte vectors kept in a stack array until their transpose (the rest of the array zero)."""
    b, where, bits = k.b, t.attr("axis"), t.attr("bits")
    o, word, first = at
    channels, inner = x.shape[where], math.prod(x.shape[where + 1:])
    source = k.base(x.buf)
    plane0 = b.add(b.mul(b.add(b.mul(o, i64(channels)), b.mul(word, i64(WORD))), i64(inner)), i64(x.offset))
    base = b.add(plane0, first)
    slots = entry_alloca(b, BYTE_VECTOR, "bytes", WORD_BYTES * bits)

    def slot(plane: int, q: ir.Value) -> ir.Value:
        return b.gep(slots, [b.add(i64(WORD_BYTES * plane), q)], source_etype=BYTE_VECTOR)

    def gather(q: ir.Value, members: int) -> None:
        acc = [ir.Constant(BYTE_VECTOR, None)] * bits
        for i in range(members):
            c = b.add(b.mul(q, i64(BYTE_CHANNELS)), i64(i))
            value = b.load(element_ptr(b, source, x.dtype, b.add(base, b.mul(c, i64(inner)))), typ=BYTE_VECTOR,
                           align=1)
            for plane in range(bits):
                bit = b.and_(b.lshr(value, _bytes(plane)) if plane else value, _bytes(1))
                acc[plane] = b.or_(acc[plane], b.shl(bit, _bytes(i)) if i else bit)
        for plane in range(bits):
            b.store(acc[plane], slot(plane, q))

    with for_range(b, 0, count // BYTE_CHANNELS, name="byte") as q:
        gather(q, BYTE_CHANNELS)
    if count % BYTE_CHANNELS:
        gather(i64(count // BYTE_CHANNELS), count % BYTE_CHANNELS)
    for plane in range(bits):
        for q in range(-(-count // BYTE_CHANNELS), WORD_BYTES):
            b.store(ir.Constant(BYTE_VECTOR, None), slot(plane, i64(q)))
        vectors = [b.load(slot(plane, i64(q))) for q in range(WORD_BYTES)]
        _store_words(k, t, out, (o, word, first, i64(plane)), skip, vectors)


def _store_words(k: Kernel, t: Term, out: View, at: tuple, skip: int, acc: list[ir.Value]) -> None:
    """Each position's 8 bytes (byte q from acc[q]) stored as out[o, first + p, plane, word],
    positions p >= skip."""
    b, (o, word, first, plane) = k.b, at
    bits, words = t.attr("bits"), t.shape[-1]
    positions = math.prod(out.shape[:-2]) // _outer(t)
    target = k.base(out.buf)
    row = b.add(b.mul(o, i64(positions)), first)
    for vector, lanes in transposed(b, acc):
        for lane, p in enumerate(lanes):
            if p < skip:
                continue
            offset = b.add(b.mul(b.add(b.mul(b.add(row, i64(p)), i64(bits)), plane), i64(words)), word)
            value = b.extract_element(vector, ir.Constant(ir.IntType(32), lane))
            b.store(value, element_ptr(b, target, "int64", b.add(offset, i64(out.offset))), align=8)


def _outer(t: Term) -> int:
    """The product of the axes before the packed one."""
    return math.prod(t.args[0].shape[:t.attr("axis")])


def _bytes(n: int) -> ir.Constant:
    return ir.Constant(BYTE_VECTOR, [n] * BYTE_CHUNK)
