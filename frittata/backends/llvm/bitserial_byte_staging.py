"""The staging buffer of a bit-serial kernel's 8-bit stores: a tile's block of channels goes to
the buffer as one vector per pixel, and each completed chunk of STAGE_PIXELS pixels of a row is
transposed in registers and stored with one 8-byte store per channel.

The output is NCHW, so in place each channel's value of a pixel is a store of its own (and an
extract from the block's vector): per 8 pixels and 32 channels, 256 of each. Staged, the same
values cost 8 vector stores into the buffer, 8 vector loads, 24 unpacks (`TRANSPOSE`) and 32
8-byte stores. The buffer is [3 areas of STAGE_PIXELS pixels][channels of the tile group,
rounded up to TRANSPOSE_CHANNELS]: the row's last chunk has an area of its own, and the others
take turns in two (a tile of several pixels may finish one chunk and start the next), so the
border columns of the first and last chunks can run before the row's interior.

A1W1 / A2W1 bipolar with the requantization to int8, one Zen 3 core, CPU time, in-process A/B
against the stores lane by lane, bit-exact, 31 rounds, load ~11: 64 -> 128 at 112x112 2.72 ->
2.25 ms / 5.58 -> 5.02 ms, 128 -> 256 at 56x56 2.82 -> 2.46 / 5.52 -> 4.99 (11 rounds:
256 -> 256 at 56x56 1.07x / 1.05x, 512 -> 512 at 28x28 1.06x / 1.06x, at 14x14 1.03x / 1.03x).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from math import gcd

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.bitserial_staging import STAGE_PIXELS
from frittata.backends.llvm.irutil import I32, I64, element_ptr, entry_alloca, for_range, i64, if_then, ltype, smin
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View

TRANSPOSE_CHANNELS = 32
"""Channels transposed at once: the bytes of one AVX2 vector."""
BYTE_STAGE_BYTES = 16 * 1024
"""The staging buffer at most (a stack array): past it, values are stored in place."""
BYTES = ir.VectorType(ir.IntType(8), TRANSPOSE_CHANNELS)


def _unpack_mask(width: int, high: bool) -> list[int]:
    """VPUNPCK{L,H}{BW,WD,DQ}'s shuffle of two 32-byte vectors seen as elements of `width`
    bytes: per 128-bit half, the low (high) half's elements of a and b interleaved."""
    n = TRANSPOSE_CHANNELS // width
    quarter = n // 4
    return [v * n + half * (n // 2) + high * quarter + i
            for half in (0, 1) for i in range(quarter) for v in (0, 1)]


def _plan() -> tuple[list[tuple[int, int, int, bool]], list[tuple[int, list[int]]]]:
    """The unpack steps of the transpose of STAGE_PIXELS vectors of 32 channels into vectors of
    four 8-byte rows (one channel's STAGE_PIXELS pixels each), found by following each byte's
    (pixel, channel) label through the shuffles: steps (a, b, width, high) appended to the
    vector list in order, and the final vectors with the channel of each of their 8-byte lanes."""
    labels = [np.array([(p, c) for c in range(TRANSPOSE_CHANNELS)]) for p in range(STAGE_PIXELS)]
    layer = list(range(STAGE_PIXELS))
    steps = []
    for width in (1, 2, 4):
        paired = []
        for a, b in zip(layer[0::2], layer[1::2]):
            for high in (False, True):
                mask = _unpack_mask(width, high)
                both = np.concatenate([labels[a].reshape(-1, width, 2), labels[b].reshape(-1, width, 2)])
                labels.append(both[mask].reshape(-1, 2))
                steps.append((a, b, width, high))
                paired.append(len(labels) - 1)
        # the next layer pairs vectors holding the same channels: a's (lower pixels) first
        layer = sorted(paired, key=lambda v: (tuple(labels[v][:, 1]), labels[v][0, 0]))
    rows = []
    for v in layer:
        lanes = labels[v].reshape(-1, STAGE_PIXELS, 2)
        assert all((lane[:, 0] == np.arange(STAGE_PIXELS)).all() and (lane[:, 1] == lane[0, 1]).all() for lane in lanes)
        rows.append((v, [int(lane[0, 1]) for lane in lanes]))
    return steps, rows


TRANSPOSE = _plan()


def transposed(b: ir.IRBuilder, vectors: list[ir.Value]) -> list[tuple[ir.Value, list[int]]]:
    """STAGE_PIXELS vectors of 32 bytes transposed by unpacks (`TRANSPOSE`): vectors of four
    8-byte rows as <4 x i64>, each with the byte index of each of its rows -- row c holds byte c
    of vectors 0, 1, ..., STAGE_PIXELS - 1 in order."""
    steps, rows = TRANSPOSE
    vectors = list(vectors)
    for first, second, width, high in steps:
        mask = ir.Constant(ir.VectorType(I32, TRANSPOSE_CHANNELS // width), _unpack_mask(width, high))
        lanes = ir.VectorType(ir.IntType(8 * width), TRANSPOSE_CHANNELS // width)
        pair = [vectors[v] if width == 1 else b.bitcast(vectors[v], lanes) for v in (first, second)]
        both = b.shuffle_vector(*pair, mask)
        vectors.append(both if width == 1 else b.bitcast(both, BYTES))
    return [(b.bitcast(vectors[v], ir.VectorType(I64, 4)), lanes) for v, lanes in rows]


def _row(channels: int) -> int:
    """A pixel's row of the buffer: `channels` rounded up to whole transposes."""
    return -(-channels // TRANSPOSE_CHANNELS) * TRANSPOSE_CHANNELS


@dataclass(frozen=True)
class ByteStaging:
    """The per-thread buffer of a tile group's 8-bit values: `out` [N, O, OH, OW] is the output,
    `tile_channels` the channels of one tile and `group` its tiles walked together."""

    k: Kernel
    out: View
    buffer: ir.Value
    tile_channels: int
    group: int

    @classmethod
    def of(cls, k: Kernel, out: View, tile_channels: int, group: int, pixels: int) -> ByteStaging | None:
        """The buffer for tiles of `pixels` pixels, or None: outputs wider than a byte, rows
        shorter than a chunk, a group whose buffer would pass BYTE_STAGE_BYTES, or tiles wider
        than a chunk."""
        size = _row(group * tile_channels) * 3 * STAGE_PIXELS
        if ltype(out.dtype).width != 8 or out.shape[3] < STAGE_PIXELS or size > BYTE_STAGE_BYTES \
                or pixels > STAGE_PIXELS:
            return None
        buffer = entry_alloca(k.b, ltype(out.dtype), "stage", size)
        buffer.align = TRANSPOSE_CHANNELS  # every pixel's row starts at a multiple of 32 bytes
        return cls(k, out, buffer, tile_channels, group)

    @property
    def width(self) -> int:
        """Channels of a pixel's row of the buffer."""
        return _row(self.group * self.tile_channels)

    def area(self, chunk) -> ir.Value:
        """The buffer's first element of a chunk of the row: area 2 for the last, else 0 or 1."""
        b, last = self.k.b, (self.out.shape[3] - 1) // STAGE_PIXELS
        area = b.select(b.icmp_signed("==", chunk, i64(last)), i64(2), b.urem(chunk, i64(2)))
        return b.mul(area, i64(STAGE_PIXELS * self.width))

    def store(self, values: ir.Value, channel, ow) -> None:
        """Store a block's vector of 8-bit values (channels `channel`.. of the tile group, a
        multiple of its lanes) of pixel ow: aligned to its lanes' largest power of two up to 32,
        as the pixel's row starts at a multiple of 32 bytes."""
        b = self.k.b
        pixel = b.mul(b.urem(ow, i64(STAGE_PIXELS)), i64(self.width))
        row = b.add(self.area(b.udiv(ow, i64(STAGE_PIXELS))), pixel)
        target = element_ptr(b, self.buffer, self.out.dtype, b.add(row, channel))
        align = gcd(values.type.count, TRANSPOSE_CHANNELS)
        b.store(values, b.bitcast(target, values.type.as_pointer()), align=align)

    def copy_chunk(self, n, first, oh, chunk, pixels: int) -> None:
        """Copy chunk `chunk` of the row (its first `pixels` pixels) from the buffer to
        out[n, o, oh, :] for each channel o of the tile group from tile `first`."""
        b = self.k.b
        base = b.mul(first, i64(self.tile_channels))
        count = smin(b, i64(self.group * self.tile_channels), b.sub(i64(self.out.shape[1]), base))
        start = self.area(chunk)
        with for_range(b, 0, self.width // TRANSPOSE_CHANNELS, name="transpose") as block:
            c0 = b.mul(block, i64(TRANSPOSE_CHANNELS))
            vectors = [b.load(element_ptr(b, self.buffer, self.out.dtype,
                                          b.add(b.add(start, i64(p * self.width)), c0)), typ=BYTES,
                              align=TRANSPOSE_CHANNELS)
                       for p in range(STAGE_PIXELS)]
            for words, lane_channels in transposed(b, vectors):
                for lane, c in enumerate(lane_channels):
                    o = b.add(c0, i64(c))
                    with if_then(b, b.icmp_signed("<", o, count), "row") if self.partial else nullcontext():
                        target = self.k.address(self.out, [n, b.add(base, o), oh, b.mul(chunk, i64(STAGE_PIXELS))])
                        self._store_row(b.extract_element(words, ir.Constant(I32, lane)), target, pixels)

    @property
    def partial(self) -> bool:
        """Whether a tile group's rows of the buffer may hold channels past O (then each
        channel's store checks it): unless every group's channels are whole transposes of
        channels under O."""
        channels = self.group * self.tile_channels
        return bool(self.out.shape[1] % channels or channels % TRANSPOSE_CHANNELS)

    def _store_row(self, word: ir.Value, target: ir.Value, pixels: int) -> None:
        """Store the first `pixels` bytes of `word` (pixel p in byte p) at `target`."""
        b, done = self.k.b, 0
        for size in (8, 4, 2, 1):
            if pixels - done >= size:
                piece = b.trunc(b.lshr(word, i64(8 * done)), ir.IntType(8 * size)) if size < 8 else word
                at = b.gep(target, [i64(done)], source_etype=ir.IntType(8))
                b.store(piece, b.bitcast(at, piece.type.as_pointer()), align=1)
                done += size
