"""Bit-serial conv2d / dense on packed words, and bit (un)packing, lowered to LLVM IR.

bitserial_conv2d(xp [N, H, W, A, K], wp [O, KH, KW, B, K]) -> out [N, O, OH, OW] (A activation
and B weight bit planes of K words); bitserial_dense is the same with H = W = KH = KW = 1.
Weights that are parameters are repacked at compile time into blocks of V output channels, the
V words of one (kh, kw, j, k) adjacent, so one vector load gives the words of V channels:

    wv[ob, kh, kw, j, k, v] = wp[ob*V + v, kh, kw, j, k]        (0 past O)

with V the 64-bit lanes of the target's vectors (4 with AVX2, 8 with AVX-512); computed weights
are read in place with V = 1 (the same layout). Each thread takes a share of the rows
(n, block group, oh, block) -- a group of channel blocks whose weights fit half of L1 is walked
over all output rows, each row's input rows staying in cache across the group -- and walks a
row in blocks of up to R pixels, each pixel's accumulator a vector; only the border columns,
whose window may leave the image, check the column of each load:

    acc[r] += ctpop(splat(x[n, ih, iw_r, i, k]) & wv[ob, kh, kw, j, k, :]) << (i + j)
    bipolar weights: out = 2 acc - (2^B - 1) Σ_{kh,kw,k,i} ctpop(x[n, ih, iw_r, i, k]) << i

(popcount(x & w) - popcount(x & ~w) = 2 popcount(x & w) - popcount(x)). Two popcount paths:

  * `llvm.ctpop` of the 64-bit lanes, which is VPOPCNTQ where the target has AVX512-VPOPCNTDQ
    (the AVX-512 kernels, V = 8) and LLVM's expansion elsewhere;
  * on AVX2 (V = 4 words of 64 bits) the nibble lookup: `llvm.ctpop.v32i8` (VPSHUFB of each
    half byte in a 16-entry table, added) per word pair, accumulated as byte counts per shift
    class c = i + j, and only every so many words (the whole window when at most 255 // 8
    words fit, else a kernel row, a tap or a word) summed by VPSADBW into the accumulators.

Pixels in the padding read as 0 words (a select after a clamped load), which contribute nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.expr import load
from frittata.backends.llvm.irutil import I64, element_ptr, entry_alloca, for_range, i64, if_then, intrinsic, ltype
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.reduce import _unflatten
from frittata.backends.llvm.views import View, contiguous, padded, transpose
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.ops import Op
from frittata.terms.term import Term

PIXELS = 4
"""R: output pixels of one row sharing each weight vector load (fewer where byte counters
would not leave the 16 AVX2 registers enough room)."""
BYTES = ir.VectorType(ir.IntType(8), 32)
WEIGHT_CACHE_BYTES = 16 * 1024
"""Weights of the channel blocks walked together over the rows: half of a 32 KiB L1 data
cache (Zen 3; 48 KiB on Sapphire Rapids), the other half for the input rows they read."""


@dataclass(frozen=True)
class Geometry:
    """The sizes of a bit-serial contraction seen as a convolution, and its channel block V."""

    n: int
    o: int
    oh: int
    ow: int
    kh: int
    kw: int
    a: int
    b: int
    words: int
    strides: tuple[int, int]
    dilations: tuple[int, int]
    v: int
    width: int
    left: int

    @property
    def interior(self) -> tuple[int, int]:
        """[lo, hi): the output columns whose window lies inside the image's columns."""
        sw, reach = self.strides[1], (self.kw - 1) * self.dilations[1]
        lo = min(-(-self.left // sw), self.ow)
        hi = min(self.ow, (self.width - 1 + self.left - reach) // sw + 1)
        return lo, max(lo, hi)

    @property
    def blocks(self) -> int:
        return -(-self.o // self.v)

    @classmethod
    def of(cls, t: Term, lanes: int) -> Geometry:
        x, w = t.args[0].type, t.args[1].type
        v = max(1, lanes // 2) if t.args[1].op == Op.PARAM else 1
        if t.op == Op.BITSERIAL_DENSE:
            m = x.size // (x.shape[-1] * x.shape[-2])
            return cls(m, w.shape[0], 1, 1, 1, 1, x.shape[-2], w.shape[-2], w.shape[-1], (1, 1), (1, 1), v, 1, 0)
        _, o, oh, ow = t.shape
        return cls(x.shape[0], o, oh, ow, w.shape[1], w.shape[2], x.shape[-2], w.shape[-2], w.shape[-1],
                   t.attr("strides"), t.attr("dilations"), v, x.shape[2], t.attr("pads")[1])


def repack(weights: np.ndarray, v: int) -> np.ndarray:
    """wp [O, KH, KW, B, K] as [ceil(O/V), KH, KW, B, K, V] (zeros past O)."""
    o = weights.shape[0]
    blocks = -(-o // v)
    padded_w = np.zeros((blocks * v,) + weights.shape[1:], weights.dtype)
    padded_w[:o] = weights
    return np.ascontiguousarray(np.moveaxis(padded_w.reshape((blocks, v) + weights.shape[1:]), 1, -1))


def _x_view(t: Term, x: View) -> View:
    """The packed activations as [N, H, W, A, K] with the convolution's zero padding."""
    if t.op == Op.BITSERIAL_DENSE:
        a, words = t.args[0].shape[-2:]
        return contiguous(x.buf, (x.buf.type.size // (a * words), 1, 1, a, words))
    top, left, bottom, right = t.attr("pads")
    return padded(x, ((0, 0), (top, bottom), (left, right), (0, 0), (0, 0)), 0)


def lower(k: Kernel, plan: Plan, step: Step, args: list[View]) -> None:
    """Emit bitserial_conv2d / bitserial_dense `step` (see the module docstring)."""
    t, g = step.term, Geometry.of(step.term, k.lanes)
    if t.args[1].op == Op.PARAM:
        data = repack(t.args[1].attr("ref").data, g.v)
        weights = k.base(plan.add_param(f"{k.function.name}.bitserial", data))
    else:
        weights = k.base(args[1].buf)
    Emitter(k, g, _x_view(t, args[0]), weights, contiguous(step.out, (g.n, g.o, g.oh, g.ow)),
            t.attr("encoding") == "bipolar", t.args[0].dtype).rows()


class Emitter:
    """The loops of one bit-serial kernel (see the module docstring)."""

    def __init__(self, k: Kernel, g: Geometry, x: View, weights: ir.Value, out: View, bipolar: bool,
                 word: str) -> None:
        self.k, self.g, self.x, self.weights, self.out, self.bipolar = k, g, x, weights, out, bipolar
        self.word, self.wtype = word, ltype(word)
        self.vec = ir.VectorType(self.wtype, g.v)
        self.acc_type = ir.VectorType(I64, g.v)
        self.ctpop = intrinsic(k.module, f"llvm.ctpop.v{g.v}i{self.wtype.width}", self.vec, [self.vec])
        self.ctpop1 = intrinsic(k.module, f"llvm.ctpop.i{self.wtype.width}", self.wtype, [self.wtype])
        self.classes = g.a + g.b - 1
        self.bytewise = k.module.triple.split("-")[0] == "x86_64" and k.lanes == 8 and word == "int64" and g.v == 4
        if self.bytewise:
            self.ctpop8 = intrinsic(k.module, "llvm.ctpop.v32i8", BYTES, [BYTES])
            self.psadbw = intrinsic(k.module, "llvm.x86.avx2.psad.bw", self.acc_type, [BYTES, BYTES])
        self.pixels_per_block = max(1, min(PIXELS, 12 // (self.classes + 1))) if self.bytewise else PIXELS
        self.flush_at = self._flush_level()

    def _flush_level(self) -> str:
        """Where byte counts are summed into the 64-bit accumulators: each byte gains at most 8
        per word of a class's plane pairs, so up to 255 // (8 * pairs) words fit in between."""
        if not self.bytewise:
            return "word"
        g = self.g
        room = 255 // (8 * min(g.a, g.b))
        for level, words in (("window", g.kh * g.kw * g.words), ("row", g.kw * g.words), ("tap", g.words)):
            if words <= room:
                return level
        return "word"

    def rows(self) -> None:
        """This thread's rows (n, group, oh, block): the columns whose window is inside the image without
        a column check, the left and right border columns with one."""
        g, b = self.g, self.k.b
        lo, hi = self.k.split(g.n * g.blocks * g.oh)  # rows (n, block group, oh, block in group)
        inside, outside = g.interior
        group = self.block_group()
        with for_range(b, lo, hi, name="row") as row:
            n, outer, oh, inner = _unflatten(b, row, (g.n, g.blocks // group, g.oh, group))
            ob = b.add(b.mul(outer, i64(group)), inner)
            self.segment(n, ob, oh, 0, inside, True)
            self.segment(n, ob, oh, inside, outside, False)
            self.segment(n, ob, oh, outside, g.ow, True)

    def block_group(self) -> int:
        """Channel blocks whose weights stay in L1 while the rows are walked: the largest
        divisor of the block count whose weights fit WEIGHT_CACHE_BYTES (at least 1)."""
        g = self.g
        per_block = g.kh * g.kw * g.b * g.words * g.v * self.wtype.width // 8
        fits = [d for d in range(1, g.blocks + 1) if g.blocks % d == 0 and d * per_block <= WEIGHT_CACHE_BYTES]
        return max(fits, default=1)

    def segment(self, n, ob, oh, start: int, stop: int, checked: bool) -> None:
        """Columns [start, stop) of a row: blocks of pixels, then single pixels (border columns,
        a few per row, one by one: less code to compile)."""
        b, r = self.k.b, self.pixels_per_block
        blocks = 0 if checked else (stop - start) // r
        if blocks:
            with for_range(b, 0, blocks, name="px") as block:
                self.pixels(n, ob, oh, b.add(b.mul(block, i64(r)), i64(start)), r, checked)
        if start + blocks * r < stop:
            with for_range(b, start + blocks * r, stop, name="one") as ow:
                self.pixels(n, ob, oh, ow, 1, checked)

    def load_x(self, n, ih, iw, plane: int, word, checked: bool) -> ir.Value:
        """x[n, ih, iw, plane, word] in padded coordinates, 0 in the padding; the column is
        checked only where the window may leave the image."""
        if self.x.bounds is None:
            return load(self.k, self.x, [n, ih, iw, i64(plane), word])
        b, (_, (top, bottom), (left, right), _, _) = self.k.b, self.x.bounds
        valid = b.and_(b.icmp_signed(">=", ih, i64(top)), b.icmp_signed("<", ih, i64(bottom)))
        ih = b.select(valid, ih, i64(top))
        if checked:
            inside = b.and_(b.icmp_signed(">=", iw, i64(left)), b.icmp_signed("<", iw, i64(right)))
            valid, iw = b.and_(valid, inside), b.select(inside, iw, i64(left))
        plain = View(self.x.buf, self.x.shape, self.x.offset, self.x.strides)
        value = b.load(self.k.address(plain, [n, ih, iw, i64(plane), word]), typ=self.wtype)
        return b.select(valid, value, ir.Constant(self.wtype, 0))

    def pixels(self, n: ir.Value, ob: ir.Value, oh: ir.Value, ow0: ir.Value, count: int, checked: bool) -> None:
        g, b = self.g, self.k.b
        accs = [entry_alloca(b, self.acc_type, "acc") for _ in range(count)]
        ones = [entry_alloca(b, I64, "ones") for _ in range(count)] if self.bipolar else []
        for slot in accs:
            b.store(ir.Constant(self.acc_type, None), slot)
        for slot in ones:
            b.store(i64(0), slot)
        counts = [[entry_alloca(b, BYTES, "bytes") for _ in range(self.classes if self.bytewise else 0)]
                  for _ in range(count)]
        self.flush(accs, counts, None)
        sh, sw = g.strides
        dh, dw = g.dilations
        for r in range(g.kh):
            ih = b.add(b.mul(oh, i64(sh)), i64(r * dh))
            for s in range(g.kw):
                iws = [b.add(b.mul(b.add(ow0, i64(p)), i64(sw)), i64(s * dw)) for p in range(count)]
                with for_range(b, 0, g.words, name="word") as word:
                    self.step(n, ih, iws, ob, r, s, word, accs, ones, checked, counts)
                    self.flush(accs, counts, "word")
                self.flush(accs, counts, "tap")
            self.flush(accs, counts, "row")
        self.flush(accs, counts, "window")
        for p in range(count):
            self.store(n, ob, oh, b.add(ow0, i64(p)), accs[p], ones[p] if ones else None)

    def flush(self, accs: list, counts: list, level: str | None) -> None:
        """At this kernel's flush level (or, with None, to start): add the byte counts of each
        class c, summed by VPSADBW and shifted by c, to the 64-bit accumulators; zero them."""
        if not self.bytewise or (level is not None and level != self.flush_at):
            return
        b = self.k.b
        for slot, classes in zip(accs, counts):
            for c, count in enumerate(classes):
                if level is not None:
                    summed = b.call(self.psadbw, [b.load(count), ir.Constant(BYTES, None)])
                    shifted = b.shl(summed, ir.Constant(self.acc_type, [c] * self.g.v)) if c else summed
                    b.store(b.add(b.load(slot), shifted), slot)
                b.store(ir.Constant(BYTES, None), count)

    def step(self, n, ih, iws, ob, r: int, s: int, word, accs: list, ones: list, checked: bool,
             counts: list) -> None:
        """One word of every plane pair, for each pixel of the block."""
        g, b = self.g, self.k.b
        splats = []
        for i in range(g.a):
            row = []
            for p, iw in enumerate(iws):
                value = self.load_x(n, ih, iw, i, word, checked)
                if ones:
                    counted = b.shl(b.zext(b.call(self.ctpop1, [value]), I64) if self.wtype.width < 64
                                    else b.call(self.ctpop1, [value]), i64(i))
                    b.store(b.add(b.load(ones[p]), counted), ones[p])
                row.append(self._splat(value))
            splats.append(row)
        for j in range(g.b):
            at = b.mul(b.add(b.mul(b.add(b.mul(b.add(b.mul(ob, i64(g.kh)), i64(r)), i64(g.kw)), i64(s)),
                                   i64(g.b)), i64(j)), i64(g.words))
            at = b.mul(b.add(at, word), i64(g.v))
            wv = b.load(element_ptr(b, self.weights, self.word, at), typ=self.vec, align=self.wtype.width // 8)
            for i in range(g.a):
                for p, slot in enumerate(accs):
                    if self.bytewise:
                        bits = b.call(self.ctpop8, [b.bitcast(b.and_(splats[i][p], wv), BYTES)])
                        b.store(b.add(b.load(counts[p][i + j]), bits), counts[p][i + j])
                        continue
                    bits = b.call(self.ctpop, [b.and_(splats[i][p], wv)])
                    wide = b.zext(bits, self.acc_type) if self.wtype.width < 64 else bits
                    shifted = b.shl(wide, ir.Constant(self.acc_type, [i + j] * g.v)) if i + j else wide
                    b.store(b.add(b.load(slot), shifted), slot)

    def _splat(self, value: ir.Value) -> ir.Value:
        b = self.k.b
        one = b.insert_element(ir.Constant(self.vec, None), value, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(one, ir.Constant(self.vec, None), ir.Constant(ir.VectorType(ir.IntType(32), self.g.v),
                                                                             [0] * self.g.v))

    def store(self, n, ob, oh, ow, slot, ones) -> None:
        """acc (bipolar: 2 acc - (2^B - 1) ones) lane by lane into out[n, ob*V + v, oh, ow]."""
        g, b = self.g, self.k.b
        acc = b.load(slot)
        if ones is not None:
            minus = b.mul(b.load(ones), i64((1 << g.b) - 1))
            splat = b.insert_element(ir.Constant(self.acc_type, None), minus, ir.Constant(ir.IntType(32), 0))
            splat = b.shuffle_vector(splat, ir.Constant(self.acc_type, None),
                                     ir.Constant(ir.VectorType(ir.IntType(32), g.v), [0] * g.v))
            acc = b.sub(b.shl(acc, ir.Constant(self.acc_type, [1] * g.v)), splat)
        out_type = ltype(self.out.dtype)
        for v in range(g.v):
            o = b.add(b.mul(ob, i64(g.v)), i64(v)) if g.v > 1 else ob
            lane = b.extract_element(acc, ir.Constant(ir.IntType(32), v))
            value = b.trunc(lane, out_type) if out_type.width < 64 else lane
            if g.o % g.v and v >= g.o % g.v:
                with if_then(b, b.icmp_signed("<", o, i64(g.o))):
                    b.store(value, self.k.address(self.out, [n, o, oh, ow]))
            else:
                b.store(value, self.k.address(self.out, [n, o, oh, ow]))


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
