"""The epilogue of a register block whose vector lanes hold output channels (`lanes_conv`, `pixel_gemm`).

A block holds acc[j][v] = pixel j's output channels v*L ... v*L + L - 1 (NB = NV x L channels),
and the image stores each output channel's pixels contiguously, so the block is stored
transposed, through a stack tile of NB floats per pixel:

    (residual)  tile[j][o] = residual[o][j]               for o < nout, j < npix
    tile[j][v*L ...] = steps(acc[j][v] + bias[v*L ...])     (an add step reads the tile)
    out[o][j] = tile[j][o]                                  for o < nout, j < npix

element by element, NB x rows scalar moves once per block: about L reduction steps' worth. With
8 lanes a block of at most 8 rows whose caller allows it (`finish`'s `whole`) is transposed in
registers instead (8 x 8 shuffles per vector of channels) and each channel's 8 pixels stored as
one vector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from operator import getitem

from llvmlite import ir

from frittata.backends.llvm.irutil import F32, I32, entry_alloca, for_range, i64
from frittata.backends.llvm.micro import vector_step


class ChannelLanes:
    """Sizes of a kernel whose `o` output channels run in blocks of NB = NV vectors of `lanes`
    (mixed into the kernel's frozen geometry dataclass, which declares the fields)."""

    o: int
    lanes: int
    nv: int

    @property
    def nb(self) -> int:
        """Output channels per block."""
        return self.lanes * self.nv

    @property
    def channel_blocks(self) -> int:
        """Blocks of NB output channels, the last one partial."""
        return -(-self.o // self.nb)


@dataclass(frozen=True)
class Epilogue:
    """What a block applies before its store: the fused `steps` (a residual `add` among them),
    on output channels `stride` floats apart in the image (its pixel count)."""

    lanes: int
    nv: int
    stride: int
    steps: tuple
    residual: bool

    @property
    def nb(self) -> int:
        return self.lanes * self.nv


def stack_tile(b: ir.IRBuilder, e: Epilogue, rows: int) -> ir.Value:
    """The block's stack tile of rows x NV vectors, allocated in the function's entry block."""
    return entry_alloca(b, ir.VectorType(F32, e.lanes), name="tile", count=rows * e.nv)


def finish(b: ir.IRBuilder, e: Epilogue, acc: list[list[ir.Value]], vectors: ir.Value, out, bias, residual,
           nout, npix=None, whole=None) -> None:
    """Store the block acc (rows of NV accumulator slots) to `out` through the tile `vectors`
    (see the module docstring); `npix` rows of it, all of them when None. Where `whole` (an i1)
    holds at run time, the block has all NB channels and TRANSPOSE_LANES floats from its first
    pixel are inside each channel's row (those past its rows are the caller's to store later):
    with 8 lanes and at most 8 rows, the block is then transposed in registers instead
    (`_finish_transposed`)."""
    if whole is not None and e.lanes == TRANSPOSE_LANES and len(acc) <= TRANSPOSE_LANES and npix is None:
        with b.if_else(whole) as (fast, slow):
            with fast:
                _finish_transposed(b, e, acc, out, bias, residual)
            with slow:
                _finish_through_tile(b, e, acc, vectors, out, bias, residual, nout, npix)
        return
    _finish_through_tile(b, e, acc, vectors, out, bias, residual, nout, npix)


TRANSPOSE_LANES = 8
"""Lanes of the in-register transpose (an 8 x 8 block of floats: AVX2's vectors)."""


def _finish_transposed(b: ir.IRBuilder, e: Epilogue, acc: list[list[ir.Value]], out, bias, residual) -> None:
    """The block through 8 x 8 transposes: each vector of 8 channels of the block's rows (rows
    past the block undefined) becomes 8 vectors of one channel's 8 pixels, stored whole (the
    pixels past the block's rows too); a residual is read the same way back."""
    vec = ir.VectorType(F32, e.lanes)
    rows = len(acc)
    for v in range(e.nv):
        added = None
        if e.residual:
            channels = [b.load(b.gep(residual, [i64((v * e.lanes + j) * e.stride)], source_etype=F32), typ=vec,
                               align=4) for j in range(e.lanes)]
            added = transpose8(b, channels)
        bias_v = b.load(b.gep(bias, [i64(v * e.lanes)], source_etype=F32), typ=vec, align=4)
        rows_added = added or []
        values = [_steps(b, e, b.fadd(b.load(acc[j][v]), bias_v), partial(getitem, rows_added, j)) for j in range(rows)]
        undefined = ir.Constant(vec, ir.Undefined)
        for j, channel in enumerate(transpose8(b, values + [undefined] * (e.lanes - rows))):
            b.store(channel, b.gep(out, [i64((v * e.lanes + j) * e.stride)], source_etype=F32), align=4)


def transpose8(b: ir.IRBuilder, rows: list[ir.Value]) -> list[ir.Value]:
    """The transpose of 8 vectors of 8 floats (out[j][i] = rows[i][j]): pairs interleaved, pairs
    of pairs, then 128-bit halves (unpcklps / shufps / vperm2f128 on AVX2)."""

    def shuffle(x, y, mask: list[int]) -> ir.Value:
        return b.shuffle_vector(x, y, ir.Constant(ir.VectorType(I32, 8), mask))

    low, high = [0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]
    t = [shuffle(rows[i], rows[i + 1], mask) for i in range(0, 8, 2) for mask in (low, high)]
    even, odd = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
    u = [shuffle(t[i + k], t[i + k + 2], mask) for i in (0, 4) for k in (0, 1) for mask in (even, odd)]
    first, second = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]
    columns = [shuffle(u[j], u[j + 4], first) for j in range(4)] + [shuffle(u[j], u[j + 4], second) for j in range(4)]
    return columns


def _finish_through_tile(b: ir.IRBuilder, e: Epilogue, acc: list[list[ir.Value]], vectors: ir.Value, out, bias,
                         residual, nout, npix=None) -> None:
    """`finish` element by element through the stack tile."""
    vec = ir.VectorType(F32, e.lanes)
    tile = b.bitcast(vectors, F32.as_pointer())
    if e.residual:
        _transpose(b, e, len(acc), nout, npix, residual, tile, to_tile=True)
    for j, row in enumerate(acc):
        for v, slot in enumerate(row):
            bias_v = b.load(b.gep(bias, [i64(v * e.lanes)], source_etype=F32), typ=vec, align=4)
            value = b.fadd(b.load(slot), bias_v)
            lanes = b.gep(vectors, [i64(j * e.nv + v)], source_etype=vec)
            b.store(_steps(b, e, value, partial(b.load, lanes, typ=vec, align=4)), lanes, align=4)
    _transpose(b, e, len(acc), nout, npix, out, tile, to_tile=False)


def _steps(b: ir.IRBuilder, e: Epilogue, value: ir.Value, added: Callable[[], ir.Value]) -> ir.Value:
    """The epilogue's steps on one vector of channels (the accumulators plus bias); `added()`
    gives an add step's operand (the residual's lanes), emitted where the step is."""
    for step in e.steps:
        value = vector_step(b, e.lanes, step, value, added() if step == ("add",) else None)
    return value


def _transpose(b: ir.IRBuilder, e: Epilogue, rows: int, nout, npix, image, tile, to_tile: bool) -> None:
    """tile[j][o] <-> image[o][j] (channels `stride` floats apart) for o < nout and j < npix,
    the rows unrolled when all `rows` are stored (npix None, or equal to rows at run time)."""
    with for_range(b, 0, nout, name="o") as o:
        channel = b.gep(image, [b.mul(o, i64(e.stride))], source_etype=F32)
        if npix is None:
            _move_rows(b, e, rows, channel, tile, o, to_tile)
        else:
            with b.if_else(b.icmp_signed("==", npix, i64(rows))) as (whole, part):
                with whole:
                    _move_rows(b, e, rows, channel, tile, o, to_tile)
                with part:
                    with for_range(b, 0, npix, name="j") as j:
                        _move(b, e, channel, tile, o, j, to_tile)


def _move_rows(b: ir.IRBuilder, e: Epilogue, rows: int, channel, tile, o, to_tile: bool) -> None:
    for j in range(rows):
        _move(b, e, channel, tile, o, i64(j), to_tile)


def _move(b: ir.IRBuilder, e: Epilogue, channel, tile, o, j, to_tile: bool) -> None:
    """One float between the tile (pixel j's channel o) and the image (`channel`'s pixel j),
    into the tile when `to_tile`, out of it otherwise."""
    staged = b.gep(tile, [b.add(b.mul(j, i64(e.nb)), o)], source_etype=F32)
    pixel = b.gep(channel, [j], source_etype=F32)
    src, dst = (pixel, staged) if to_tile else (staged, pixel)
    b.store(b.load(src, typ=F32), dst)
