"""AVX2's activation-indexed table kernel for bit-serial convolutions of one weight plane and one
or two activation planes (`bitserial_schedules.uses_tables`; one plane: two pixels a lookup): its
weight layout, its lookup tables and its emitter, which reuses `Emitter`'s loops with its own
word step, counters and flush."""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.bitserial_byte_staging import ByteStaging
from frittata.backends.llvm.bitserial_emitter import BYTE_ROOM, BYTES, LOW_NIBBLES, Emitter, Geometry, Tile
from frittata.backends.llvm.bitserial_epilogue import INT16, level_thresholds
from frittata.backends.llvm.irutil import I32, I64, element_ptr, entry_alloca, i64
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.plan import Plan
from frittata.backends.llvm.views import View
from frittata.terms.bitserial_schedules import TABLE_CHANNELS, table_word_sum

FIELD_CAPACITY = (1 << 4) - 1
"""The most a 4-bit field of a run's sum holds."""
FIELD_LOOKUPS = FIELD_CAPACITY // 4
"""Lookups a one-plane table kernel may always sum before it adds the sum to a pixel pair's
counters (C and U, `pair_counts`): a 4-bit field's capacity, 15, over the most one lookup adds
to it, popcount(n & i) <= 4 for nibbles n and i, so that the sum's fields do not carry (longer
runs where the weights allow: `field_runs`)."""
MAX_RUN = 5
"""The longest run of lookups `field_runs` tries (20 weight bits: at least 5 of them zeros)."""
TABLE_BYTE = np.array([c if c < 8 else c + 8 if c < 16 else c - 8 if c < 24 else c for c in range(32)])
"""The byte of a counter vector that counts channel c of its block: unpacking the bytes with
zeros (VPUNPCKLBW / VPUNPCKHBW, per 128-bit half) then gives channels 0-15 and 16-31 in order."""

UNROLLED_ROW = (3, 2)
"""The kernel rows the table kernel unrolls (`Emitter.unrolls_row`), as (taps, words a tap): a 3x3
row of 2 words a tap, 65-128 input channels, whose 6 steps run as 2 runs of 3 words (one plane's
room) with 2 flushes, where the word loop flushed after each tap's 2 words. A1W1 128 -> 256 at
56x56, one Zen 3 core, CPU time, in-process A/B, load ~6: 1.67 -> 1.41 ms and 1.62 -> 1.43 ms
(15 and 11 rounds); unrolling rows of 12 steps (4 words a tap) ran 256 -> 256 at 56x56 0.92x
and 512 -> 512 at 14x14 0.73x as fast, and a loop over runs of 3 unrolled steps 0.84-0.91x.
Other short rows ran slower unrolled (A1W1, bipolar, requantized, 31 rounds, load ~6): 1x1
rows of 4 words 0.94x (256 -> 256 and 200 -> 256 at 28x28), of 6 words 0.74x (384 -> 384 at
14x14), a 2x2 row of 2 words a tap 0.905x (128 -> 128 at 28x28)."""


