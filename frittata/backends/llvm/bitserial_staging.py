"""The staging buffer of a bit-serial kernel's stores: where its output planes are large, a
tile's values wait in a small buffer until a chunk of the row is complete, then go out with one
vector store per channel.

The output is NCHW, so a tile's channels are as many planes: stored in place, each of its values
goes to its own page. Where the planes are large (`STAGE_PLANE_BYTES`), a tile's values go to a
small per-thread buffer instead, [channel of the tile group][2 chunks of STAGE_PIXELS pixels],
and each completed chunk of a row is copied out with one vector store per channel (the row's
last, shorter chunk element by element); two chunks, because a tile of several pixels may
finish one chunk and start the next.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from frittata.backends.llvm.irutil import element_ptr, entry_alloca, for_range, i64, ltype, smin
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View

STAGE_PIXELS = 8
"""Pixels of a row per copied chunk: 32 bytes of int32 per channel, one AVX2 store."""
STAGE_PLANE_BYTES = 32 * 1024
"""Output planes from which a tile's values are staged. On one Zen 3 core (CPU time, medians):
planes of 112x112 int32 (49 KiB) A1W1 64 -> 128 3.7 -> 3.1 ms, A2W1 5.9 -> 5.2 ms, A1W1 64 ->
64 2.0 -> 1.5 ms; planes of 56x56 (12 KiB) 0-8% slower staged (A2W1 128 -> 256 4.9 -> 5.4 ms)."""
STAGE_BYTES = 16 * 1024
"""The staging buffer at most (a stack array): past it, values are stored in place."""


@dataclass(frozen=True)
class Staging:
    """The per-thread buffer of a tile group's values: `out` [N, O, OH, OW] is the output,
    `tile_channels` the channels of one tile and `group` its tiles walked together."""

    k: Kernel
    out: View
    buffer: ir.Value
    tile_channels: int
    group: int

    @classmethod
    def of(cls, k: Kernel, out: View, tile_channels: int, group: int, pixels: int) -> Staging | None:
        """The buffer for tiles of `pixels` pixels, or None: planes under STAGE_PLANE_BYTES, rows
        shorter than a chunk, a group whose buffer would pass STAGE_BYTES, or tiles wider than a
        chunk (the buffer's two chunks per row hold a tile only when it spans at most two)."""
        _, _, oh, ow = out.shape
        out_type = ltype(out.dtype)
        width, size = out_type.width // 8, group * tile_channels * 2 * STAGE_PIXELS
        if (oh * ow * width < STAGE_PLANE_BYTES or ow < STAGE_PIXELS or size * width > STAGE_BYTES
                or pixels > STAGE_PIXELS):
            return None
        return cls(k, out, entry_alloca(k.b, out_type, "stage", size), tile_channels, group)

    def copy_chunk(self, n, first, oh, chunk, pixels: int) -> None:
        """Copy chunk `chunk` of the row (its first `pixels` pixels) from the buffer to
        out[n, o, oh, :] for each channel o of the tile group from tile `first`."""
        b, out_type = self.k.b, ltype(self.out.dtype)
        base = b.mul(first, i64(self.tile_channels))
        count = smin(b, i64(self.group * self.tile_channels), b.sub(i64(self.out.shape[1]), base))
        half = b.mul(b.urem(chunk, i64(2)), i64(STAGE_PIXELS))
        row = ir.VectorType(out_type, STAGE_PIXELS)
        align = out_type.width // 8
        with for_range(b, 0, count, name="copy") as c:
            source = self.slot(c, half)
            target = self.k.address(self.out, [n, b.add(base, c), oh, b.mul(chunk, i64(STAGE_PIXELS))])
            if pixels == STAGE_PIXELS:
                b.store(b.load(source, typ=row, align=align), target, align=align)
            for p in range(pixels if pixels < STAGE_PIXELS else 0):
                value = b.load(b.gep(source, [i64(p)], source_etype=out_type), typ=out_type)
                b.store(value, b.gep(target, [i64(p)], source_etype=out_type))

    def slot(self, channel, index) -> ir.Value:
        """The buffer's element for the tile group's `channel` and `index` (pixel mod 2 chunks)."""
        b = self.k.b
        return element_ptr(b, self.buffer, self.out.dtype, b.add(b.mul(channel, i64(2 * STAGE_PIXELS)), index))

    def address(self, channel, ow) -> ir.Value:
        """The element that out[., ., ., ow] of the tile group's `channel` waits in."""
        return self.slot(channel, self.k.b.urem(ow, i64(2 * STAGE_PIXELS)))
