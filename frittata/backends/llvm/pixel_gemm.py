"""A small pointwise float32 convolution as a GEMM over its pixels (`cpu_schedules.pixel_gemm_schedule`).

out[o, p] = sum_c w[o, c] x[c, p] is computed transposed, Cᵀ[p, o] = Xᵀ[p, c] · Wᵀ[c, o]: the
output pixels are the GEMM's rows, MR to a register block (any count: on AVX2 49 pixels are 9
blocks of 5 and one of 4), the output channels its columns, in panels of NR packed at compile time (dense's
layout), the input channels its reduction. The direct kernel (`conv`) vectorizes over the pixels
instead, and a 7x7 image's 49 pixels fill its tiles of 16 to 49 / 64. The input is packed first
into row blocks, xp[block][c][r] = x[c][block * MR + r] (zero past the image; `_emit_pack`), so
a register block broadcasts from one contiguous stream (read in place, it took one cache line per input
channel for MR floats of it, and ran no faster than the direct kernel). The pack is ~10% of a
narrowing layer at 14x14 and next to nothing at 7x7 (one Zen 3 core, CPU time, loaded, the pack
left out: 384 -> 64 0.89x, 576 -> 96 0.97x, 960 -> 160 at 7x7 0.98x). A producer writing this
layout would save part of it: a prototype in which each depthwise convolution before one of
MobileNetV2's six 14x14 narrowing layers wrote it (through a staging plane per thread) and the
GEMM read it unpacked ran those GEMMs 121 us faster and the depthwise steps 57 us slower, ~0.7%
of the model at one thread.

    for n:  pack x[n] (threads take the blocks in chunks); barrier
            for p in the panels this thread takes:  for each row block:  block(xp[block], panel p, out[n, p*NR:, r0:])
            barrier
    block:  acc[r][v] = sum_c splat(xp[block][c][r]) * panel[c, v*L : v*L + L]
            acc = steps(acc + bias[o0 + v*L ...])        (a residual is read transposed, as below)
            out[o0 + j, r0 + r] = acc[r][j] for j < ncols

The store: with 8 lanes, a block of at most 8 rows (MR <= 8) in a full panel with 8 pixels from
its first inside the image goes through in-register 8 x 8 transposes, one vector store of 8
pixels per channel (`lanes_tile.finish`); any other block (a partial panel, the image's last
pixels, MR > 8, 16 lanes) goes through a stack tile, element by element.

The whole reduction runs in one block call (a panel of 960 channels, 61 KiB, streams from L2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.irutil import F32, I64, PTR, VOID, for_range, i64, intrinsic, smax, smin
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.lanes_tile import TRANSPOSE_LANES, ChannelLanes, Epilogue, finish, stack_tile
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.backends.packing import panels as pack_panels
from frittata.terms.ops import Op
from frittata.terms.term import Term

BLOCK_ARGS = [PTR, PTR, PTR, PTR, PTR, I64, I64]
"""block(x, panel, out, bias, residual, ncols, whole): `whole` (0 or 1) lets `lanes_tile.finish`
transpose the block in registers (a full panel, TRANSPOSE_LANES pixels from the block's first
inside the image: the row blocks after it store the spare ones)."""


@dataclass(frozen=True)
class PixelGemm(ChannelLanes):
    """Sizes of one image (c input channels, o output channels, p pixels) and the blocking
    (NR = `nb` output channels per panel)."""

    images: int
    c: int
    o: int
    p: int
    lanes: int
    mr: int
    nv: int
    steps: tuple
    residual: bool

    @property
    def copy_width(self) -> int:
        """Floats the packing copies per channel at once: MR rounded up to a power of two."""
        return 1 << (self.mr - 1).bit_length()

    @property
    def block_floats(self) -> int:
        """Floats of one packed row block: C rows of MR, and room for the last row's wider copy."""
        return self.c * self.mr + self.copy_width - self.mr

    @property
    def blocks(self) -> int:
        return -(-self.p // self.mr)


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], schedule: dict) -> None:
    """Emit the pixel GEMM for `step` (see the module docstring)."""
    t, g = step.term, _geometry(step.term, schedule)
    c, o, fused = g.c, g.o, t.op != Op.CONV2D
    name = k.function.name
    panels = k.base(plan.add_param(f"{name}.wpack", pack_panels(t.args[1].attr("ref").data.reshape(o, c).T, g.nb)))
    padded = np.zeros(g.channel_blocks * g.nb, np.float32)
    if fused:
        padded[:o] = t.args[2].attr("ref").data.reshape(o)
    bias = k.base(plan.add_param(f"{name}.bias", padded))
    x, out = k.base(args[0].buf), k.base(step.out)
    residual = k.base(args[3].buf) if g.residual else out
    assert step.scratch is not None
    xp, b = k.base(step.scratch), k.b
    with k.repeat(g.images) as n:
        _emit_pack(k, g, b.gep(x, [b.mul(n, i64(g.c * g.p))], source_etype=F32), xp)
        k.sync()
        image = b.mul(n, i64(g.o * g.p))
        _emit_panels(k, g, xp, panels, b.gep(out, [image], source_etype=F32), bias,
                     b.gep(residual, [image], source_etype=F32))
        k.sync()


def _geometry(t: Term, schedule: dict) -> PixelGemm:
    (images, c, h, w), o = t.args[0].shape, t.args[1].shape[0]
    fused = t.op != Op.CONV2D
    return PixelGemm(images, c, o, h * w, schedule["vec"], schedule["m_block"], schedule["n_block"] // schedule["vec"],
                     t.attr("epilogue") if fused else (), len(t.args) > 3)


