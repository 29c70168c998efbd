"""The loops of a bit-serial kernel as LLVM IR: rows, tile groups, register tiles, the word
step of both popcount paths, byte counters and their flushes (a kernel row's walk and when it
flushes: `bitserial_rows`), the epilogue and the stores (`bitserial_stores`; the layout and
the arithmetic are in `frittata.backends.llvm.bitserial`'s docstring).

Padding columns read as 0 words (a select after a clamped load), which contribute nothing.

A bias and an integer epilogue are applied to each block's vector of sums before it is stored
(`bitserial_epilogue`).

The output is NCHW. 8-bit outputs (a requantized layer's) are staged a block's vector at a time
and transposed into 8-byte rows (`bitserial_byte_staging`); wider ones are staged value by value
where their planes are large (`bitserial_staging`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from llvmlite import ir

from frittata.backends.llvm.expr import load
from frittata.backends.llvm.irutil import (I64, element_ptr, entry_alloca, for_range, i64, if_then, intrinsic,
                                           ltype, unflatten)
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.bitserial_byte_staging import ByteStaging
from frittata.backends.llvm.bitserial_chunks import WEIGHT_CACHE_BYTES, ReductionChunks
from frittata.backends.llvm.bitserial_epilogue import Epilogue
from frittata.backends.llvm.bitserial_rows import RowSteps
from frittata.backends.llvm.bitserial_staging import STAGE_PIXELS, Staging
from frittata.backends.llvm.bitserial_stores import Stores
from frittata.backends.llvm.views import View
from frittata.terms.bitserial_schedules import bitserial_schedule, nibble_counters
from frittata.terms.ops import Op
from frittata.terms.term import Term

BYTES = ir.VectorType(ir.IntType(8), 32)
MAX_BORDER_TILES = 2
"""Tiles of a row's border columns emitted as unrolled code at most (`Emitter.border_columns`).
On the table kernels (3x3, pad 1: the 2 border columns one pair instead of two lone pixels), one
Zen 3 core, CPU time, in-process A/B, load ~8: A1W1 512 -> 512 at 14x14 0.93 -> 0.87 ms, at
28x28 3.65 -> 3.48, 256 -> 256 at 56x56 3.83 -> 3.70 (9 rounds); A2W1 2.87 -> 2.10, 8.96 ->
7.96, 10.08 -> 9.40 (15 rounds)."""
NIBBLE_COUNTS = [bin(n).count("1") for n in range(16)]
LOW_NIBBLES = 0x0F0F0F0F0F0F0F0F
BYTE_ROOM = 255


@dataclass(frozen=True)
class Geometry:
    """The sizes of a bit-serial contraction seen as a convolution, its channel block V and its
    register block (`pixels` x `blocks` channel blocks)."""

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
    pixels: int
    blocks: int

    @property
    def interior(self) -> tuple[int, int]:
        """[lo, hi): the output columns whose window lies inside the image's columns."""
        sw, reach = self.strides[1], (self.kw - 1) * self.dilations[1]
        lo = min(-(-self.left // sw), self.ow)
        hi = min(self.ow, (self.width - 1 + self.left - reach) // sw + 1)
        return lo, max(lo, hi)

    @property
    def tiles(self) -> int:
        """Tiles of `blocks` channel blocks of V channels covering O (the last one padded)."""
        return -(-self.o // (self.v * self.blocks))

    @classmethod
    def of(cls, t: Term, lanes: int) -> Geometry:
        x, w = t.args[0].type, t.args[1].type
        schedule = bitserial_schedule(t.op, t.attrs, x, w, t.args[1].op == Op.PARAM, lanes)
        v, tile = schedule["vec"] // 2, (schedule["pixels"], schedule["blocks"])
        if t.op == Op.BITSERIAL_DENSE:
            m = x.size // (x.shape[-1] * x.shape[-2])
            return cls(m, w.shape[0], 1, 1, 1, 1, x.shape[-2], w.shape[-2], w.shape[-1], (1, 1), (1, 1), v, 1, 0,
                       *tile)
        _, o, oh, ow = t.shape
        return cls(x.shape[0], o, oh, ow, w.shape[1], w.shape[2], x.shape[-2], w.shape[-2], w.shape[-1],
                   t.attr("strides"), t.attr("dilations"), v, x.shape[2], t.attr("pads")[1], *tile)


@dataclass
class Tile:
    """The accumulators of one register block: per pixel and channel block a vector of 64-bit
    sums and (nibble lookup) byte counters; per pixel a slot of the window's popcount of x
    (bipolar)."""

    accs: list[list[ir.Value]]
    counters: list[list[list[ir.Value]]]
    ones: list[ir.Value]


class Emitter(ReductionChunks, Stores, RowSteps):
    """The loops of one bit-serial kernel (see the module docstring)."""

    def __init__(self, k: Kernel, g: Geometry, x: View, weights: ir.Value, out: View, bipolar: bool,
                 word: str, nibbles: bool) -> None:
        self.k, self.g, self.x, self.weights, self.out, self.bipolar = k, g, x, weights, out, bipolar
        self.word, self.wtype, self.nibbles = word, ltype(word), nibbles
        self.vec = ir.VectorType(self.wtype, g.v)
        self.acc_type = ir.VectorType(I64, g.v)
        self.ctpop1 = intrinsic(k.module, f"llvm.ctpop.i{self.wtype.width}", self.wtype, [self.wtype])
        if nibbles:
            self.pshufb = intrinsic(k.module, "llvm.x86.avx2.pshuf.b", BYTES, [BYTES, BYTES])
        self.counters = nibble_counters(g.a, g.b) if nibbles else 0
        self.scaled = self.counters == 1
        self.room = self.byte_room()
        self.plan = self.flush_plan()
        self.group = self.tile_group()
        self.chunk_rows, self.chunk_words = self.reduction_chunk()
        self.chunk: ir.Value | None = None
        self.partials: ir.Value | None = None
        self.out_type = ltype(out.dtype)
        self.stage = (ByteStaging.of(k, out, g.blocks * g.v, self.group, g.pixels)
                      or Staging.of(k, out, g.blocks * g.v, self.group, g.pixels))
        self.epilogue: Epilogue | None = None

    def byte_room(self) -> int:
        """Words a byte counter takes before it could pass 255: 8 per word pair, times 2^(i+j)
        with one scaled counter, else per class of the smaller plane count."""
        g = self.g
        weighted = 8 * ((1 << g.a) - 1) * ((1 << g.b) - 1)
        return BYTE_ROOM // (weighted if self.scaled else 8 * min(g.a, g.b))

    @property
    def shares_ones(self) -> bool:
        """Whether a bipolar kernel counts each pixel's window popcount once, before the tiles of
        its group (`window_ones`), rather than in each tile's word steps."""
        return True

    def rows(self) -> None:
        """The rows (n, tile group, oh) this thread takes from the work counter, consecutive
        rows a chunk (a tile group's weights stay in cache across its rows), each walked once
        per reduction chunk (`ReductionChunks`): the columns whose window is inside the image
        without a column check, the left and right border columns with one (`border_tiles`:
        after the interior, or staged before it), then the staged chunks no tile completed."""
        g, b, group = self.g, self.k.b, self.group
        with self.k.take(g.n * (g.tiles // group) * g.oh, name="row") as row:
            n, outer, oh = unflatten(b, row, (g.n, g.tiles // group, g.oh))
            tiles = (b.mul(outer, i64(group)), group)
            border = self.border_columns()
            with self.chunk_loop():
                self.columns(n, tiles, oh, border)
                if self.stage is not None:
                    with self.when_last_chunk():
                        for chunk in self.chunks_left(border):
                            self.stage.copy_chunk(n, tiles[0], oh, i64(chunk),
                                                  min(STAGE_PIXELS, g.ow - chunk * STAGE_PIXELS))

    def columns(self, n, tiles: tuple[ir.Value, int], oh, border: tuple[int, list[int]] | None) -> None:
        """Every column of a row: the interior's and the border's (see `rows`)."""
        g = self.g
        inside, outside = g.interior
        if border is None:
            self.segment(n, tiles, oh, 0, inside, True)
            self.segment(n, tiles, oh, inside, outside, False)
            self.segment(n, tiles, oh, outside, g.ow, True)
            return
        whole, rest = border
        if self.stage is not None:
            self.border_tiles(n, tiles, oh, rest)
        self.segment(n, tiles, oh, inside, whole, False)
        if self.stage is None:
            self.border_tiles(n, tiles, oh, rest)

    def chunks_left(self, border: tuple[int, list[int]] | None) -> list[int]:
        """The staged chunks of a row that no tile completes (`pixels` copies a chunk when a tile
        of consecutive columns ends it), copied at the row's end: a shorter last chunk; with
        `border_tiles` first, each chunk whose end is not inside the interior's columns."""
        g = self.g
        last = (g.ow - 1) // STAGE_PIXELS
        if border is None:
            return [last] if g.ow % STAGE_PIXELS else []
        inside, whole = g.interior[0], border[0]
        return [c for c in range(last + 1) if not inside < (c + 1) * STAGE_PIXELS <= whole]

    def border_tiles(self, n, tiles: tuple[ir.Value, int], oh, rest: list[int]) -> None:
        """The columns `rest` of `border_columns` in tiles of `pixels`, with column checks."""
        for first in range(0, len(rest), self.g.pixels):
            self.pixels(n, tiles, oh, [i64(ow) for ow in rest[first:first + self.g.pixels]], True, False)

    def tile_group(self) -> int:
        """Tiles whose weights stay in L1 while the rows are walked: the largest divisor of the
        tile count whose weights fit WEIGHT_CACHE_BYTES (at least 1)."""
        tiles, weights = self.g.tiles, self.tile_weight_bytes
        fits = [d for d in range(1, tiles + 1) if tiles % d == 0 and d * weights <= WEIGHT_CACHE_BYTES]
        return max(fits, default=1)

    def border_columns(self) -> tuple[int, list[int]] | None:
        """Where the interior's whole tiles of `pixels` end, and the columns left beside them (the
        border columns and the interior's last few), run together in tiles of `pixels` with
        column checks; or None to run them one at a time: when there are more than
        MAX_BORDER_TILES tiles of them (each is unrolled code), or the output is staged and they
        cannot run first (a `ByteStaging` holds the row's first and last chunks apart, so they
        can when each lies in one of those; `Staging`'s chunks follow the columns in order)."""
        g = self.g
        inside, outside = g.interior
        whole = inside + (outside - inside) // g.pixels * g.pixels
        rest = list(range(inside)) + list(range(whole, g.ow))
        last_chunk_start = (g.ow - 1) // STAGE_PIXELS * STAGE_PIXELS
        border_first = isinstance(self.stage, ByteStaging) and all(
            ow < STAGE_PIXELS or ow >= last_chunk_start for ow in rest)
        if (self.stage is not None and not border_first) or g.pixels == 1 or len(rest) > MAX_BORDER_TILES * g.pixels:
            return None
        return whole, rest

    def segment(self, n, tiles: tuple[ir.Value, int], oh, start: int, stop: int, checked: bool) -> None:
        """Columns [start, stop) of a row: blocks of `pixels`, then single pixels (the border
        columns, a few per row, one by one: less code to compile)."""
        b, r = self.k.b, self.g.pixels
        blocks = 0 if checked else (stop - start) // r
        if blocks:
            with for_range(b, 0, blocks, name="px") as block:
                ow0 = b.add(b.mul(block, i64(r)), i64(start))
                self.pixels(n, tiles, oh, [b.add(ow0, i64(p)) for p in range(r)], checked)
        if start + blocks * r < stop:
            with for_range(b, start + blocks * r, stop, name="one") as ow:
                self.pixels(n, tiles, oh, [ow], checked)

    def pixels(self, n, tiles: tuple[ir.Value, int], oh, ows: list[ir.Value], checked: bool,
               chunks: bool = True) -> None:
        """The pixels of columns `ows` against each tile of the group (bipolar weights: the
        window's popcount of each pixel first, shared by the tiles, unless `shares_ones` is
        False); staged, then the chunk they complete is copied out if `chunks` (the columns
        consecutive; `border_tiles` run first in a row complete none)."""
        b = self.k.b
        ones = []
        if self.bipolar and self.shares_ones:
            ones = [self.window_ones(n, oh, ow, checked) for ow in ows]
        first, group = tiles
        with for_range(b, 0, group, name="tile") as inner:
            self.tile(n, (b.add(first, inner), inner), oh, ows, checked, ones)
        if self.stage is not None and chunks:
            ow0, count = ows[0], len(ows)
            done = b.udiv(b.add(ow0, i64(count)), i64(STAGE_PIXELS))
            due = b.icmp_unsigned(">", done, b.udiv(ow0, i64(STAGE_PIXELS)))
            with if_then(b, b.and_(due, self.chunk_is(-1)) if self.chunk is not None else due, "chunk"):
                self.stage.copy_chunk(n, first, oh, b.sub(done, i64(1)), STAGE_PIXELS)

    def window_ones(self, n, oh, ow, checked: bool) -> ir.Value:
        """A slot holding Σ over the window of ctpop(x[n, ih, iw, i, k]) << i: the activations'
        bits counted for the bipolar correction."""
        g, b = self.g, self.k.b
        slot = entry_alloca(b, I64, "ones")
        b.store(i64(0), slot)
        (sh, sw), (dh, dw) = g.strides, g.dilations
        with for_range(b, 0, g.kh, name="or") as r:
            ih = b.add(b.mul(oh, i64(sh)), b.mul(r, i64(dh)))
            with self.row_inside(ih):
                for s in range(g.kw):
                    iw = b.add(b.mul(ow, i64(sw)), i64(s * dw))
                    with for_range(b, 0, g.words, name="oword") as word:
                        for i in range(g.a):
                            counted = b.call(self.ctpop1, [self.load_x(n, ih, iw, i, word, checked)])
                            counted = b.zext(counted, I64) if self.wtype.width < 64 else counted
                            b.store(b.add(b.load(slot), b.shl(counted, i64(i))), slot)
        return slot

    def tile(self, n, tiles: tuple[ir.Value, ir.Value], oh, ows: list[ir.Value], checked: bool,
             ones: list[ir.Value]) -> None:
        """One register block: the pixels of columns `ows` by `blocks` channel blocks of tile
        tiles[0] (tiles[1] in its group); the kernel rows are a loop (the taps of a row and the
        tile unrolled in it). In reduction chunks, only the chunk's kernel rows and words, from
        the partial sums the previous chunk saved, stored after the last chunk."""
        g, b = self.g, self.k.b
        tile = tiles[0]
        state = self.new_tile(len(ows), ones)
        sh, dh = g.strides[0], g.dilations[0]
        plan, every = self.plan
        first_row, first_word = self.chunk_start()
        if self.chunk is not None:
            with if_then(b, b.not_(self.chunk_is(0)), "resume"):
                self.resume(state, ows)
        with for_range(b, first_row, b.add(first_row, i64(self.chunk_rows)), name="kr") as r:
            ih = b.add(b.mul(oh, i64(sh)), b.mul(r, i64(dh)))
            with self.row_inside(ih):
                if self.unrolls_row:
                    self.row_steps(n, ih, ows, (tile, r), first_word, state, checked)
                else:
                    self.tap_loops(n, ih, ows, (tile, r), first_word, state, checked)
            if plan == "rows":
                with if_then(b, b.icmp_signed("==", b.urem(b.add(r, i64(1)), i64(every)), i64(0)), "flush"):
                    self.flush(state)
        if plan == "window" or (plan == "rows" and (g.kh % every or self.chunk is not None)):
            self.flush(state)
        if self.chunk is None:
            self.store(n, tiles, oh, ows, state)
            return
        with b.if_else(self.chunk_is(-1)) as (last, other):
            with last:
                self.store(n, tiles, oh, ows, state)
            with other:
                self.save(state, ows)

    def new_tile(self, count: int, ones: list[ir.Value]) -> Tile:
        """Zeroed accumulators for `count` pixels (and their window popcounts, bipolar)."""
        b, blocks = self.k.b, self.g.blocks
        accs = [[entry_alloca(b, self.acc_type, "acc") for _ in range(blocks)] for _ in range(count)]
        counters = [[[entry_alloca(b, BYTES, "bytes") for _ in range(self.counters)] for _ in range(blocks)]
                    for _ in range(count)]
        for slot in [s for row in accs for s in row]:
            b.store(ir.Constant(self.acc_type, None), slot)
        for slot in [s for row in counters for block in row for s in block]:
            b.store(ir.Constant(BYTES, None), slot)
        return Tile(accs, counters, ones)

    @contextmanager
    def row_inside(self, ih: ir.Value) -> Iterator[None]:
        """The body runs only when input row ih (padded coordinates) is inside the image."""
        if self.x.bounds is None or self.x.bounds[1] == (0, self.x.shape[1]):
            yield
            return
        b, (top, bottom) = self.k.b, self.x.bounds[1]
        with if_then(b, b.and_(b.icmp_signed(">=", ih, i64(top)), b.icmp_signed("<", ih, i64(bottom))), "row"):
            yield

    def load_x(self, n, ih, iw, plane: int, word, checked: bool) -> ir.Value:
        """x[n, ih, iw, plane, word] in padded coordinates (ih inside the image), 0 in the
        padding columns; the column is checked only where the window may leave the image."""
        if self.x.bounds is None:
            return load(self.k, self.x, [n, ih, iw, i64(plane), word])
        b, plain = self.k.b, View(self.x.buf, self.x.shape, self.x.offset, self.x.strides)
        if not checked:
            return b.load(self.k.address(plain, [n, ih, iw, i64(plane), word]), typ=self.wtype)
        left, right = self.x.bounds[2]
        inside = b.and_(b.icmp_signed(">=", iw, i64(left)), b.icmp_signed("<", iw, i64(right)))
        value = b.load(self.k.address(plain, [n, ih, b.select(inside, iw, i64(left)), i64(plane), word]),
                       typ=self.wtype)
        return b.select(inside, value, ir.Constant(self.wtype, 0))

    def step(self, n, ih, iws, tile, r: ir.Value, s: int, word, state: Tile, checked: bool) -> None:
        """One word of every plane pair, for each pixel and channel block of the tile."""
        g = self.g
        for p, iw in enumerate(iws):
            xs = []
            for i in range(g.a):
                value = self.load_x(n, ih, iw, i, word, checked)
                xs.append(self.split(value) if self.nibbles else [splat(self.k.b, value, g.v)])
            for m in range(g.blocks):
                for j in range(g.b):
                    self.pair(self.weight_vectors(tile, m, r, s, j, word), xs, j, state, p, m)

    def pair(self, weights: list[ir.Value], xs: list[list[ir.Value]], j: int, state: Tile, p: int, m: int) -> None:
        """Add one weight plane j against every activation plane of pixel p into block m."""
        b = self.k.b
        for i, parts in enumerate(xs):
            if self.nibbles:
                table = self.table(i + j if self.scaled else 0)
                low, high = (b.call(self.pshufb, [table, b.and_(xp, wp)]) for xp, wp in zip(parts, weights))
                slot = state.counters[p][m][0 if self.scaled else i + j]
                b.store(b.add(b.load(slot), b.add(low, high)), slot)
                continue
            ctpop = intrinsic(self.k.module, f"llvm.ctpop.v{self.g.v}i{self.wtype.width}", self.vec, [self.vec])
            bits = b.call(ctpop, [b.and_(parts[0], weights[0])])
            wide = b.zext(bits, self.acc_type) if self.wtype.width < 64 else bits
            shifted = b.shl(wide, ir.Constant(self.acc_type, [i + j] * self.g.v)) if i + j else wide
            slot = state.accs[p][m]
            b.store(b.add(b.load(slot), shifted), slot)

    def weight_vectors(self, tile, m: int, r: ir.Value, s: int, j: int, word) -> list[ir.Value]:
        """wv[tile*M + m, r, s, j, word] (nibbles: its low and high halves, as bytes)."""
        g, b = self.g, self.k.b
        ob = b.add(b.mul(tile, i64(g.blocks)), i64(m))
        at = b.add(b.mul(b.add(b.mul(b.add(b.mul(ob, i64(g.kh)), r), i64(g.kw)), i64(s)), i64(g.b)), i64(j))
        at = b.add(b.mul(at, i64(g.words)), word)
        align = self.wtype.width // 8
        if not self.nibbles:
            return [b.load(element_ptr(b, self.weights, self.word, b.mul(at, i64(g.v))), typ=self.vec, align=align)]
        at = b.mul(at, i64(2 * g.v))
        return [b.bitcast(b.load(element_ptr(b, self.weights, self.word, b.add(at, i64(half * g.v))), typ=self.vec,
                                 align=align), BYTES) for half in (0, 1)]

    def split(self, value: ir.Value) -> list[ir.Value]:
        """A word splat to every lane as bytes: its low nibbles, its high nibbles shifted down."""
        b = self.k.b
        bytes_ = b.bitcast(splat(b, value, self.g.v), BYTES)
        mask = ir.Constant(BYTES, [0x0F] * 32)
        return [b.and_(bytes_, mask), b.and_(b.lshr(bytes_, ir.Constant(BYTES, [4] * 32)), mask)]

    def table(self, shift: int) -> ir.Constant:
        """The VPSHUFB table of nibble popcounts times 2^shift, in both 128-bit halves."""
        return ir.Constant(BYTES, [count << shift for count in NIBBLE_COUNTS] * 2)

    def flush(self, state: Tile) -> None:
        """Add each byte counter, summed by VPSADBW (and shifted by its class), to its
        accumulator, and zero it."""
        b = self.k.b
        psadbw = intrinsic(self.k.module, "llvm.x86.avx2.psad.bw", self.acc_type, [BYTES, BYTES])
        for accs, counters in zip(state.accs, state.counters):
            for slot, classes in zip(accs, counters):
                for c, count in enumerate(classes):
                    summed = b.call(psadbw, [b.load(count), ir.Constant(BYTES, None)])
                    shifted = b.shl(summed, ir.Constant(self.acc_type, [c] * self.g.v)) if c else summed
                    b.store(b.add(b.load(slot), shifted), slot)
                    b.store(ir.Constant(BYTES, None), count)
