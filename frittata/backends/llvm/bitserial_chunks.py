"""Reduction chunks of a bit-serial kernel's rows: where one tile's weights pass
WEIGHT_CACHE_BYTES, a row is walked once per chunk of the window (kernel rows, or words of each
tap), every pixel of the row against the chunk's weights, so those are read from L1 by each
pixel rather than streamed from L2 for each; the pixels' partial sums wait in a stack array
[OW][the pixel's accumulator slots] between chunks. The last chunk stores (with the epilogue);
the others save."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from llvmlite import ir

from frittata.backends.llvm.irutil import element_ptr, entry_alloca, for_range, i64, if_then
from frittata.terms.cpu_geometry import L1_DATA_BYTES

if TYPE_CHECKING:
    from frittata.backends.llvm.bitserial_emitter import Geometry, Tile
    from frittata.backends.llvm.kernel import Kernel

WEIGHT_CACHE_BYTES = L1_DATA_BYTES // 2
"""Weights of the tiles walked together over the rows, or of one reduction chunk: half of the
L1 data cache, the other half for the input rows they read."""
PARTIALS_BYTES = 32 * 1024
"""The stack array of a row's partial sums at most: past it (rows of ~240 columns and more of
two-block tiles), the row is walked unchunked. Threads of the exported C runtime get the default
stack (musl: 128 KiB), so the array and a staging buffer (16 KiB at most) stay under half of it;
a 224-column row of two-block tiles (136 bytes a pixel) takes 29.75 KiB and still chunks."""


class ReductionChunks:
    """The reduction chunks of `Emitter` (see the module docstring); `chunks_reduction` turns
    them on."""

    k: Kernel
    g: Geometry
    group: int
    chunk_rows: int
    chunk_words: int
    chunk: ir.Value | None
    partials: ir.Value | None
    acc_type: ir.VectorType

    wtype: ir.IntType
    nibbles: bool

    @property
    def tile_weight_bytes(self) -> int:
        """Bytes of repacked weights one tile reads for an output pixel."""
        g = self.g
        return g.blocks * g.kh * g.kw * g.b * g.words * g.v * self.wtype.width // 8 * (2 if self.nibbles else 1)

    @property
    def pixel_partial_bytes(self) -> int:
        """Bytes of one pixel's partial sums between reduction chunks (`partial_slots`): a vector
        of 64-bit sums per channel block, and the window popcount a tile counts in its steps."""
        return self.g.blocks * _bytes(self.acc_type) + (8 if self.counts_ones_in_steps else 0)

    @property
    def chunks_reduction(self) -> bool:
        """Whether a tile whose weights pass WEIGHT_CACHE_BYTES walks its row in reduction
        chunks (`reduction_chunk`)."""
        return False

    def reduction_chunk(self) -> tuple[int, int]:
        """(kernel rows, words of a tap) of one reduction chunk: the whole window, or where one
        tile's weights pass WEIGHT_CACHE_BYTES (and `chunks_reduction`, and the row's partial sums
        fit PARTIALS_BYTES), the most kernel rows, else one row and the most words of each tap,
        whose weights fit it. Each chunk runs over
        the whole output row, so its weights are read from L1 by every pixel of the row; the
        pixels' partial sums wait in a stack array between chunks (`resume`, `save`)."""
        g = self.g
        per_row = self.tile_weight_bytes // g.kh
        if (not self.chunks_reduction or self.group > 1 or g.kh * per_row <= WEIGHT_CACHE_BYTES
                or g.ow * self.pixel_partial_bytes > PARTIALS_BYTES):
            return g.kh, g.words
        if per_row <= WEIGHT_CACHE_BYTES:
            return max(r for r in range(1, g.kh + 1) if g.kh % r == 0 and r * per_row <= WEIGHT_CACHE_BYTES), g.words
        per_word = per_row // g.words
        fits = [d for d in range(1, g.words + 1) if g.words % d == 0 and d * per_word <= WEIGHT_CACHE_BYTES]
        return 1, max(fits, default=1)

    @property
    def chunk_count(self) -> int:
        """Reduction chunks a row is walked in (1: the whole window at once)."""
        return (self.g.kh // self.chunk_rows) * (self.g.words // self.chunk_words)

    @contextmanager
    def chunk_loop(self) -> Iterator[None]:
        """The body once per reduction chunk of the row (`self.chunk` its index), or once."""
        if self.chunk_count == 1:
            yield
            return
        with for_range(self.k.b, 0, self.chunk_count, name="chunk") as chunk:
            self.chunk = chunk
            yield
        self.chunk = None

    def chunk_is(self, which: int) -> ir.Value:
        """Whether the current reduction chunk is chunk `which` (-1: the last)."""
        assert self.chunk is not None
        return self.k.b.icmp_signed("==", self.chunk, i64(which % self.chunk_count))

    @contextmanager
    def when_last_chunk(self) -> Iterator[None]:
        """The body only in the row's last reduction chunk."""
        if self.chunk is None:
            yield
            return
        with if_then(self.k.b, self.chunk_is(-1), "last"):
            yield

    def chunk_start(self) -> tuple[ir.Value, ir.Value]:
        """The first kernel row and word of the current reduction chunk."""
        if self.chunk is None:
            return i64(0), i64(0)
        b, splits = self.k.b, self.g.words // self.chunk_words
        return (b.mul(b.udiv(self.chunk, i64(splits)), i64(self.chunk_rows)),
                b.mul(b.urem(self.chunk, i64(splits)), i64(self.chunk_words)))

    def partial_slots(self, state: Tile, p: int) -> list[ir.Value]:
        """The slots of pixel p's partial sums kept between reduction chunks: its accumulators
        (and the window popcount a tile counts in its steps)."""
        slots = [slot for acc in state.accs[p] for slot in (acc if isinstance(acc, tuple) else (acc,))]
        return slots + ([state.ones[p]] if self.counts_ones_in_steps else [])

    @property
    def counts_ones_in_steps(self) -> bool:
        """Whether a tile counts its pixels' window popcounts in its word steps, in its own
        slots (bipolar: else `window_ones` counts them before the tiles)."""
        return False

    def partial_address(self, state: Tile, p: int, ow: ir.Value) -> list[tuple[ir.Value, ir.Value]]:
        """Each partial slot of pixel p (column ow) with its place in the stack array of the row's
        partial sums (allocated on first use: [OW][the pixel's slots])."""
        b, slots = self.k.b, self.partial_slots(state, p)
        sizes = [_bytes(slot.allocated_type) for slot in slots]
        assert sum(sizes) == self.pixel_partial_bytes, f"expected {self.pixel_partial_bytes} bytes a pixel, got {sizes}"
        if self.partials is None:
            self.partials = entry_alloca(b, ir.IntType(8), "partials", self.g.ow * sum(sizes))
            self.partials.align = 32
        base = b.mul(ow, i64(sum(sizes)))
        offsets = [sum(sizes[:i]) for i in range(len(slots))]
        return [(slot, b.bitcast(element_ptr(b, self.partials, "uint8", b.add(base, i64(at))), slot.type))
                for slot, at in zip(slots, offsets)]

    def resume(self, state: Tile, ows: list[ir.Value]) -> None:
        """Load the partial sums of the tile's pixels left by the previous reduction chunk."""
        b = self.k.b
        for p, ow in enumerate(ows):
            for slot, at in self.partial_address(state, p, ow):
                b.store(b.load(at, typ=slot.allocated_type, align=8), slot)

    def save(self, state: Tile, ows: list[ir.Value]) -> None:
        """Keep the partial sums of the tile's pixels for the next reduction chunk."""
        b = self.k.b
        for p, ow in enumerate(ows):
            for slot, at in self.partial_address(state, p, ow):
                b.store(b.load(slot), at).align = 8


def _bytes(t: ir.Type) -> int:
    """Bytes of an integer or a vector of integers."""
    if isinstance(t, ir.VectorType):
        return t.count * _bytes(t.element)
    assert isinstance(t, ir.IntType), f"expected an integer or vector type, got {t}"
    return t.width // 8