def _emit_panels(k: Kernel, g: PixelGemm, xp, panels, out, bias, residual) -> None:
    """The panels of one image this thread takes (`Kernel.take`), each over all row blocks (the
    last one partial)."""
    b = k.b
    full, tail = g.p // g.mr * g.mr, g.p % g.mr
    blocks = {rows: _block(k.module, g, rows, f"{k.function.name}.block{rows}") for rows in {g.mr, tail} if rows}
    with k.take(g.channel_blocks) as p:
        o0 = b.mul(p, i64(g.nb))
        ncols = smin(b, i64(g.nb), b.sub(i64(g.o), o0))
        panel = b.gep(panels, [b.mul(p, i64(g.c * g.nb))], source_etype=F32)

        def call(rows: int, r0) -> None:
            at = b.add(b.mul(o0, i64(g.p)), r0)
            packed = b.gep(xp, [b.mul(b.udiv(r0, i64(g.mr)), i64(g.block_floats))], source_etype=F32)
            whole = b.and_(b.icmp_signed("==", ncols, i64(g.nb)),
                           b.icmp_signed("<=", b.add(r0, i64(TRANSPOSE_LANES)), i64(g.p)))
            b.call(blocks[rows], [packed, panel,
                                  b.gep(out, [at], source_etype=F32), b.gep(bias, [o0], source_etype=F32),
                                  b.gep(residual, [at], source_etype=F32), ncols, b.zext(whole, I64)])

        with for_range(b, 0, full, g.mr, name="r0") as r0:
            call(g.mr, r0)
        if tail:
            call(tail, i64(full))


def scratch_bytes(term: Term, schedule: dict) -> int:
    """The packed input of one image (`PixelGemm.block_floats` per row block)."""
    return _geometry(term, schedule).blocks * _geometry(term, schedule).block_floats * 4


def _emit_pack(k: Kernel, g: PixelGemm, x, xp) -> None:
    """xp[block][c][r] = x[c][block * MR + r], zero past the image's P pixels (threads take the
    blocks in chunks). A block whose pixels and the copy's spare ones are all inside the image
    copies one vector of `copy_width` floats per channel; the chunk's blocks go channel by channel
    (each input row read in order, not one cache line of every channel per block), so in each
    block a store's spare floats are overwritten by the next channel's (the last channel's land in
    the block's spare room); the others copy element by element, reading no pixel past the image."""
    b, width = k.b, g.copy_width
    whole = max(0, (g.p - width) // g.mr + 1)
    vec = ir.VectorType(F32, width)
    with k.chunks(g.blocks) as (lo, hi):
        with for_range(b, 0, g.c, name="pvc") as c:
            row = b.gep(x, [b.mul(c, i64(g.p))], source_etype=F32)
            packed = b.gep(xp, [b.mul(c, i64(g.mr))], source_etype=F32)
            with for_range(b, lo, smin(b, hi, i64(whole)), name="pv") as block:
                src = b.gep(row, [b.mul(block, i64(g.mr))], source_etype=F32)
                dst = b.gep(packed, [b.mul(block, i64(g.block_floats))], source_etype=F32)
                b.store(b.load(src, typ=vec, align=4), dst, align=4)
        with for_range(b, smax(b, lo, i64(whole)), hi, name="pb") as block:
            dst, first = b.gep(xp, [b.mul(block, i64(g.block_floats))], source_etype=F32), b.mul(block, i64(g.mr))
            with for_range(b, 0, g.c, name="pc") as c:
                src = b.gep(x, [b.add(b.mul(c, i64(g.p)), first)], source_etype=F32)
                row = b.gep(dst, [b.mul(c, i64(g.mr))], source_etype=F32)
                for r in range(g.mr):
                    inside = b.icmp_signed("<", b.add(first, i64(r)), i64(g.p))
                    value = b.load(b.gep(src, [b.select(inside, i64(r), i64(0))], source_etype=F32), typ=F32)
                    b.store(b.select(inside, value, ir.Constant(F32, 0.0)), b.gep(row, [i64(r)], source_etype=F32))


def _block(module: ir.Module, g: PixelGemm, rows: int, name: str) -> ir.Function:
    """The register block of `rows` pixels by NR output channels (see the module docstring)."""
    fn = ir.Function(module, ir.FunctionType(VOID, BLOCK_ARGS), name=name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    for arg in fn.args[:3]:
        arg.add_attribute("noalias")
    x, panel, out, bias, residual, ncols, whole = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    vec = ir.VectorType(F32, g.lanes)
    epilogue = Epilogue(g.lanes, g.nv, g.p, g.steps, g.residual)
    vectors = stack_tile(b, epilogue, rows)
    acc = [[b.alloca(vec, name=f"acc{r}_{v}") for v in range(g.nv)] for r in range(rows)]
    for row in acc:
        for slot in row:
            b.store(ir.Constant(vec, [0.0] * g.lanes), slot)
    fma = intrinsic(module, f"llvm.fmuladd.v{g.lanes}f32", vec, [vec, vec, vec])
    with for_range(b, 0, g.c, name="c") as c:
        weights = b.gep(panel, [b.mul(c, i64(g.nb))], source_etype=F32)
        bv = [b.load(b.gep(weights, [i64(v * g.lanes)], source_etype=F32), typ=vec, align=4) for v in range(g.nv)]
        pixels = b.gep(x, [b.mul(c, i64(g.mr))], source_etype=F32)
        for r in range(rows):
            av = splat(b, b.load(b.gep(pixels, [i64(r)], source_etype=F32), typ=F32), g.lanes)
            for v in range(g.nv):
                b.store(b.call(fma, [av, bv[v], b.load(acc[r][v])]), acc[r][v])
    finish(b, epilogue, acc, vectors, out, bias, residual, ncols, whole=b.icmp_signed("!=", whole, i64(0)))
    b.ret_void()
    return fn
