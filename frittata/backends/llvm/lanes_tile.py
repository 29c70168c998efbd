"""The epilogue of a register block whose vector lanes hold output channels (`lanes_conv`, `pixel_gemm`).

A block holds acc[j][v] = pixel j's output channels v*L ... v*L + L - 1 (NB = NV x L channels),
and the image stores each output channel's pixels contiguously, so the block is stored
transposed, through a stack tile of NB floats per pixel:

    (residual)  tile[j][o] = residual[o][j]               for o < nout, j < npix
    tile[j][v*L ...] = steps(acc[j][v] + bias[v*L ...])     (an add step reads the tile)
    out[o][j] = tile[j][o]                                  for o < nout, j < npix

element by element, NB x rows scalar moves once per block: about L reduction steps' worth.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from frittata.backends.llvm.irutil import F32, entry_alloca, for_range, i64
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
           nout, npix=None) -> None:
    """Store the block acc (rows of NV accumulator slots) to `out` through the tile `vectors`
    (see the module docstring); `npix` rows of it, all of them when None."""
    vec = ir.VectorType(F32, e.lanes)
    tile = b.bitcast(vectors, F32.as_pointer())
    if e.residual:
        _transpose(b, e, len(acc), nout, npix, residual, tile, to_tile=True)
    for j, row in enumerate(acc):
        for v, slot in enumerate(row):
            bias_v = b.load(b.gep(bias, [i64(v * e.lanes)], source_etype=F32), typ=vec, align=4)
            value = b.fadd(b.load(slot), bias_v)
            lanes = b.gep(vectors, [i64(j * e.nv + v)], source_etype=vec)
            for step in e.steps:
                added = b.load(lanes, typ=vec, align=4) if step == ("add",) else None
                value = vector_step(b, e.lanes, step, value, added)
            b.store(value, lanes, align=4)
    _transpose(b, e, len(acc), nout, npix, out, tile, to_tile=False)


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