def table_weights(weights: np.ndarray, g: Geometry) -> np.ndarray:
    """wp [O, KH, KW, 1, K] as the table kernel's shuffle indices, uint8
    [groups, KH, KW, K, 16, 32]: per group of 32 channels, word and nibble q, the channels' nibble
    q, channel c at byte `TABLE_BYTE[c]` (zeros past O)."""
    o, kh, kw, _, words = weights.shape
    total = g.tiles * g.blocks * TABLE_CHANNELS
    unsigned = np.zeros((total, kh, kw, words), np.uint64)
    unsigned[:o] = weights[:, :, :, 0, :].astype(np.int64).view(np.uint64)
    nibbles = (unsigned[..., None] >> (4 * np.arange(16, dtype=np.uint64))) & np.uint64(15)
    grouped = nibbles.astype(np.uint8).reshape((total // TABLE_CHANNELS, TABLE_CHANNELS, kh, kw, words, 16))
    placed = np.empty_like(grouped)
    placed[:, TABLE_BYTE] = grouped
    return np.ascontiguousarray(np.moveaxis(placed, 1, -1))


def field_runs(packed: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The runs [first, stop) of a word's 16 nibbles whose lookups a one-plane table kernel sums
    before it adds the sum to its C and U counters (`TableEmitter.pair_step`): the fewest runs
    whose fields cannot carry. A pixel's field over a run counts popcount(x & w) over the run's
    4 (stop - first) bits of a weight word w, at most popcount(w's bits of the run), so a run is
    safe where no word of wp [O, KH, KW, 1, K] has more than FIELD_CAPACITY ones there: any run
    of FIELD_LOOKUPS nibbles, and a run of 4 wherever no weight word has those 16 bits all ones
    (binarized weights: almost everywhere). Each run costs the C and U adds and a shift."""
    words = packed[:, :, :, 0, :].astype(np.int64).view(np.uint64).ravel()

    def safe(first: int, stop: int) -> bool:
        if stop - first <= FIELD_LOOKUPS:
            return True
        mask = np.uint64((1 << (4 * (stop - first))) - 1)
        return int(np.bitwise_count((words >> np.uint64(4 * first)) & mask).max(initial=0)) <= FIELD_CAPACITY

    fewest: list[tuple[int, int]] = [(0, 0)] + [(17, 0)] * 16  # (runs, start of the last) to nibble i
    for stop in range(1, 17):
        fewest[stop] = min((fewest[first][0] + 1, first) for first in range(max(0, stop - MAX_RUN), stop)
                           if safe(first, stop))
    runs, stop = [], 16
    while stop:
        runs.append((fewest[stop][1], stop))
        stop = fewest[stop][1]
    return tuple(reversed(runs))


def activation_tables(a: int) -> np.ndarray:
    """The shuffle tables, uint8 [256, 32]: row r = n_0 + 16 n_1 holds, at byte i of each 128-bit
    half (i a weight nibble), Σ_j popcount(n_j & i) << (j * shift). With two activation planes,
    n_j is plane j's nibble of one pixel and shift 1 (the sum of the nibble's products); with one,
    n_j is pixel j's nibble and shift 4 (each pixel's count in its own 4 bits)."""
    rows, shift = np.arange(256), 1 if a == 2 else 4
    table = np.zeros((256, 16), np.uint8)
    for j in range(2):
        nibble = (rows >> (4 * j)) & 15
        table += np.array([[bin(int(n) & i).count("1") << (j * shift) for i in range(16)] for n in nibble], np.uint8)
    return np.ascontiguousarray(np.concatenate([table, table], axis=1))


def pair_counts(b: ir.IRBuilder, c: ir.Value, u: ir.Value) -> tuple[ir.Value, ir.Value]:
    """A pixel pair's byte counters from C = Σ S and U = Σ S >> 4 (16-bit lanes), bytes added
    mod 256, for sums S of table values p0 + 16 p1 whose 4-bit fields did not carry: in a
    16-bit lane of channels c (low byte) and c' (high byte), C = (A + 16 B, D + 16 E) and
    U = (B + 16 D, E) with A, D pixel 0's counts and B, E pixel 1's. So C - 16 U (bytewise)
    = (A, D), and U - ((A, D) >> 4 & 0x00F0) = (B, E), exact while each count is at most 255."""
    shorts = ir.VectorType(ir.IntType(16), 16)

    def shifted(value: ir.Value, op, by: int, mask: int) -> ir.Value:
        moved = op(b.bitcast(value, shorts), ir.Constant(shorts, [by] * 16))
        return b.bitcast(b.and_(moved, ir.Constant(shorts, [mask] * 16)), BYTES)

    first = b.sub(c, shifted(u, b.shl, 4, 0xF0F0))
    return first, b.sub(u, shifted(first, b.lshr, 4, 0x00F0))


class TableEmitter(Emitter):
    """The activation-indexed lookup kernel of one weight plane and one or two activation planes
    (`bitserial_schedules.uses_tables`): VPSHUFB looks up, for 32 channels at a time, a table chosen by
    the activations with the weights' nibbles as indices, so a lookup counts 32 channels' nibble
    pairs with no AND, and two nibbles of activations at once:

        two planes:  counts[p, m] += pshufb(tables[n_0 + 16 n_1], wt[tile*M + m, kh, kw, k, q])
        one plane:   S[m] = Σ_{q in a run (`field_runs`)} pshufb(tables[n_p0 + 16 n_p1], wt[..., q])
                     C[m] += S[m];  U[m] += S[m] >> 4 (16-bit lanes)

    with n_i nibble q of word k of activation plane i of pixel p, or n_pj that of pixel j of the
    tile's pair (`activation_tables`). With one plane a byte of S holds both pixels' counts in
    its two 4-bit halves, and C and U (bytes added mod 256) are decoded into the two pixels' byte
    counters when they are flushed (`pair_counts`); a lone pixel (paired with a zero word) adds
    its lookups to its counter. The weights' nibbles are laid out at compile time
    (`table_weights`). Byte counters are widened to 16-bit sums (unpacked with zeros) every
    `room` words, before a byte can pass 255; those sums fit 16 bits by `uses_tables`. The rows,
    tile groups, padding, bipolar correction, epilogue and stores are `Emitter`'s, with V = 32
    channels a block.

    A2W1 on one Zen 3 core (CPU time, with the requantization), nibble kernel -> this one:
    256 -> 256 at 56x56 11.3 -> 7.9 ms, 512 -> 512 at 28x28 10.7-11.4 -> 6.6-6.8 ms, 128 -> 256
    at 56x56 6.1 -> 3.8 ms. A1W1 (bipolar, with the requantization, 15 rounds, load ~5.4):
    256 -> 256 at 56x56 5.12 -> 4.30 ms, 512 -> 512 at 28x28 5.16 -> 4.18, 128 -> 256 at 56x56
    2.84 -> 2.57, 64 -> 128 at 112x112 3.57 -> 3.00 (a table per pixel with one plane had
    measured 0.98-1.7x the nibble kernel's time: the same lookups). C and U in place of splitting
    each run's fields into the pixels' counters (a shift, two ANDs and two adds -> a shift and
    two adds), 3 rounds, load ~4: 256 -> 256 at 56x56 4.19 -> 3.99 ms, 128 -> 256 at 56x56 2.59
    -> 2.53. With that and `flush_plan`'s flushes every 3 words, nibble kernel -> this one (9
    rounds, load ~6.5): 256 -> 256 at 56x56 5.32 -> 3.98 ms, 512 -> 512 at 28x28 5.22 -> 3.69,
    128 -> 256 at 56x56 3.03 -> 2.36, 64 -> 128 at 112x112 3.99 -> 2.65."""

    def __init__(self, k: Kernel, g: Geometry, x: View, weights: ir.Value, out: View, bipolar: bool,
                 tables: ir.Value, packed: np.ndarray) -> None:
        assert g.a <= 2 and g.b == 1, f"the table kernel takes <= 2 activation planes and 1 weight plane, got {g}"
        self.tables, self.packed = tables, packed
        self.half = ir.VectorType(ir.IntType(16), g.v // 2)
        self.thresholds: ir.Value | None = None
        self.levels = 0
        super().__init__(k, g, x, weights, out, bipolar, "int64", True)

    def byte_room(self) -> int:
        """Words a byte counter takes before it could pass 255: a word's 16 lookups add at most
        `table_word_sum`."""
        return BYTE_ROOM // table_word_sum(self.g.a)

    @property
    def shares_ones(self) -> bool:
        """Only for groups of several tiles. A group is usually one tile (a 3x3 tile's weights
        pass half of L1 from 64 input channels on), and then a tile counts its pixels' window
        popcounts in its word steps, two scalar popcounts a word beside the table rows built
        from the same words, instead of in one more pass over the window."""
        return self.group > 1

    @property
    def stretches_room(self) -> bool:
        """With one plane: a word adds at most 64 to a pixel's count, and 64 only where all its
        bits are set, so room + 1 = 4 words pass 255 only where all four are all ones. A tap of
        4 words then flushes once instead of after its third word and at its end. A1W1, one Zen
        3 core, CPU time, in-process A/B, 9 rounds, load ~5: 256 -> 256 at 56x56 2.80 -> 2.76
        ms, 256 -> 512 at 28x28 1.43 -> 1.38, 512 -> 512 at 14x14 0.754 -> 0.727; the VGG-11-style
        network W1A1 15.45 -> 15.18 ms (21 rounds, load ~6.5)."""
        return self.g.a == 1 and (self.room + 1) * table_word_sum(1) == BYTE_ROOM + 1

    @functools.cached_property
    def runs(self) -> tuple[tuple[int, int], ...]:
        """A pixel pair's runs of lookups (`field_runs`) for these weights: 4 or 5 runs a word
        for binarized weights, where runs of FIELD_LOOKUPS took 6 (per block and word 2-4 fewer
        adds and 1-2 fewer shifts of 44 and 12). One Zen 3 core, CPU time, in-process A/B, load
        ~7, bit-exact: A1W1 bipolar requantized 256 -> 256 at 56x56 0.985, 512 -> 512 at 14x14
        0.988, 64 -> 128 at 112x112 0.974 (quartiles 0.90-1.00), 128 -> 256 at 56x56 1.004 (11
        rounds); the W1A1 VGG-11-style network 12.53 -> 12.34 ms (0.984, 41 rounds)."""
        return field_runs(self.packed)

    @property
    def weights_fill_tap(self) -> bool:
        """Whether some channel has all ones in every weight word of a tap's reduction chunk
        (`packed`, wp [O, KH, KW, 1, K]); binarized weights practically never do, and then no
        pixel is tested (`tap_fills`) and a tap's one flush is at a constant word. A1W1 bipolar
        requantized, random weights, one Zen 3 core, CPU time, in-process A/B, 15 rounds, load
        ~4.7, bit-exact, testing pixels -> not: 256 -> 256 at 56x56 2.67 -> 2.49 ms (0.930),
        256 -> 512 at 28x28 1.31 -> 1.26 (0.959), 512 -> 512 at 28x28 2.83 -> 2.68 (0.952), at
        14x14 0.700 -> 0.661 (0.943)."""
        words = self.packed[:, :, :, 0, :]
        chunks = words.reshape(words.shape[:3] + (-1, self.chunk_words))
        return bool(np.any(np.all(chunks == -1, axis=-1)))

    @property
    def unrolled_row(self) -> tuple[int, int] | None:
        """UNROLLED_ROW."""
        return UNROLLED_ROW

    @property
    def chunks_reduction(self) -> bool:
        """Yes (`Emitter.reduction_chunk`): a tile of 2 blocks reads 1 KiB of weights a word of
        a tap, 72 KiB a pixel from 512 input channels, which streamed from L2 for every pixel.
        VGG-11-style network, one Zen 3 core, CPU time, in-process A/B, 11 rounds, load ~11.5,
        bit-exact: W1A2 23.47 -> 21.49 ms, W1A1 13.81 -> 13.59 ms (a pixel pair reads each
        weight vector twice, so half the traffic a pixel); chunks of 8 KiB ran W1A2 1.30x
        slower than 16 KiB, 24 KiB alike; 4 blocks a tile instead of 2, chunked, 1.09x slower
        (W1A2) and 1.17x (W1A1)."""
        return True

    @property
    def pixel_partial_bytes(self) -> int:
        """Two vectors of 16-bit sums per channel block (V bytes each), and the window popcount
        a tile counts in its steps."""
        return self.g.blocks * 2 * self.g.v + (8 if self.counts_ones_in_steps else 0)

    @property
    def counts_ones_in_steps(self) -> bool:
        """Whether a tile counts its pixels' window popcounts in its word steps (bipolar weights,
        one tile a group: `shares_ones`)."""
        return self.bipolar and not self.shares_ones

    def new_tile(self, count: int, ones: list[ir.Value]) -> Tile:
        """Zeroed 16-bit sums (two vectors of 16 per block) and byte counters for `count` pixels,
        and (bipolar) zeroed slots of their window popcounts, which `step` counts."""
        b, blocks = self.k.b, self.g.blocks
        if self.counts_ones_in_steps:
            ones = [entry_alloca(b, I64, "ones") for _ in range(count)]
            for slot in ones:
                b.store(i64(0), slot)
        accs = [[(entry_alloca(b, self.half, "low"), entry_alloca(b, self.half, "high")) for _ in range(blocks)]
                for _ in range(count)]
        counters = [[[entry_alloca(b, BYTES, "bytes")] for _ in range(blocks)] for _ in range(count)]
        for pair in [pair for row in accs for pair in row]:
            for slot in pair:
                b.store(ir.Constant(self.half, None), slot)
        for slot in [s for row in counters for block in row for s in block]:
            b.store(ir.Constant(BYTES, None), slot)
        return Tile(accs, counters, ones)

    def step(self, n, ih, iws, tile, r: ir.Value, s: int, word, state: Tile, checked: bool) -> None:
        """One word of every pixel of the tile: its 16 nibbles, each a table per pixel (one
        plane: per pixel pair) against the weight vector of each block."""
        g, b = self.g, self.k.b
        words = [[self.load_x(n, ih, iw, i, word, checked) for i in range(g.a)] for iw in iws]
        for slot, planes in zip(state.ones if self.counts_ones_in_steps else [], words):
            for i, plane in enumerate(planes):
                b.store(b.add(b.load(slot), b.shl(b.call(self.ctpop1, [plane]), i64(i))), slot)
        if g.a == 1:
            self.pair_step(tile, r, s, word, [planes[0] for planes in words], state)
            return
        rows = [self.table_rows(planes) for planes in words]
        for q in range(16):
            tables = [self.table_row(pixel_rows, q) for pixel_rows in rows]
            for m in range(g.blocks):
                indices = self.weight_indices(tile, m, r, s, word, q)
                for p, table in enumerate(tables):
                    slot = state.counters[p][m][0]
                    b.store(b.add(b.load(slot), b.call(self.pshufb, [table, indices])), slot)

    def pair_step(self, tile, r: ir.Value, s: int, word, pixels: list[ir.Value], state: Tile) -> None:
        """One word of one activation plane of the tile's pixels, in pairs (a lone last pixel:
        paired with a zero word), as one table per pair and nibble against the weight vector of
        each block, loaded once for all pairs. A lone pixel adds its lookups to its byte
        counters; a pair adds each run's (`runs`) lookups' sum S to its counters C (S) and U
        (S >> 4 in 16-bit lanes), which `flush` decodes (`pair_counts`)."""
        b = self.k.b
        shorts = ir.VectorType(ir.IntType(16), 16)
        pairs = [pixels[p:p + 2] for p in range(0, len(pixels), 2)]
        rows = [self.table_rows(pair if len(pair) == 2 else [pair[0], i64(0)]) for pair in pairs]
        for first, stop in self.runs if len(pixels) > 1 else ((0, 16),):
            sums: dict[tuple[int, int], ir.Value] = {}
            for q in range(first, stop):
                tables = [self.table_row(pair_rows, q) for pair_rows in rows]
                for m in range(self.g.blocks):
                    indices = self.weight_indices(tile, m, r, s, word, q)
                    for k, table in enumerate(tables):
                        found = b.call(self.pshufb, [table, indices])
                        sums[k, m] = b.add(sums[k, m], found) if (k, m) in sums else found
            for (k, m), value in sums.items():
                parts = [value] if len(pairs[k]) == 1 else [
                    value, b.bitcast(b.lshr(b.bitcast(value, shorts), ir.Constant(shorts, [4] * 16)), BYTES)]
                for counters, part in zip(state.counters[2 * k:], parts):
                    b.store(b.add(b.load(counters[m][0]), part), counters[m][0])

    def table_rows(self, planes: list[ir.Value]) -> tuple[ir.Value, ir.Value]:
        """The table rows of a word's 16 nibbles as bytes of two words: byte k of the first is
        row n_0 + 16 n_1 of nibble 2k (the planes' low nibbles of byte k), of the second that of
        nibble 2k + 1 (their high nibbles)."""
        b, low = self.k.b, i64(LOW_NIBBLES)
        even = odd = None
        for i, word in enumerate(planes):
            lows, highs = b.and_(word, low), b.and_(b.lshr(word, i64(4)), low)
            if i:
                lows, highs = b.shl(lows, i64(4 * i)), b.shl(highs, i64(4 * i))
            even, odd = (lows, highs) if even is None else (b.or_(even, lows), b.or_(odd, highs))
        assert even is not None and odd is not None
        return even, odd

    def table_row(self, rows: tuple[ir.Value, ir.Value], q: int) -> ir.Value:
        """The table of nibble q (row n_0 + 16 n_1, from `table_rows`)."""
        b = self.k.b
        row = b.and_(b.lshr(rows[q % 2], i64(8 * (q // 2))), i64(255))
        return b.load(element_ptr(b, self.tables, "uint8", b.mul(row, i64(32))), typ=BYTES, align=1)

    def weight_indices(self, tile, m: int, r: ir.Value, s: int, word, q: int) -> ir.Value:
        """wt[tile*M + m, r, s, word, q]: the 32 channels' nibbles q."""
        g, b = self.g, self.k.b
        ob = b.add(b.mul(tile, i64(g.blocks)), i64(m))
        at = b.add(b.mul(b.add(b.mul(b.add(b.mul(ob, i64(g.kh)), r), i64(g.kw)), i64(s)), i64(g.words)), word)
        at = b.mul(b.add(b.mul(at, i64(16)), i64(q)), i64(32))
        return b.load(element_ptr(b, self.weights, "uint8", at), typ=BYTES, align=1)

    def flush(self, state: Tile) -> None:
        """Add each byte counter, unpacked with zeros into 16-bit lanes, to its sums, and zero it."""
        b, zero = self.k.b, ir.Constant(BYTES, None)
        masks = [ir.Constant(ir.VectorType(I32, 32), [i for half in (start, start + 16) for j in range(8)
                                                       for i in (half + j, 32 + half + j)]) for start in (0, 8)]
        counts = [[b.load(count) for (count,) in row] for row in state.counters]
        for k in range(0, len(counts) - 1 if self.g.a == 1 else 0, 2):
            counts[k:k + 2] = [list(pixel) for pixel in zip(*[pair_counts(b, *both) for both in zip(*counts[k:k + 2])])]
        for accs, counters, values in zip(state.accs, state.counters, counts):
            for pair, (count,), counted in zip(accs, counters, values):
                for slot, mask in zip(pair, masks):
                    wide = b.bitcast(b.shuffle_vector(counted, zero, mask), self.half)
                    b.store(b.add(b.load(slot), wide), slot)
                b.store(zero, count)

    def use_thresholds(self, plan: Plan, bias: np.ndarray, steps: tuple) -> None:
        """Requantize by compares (`level_thresholds`) where the output is 8-bit and staged and
        the epilogue is a few monotone levels over this kernel's sums: the thresholds less one
        (`store` compares v > T - 1) padded to whole tiles (past O never reached), a parameter
        [L, channels]."""
        g = self.g
        reach = g.kh * g.kw * g.words * table_word_sum(g.a)
        table = level_thresholds(bias, steps, -reach if self.bipolar else 0, reach)
        if table is None or not isinstance(self.stage, ByteStaging):
            return
        padded = np.full((table.shape[0], g.tiles * g.blocks * g.v), INT16[1], np.int16)
        padded[:, :g.o] = table - 1  # v >= T as v > T - 1: AVX2 compares words by VPCMPGTW
        self.thresholds = self.k.base(plan.add_param(f"{self.k.function.name}.thresholds", padded))
        self.levels = table.shape[0]

    def store(self, n, tiles: tuple[ir.Value, ir.Value], oh, ows: list[ir.Value], state: Tile) -> None:
        """With thresholds, each block's 8-bit outputs from its 16-bit sums: v = the sum (bipolar:
        2 sum - ones, exact mod 2^16 as v fits int16), out = Σ_k [v > T[k] - 1] per channel, staged
        as one vector; else `Emitter.store`."""
        if self.thresholds is None:
            super().store(n, tiles, oh, ows, state)
            return
        g, b = self.g, self.k.b
        assert isinstance(self.stage, ByteStaging)
        (tile, inner), half, width = tiles, self.half, g.tiles * g.blocks * g.v
        narrow = ir.VectorType(ir.IntType(8), half.count)
        for p, (accs, ow) in enumerate(zip(state.accs, ows)):
            correction = splat(b, b.trunc(b.load(state.ones[p]), half.element), half.count) if state.ones else None
            for m, pair in enumerate(accs):
                first = b.mul(b.add(b.mul(tile, i64(g.blocks)), i64(m)), i64(g.v))
                halves = []
                for h, slot in enumerate(pair):
                    v = b.load(slot)
                    if correction is not None:
                        v = b.sub(b.shl(v, ir.Constant(half, [1] * half.count)), correction)
                    level = ir.Constant(narrow, None)
                    for k in range(self.levels):
                        at = b.add(first, i64(k * width + h * half.count))
                        bound = b.load(element_ptr(b, self.thresholds, "int16", at), typ=half, align=2)
                        level = b.add(level, b.zext(b.icmp_signed(">", v, bound), narrow))
                    halves.append(level)
                values = b.shuffle_vector(halves[0], halves[1], ir.Constant(ir.VectorType(I32, g.v), list(range(g.v))))
                self.stage.store(values, b.add(b.mul(inner, i64(g.blocks * g.v)), i64(m * g.v)), ow)

    def sums(self, slot, lanes: ir.VectorType) -> ir.Value:
        """A block's two 16-bit sums (channels 0-15, 16-31) as one vector of 32 `lanes`."""
        b = self.k.b
        low, high = (b.zext(b.load(half), ir.VectorType(lanes.element, self.g.v // 2)) for half in slot)
        return b.shuffle_vector(low, high, ir.Constant(ir.VectorType(I32, self.g.v), list(range(self.g.v))))
