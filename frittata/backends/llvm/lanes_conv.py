"""Direct float32 convolution with the output channels in the vector lanes (`cpu_schedules.lanes_conv_schedule`).

The direct kernel of `conv` puts output pixels in the lanes, so a strided convolution must first
split its input into stride phases to make a tile's taps consecutive floats. Here a register
block is NP output pixels by NV vectors of L output channels (NB = NV x L): each step of the
reduction loads NV weight vectors of one (input channel, tap) and broadcasts one input float per
pixel against them, so the stride only changes which floats are broadcast. The weights are
packed at compile time, wp[ob][c][r][s][NB] = w[ob*NB + lane][c][r][s] (zero past O), and the
input is read from a zero-padded copy xp[c][HP][WP] (in place when the convolution has no
padding). The NP pixels of a tile are consecutive in the flattened output (they may wrap to the
next row), so only the image's last tile is partial; its missing pixels repeat pixel P - 1 and
are not stored.

    for n:  pad x[n] into xp (threads take the channels); barrier
            for (tile group, ob) this thread takes (`Kernel.chunks`; groups of `item_tiles`
                                                     tiles, the output-channel blocks innermost):
              for c0 < C step CB:  for each tile t of the group:
                block(xp[c0], wp[ob][c0], partial[ob][t], out[ob*NB, t*NP], first = c0 == 0,
                      last = c0 + CB >= C)
            barrier
    block:  acc[j][v] = first ? 0 : partial[j][v*L ...]
            for c < kc: for (r, s): w_v = wp[c][r][s][v*L ...];
                        acc[j][v] += splat(xp[c][row_j*sh + r*dh][col_j*sw + s*dw]) * w_v
            last:  acc = steps(acc + bias[v*L ...]) (a residual read transposed); out[o][p] = acc[p][o]
                   (`lanes_tile.finish`: through a stack tile, once per tile per reduction)
            else:  partial[j][v*L ...] = acc

A channel block's weights (CB x taps x NB floats) stay in L1 while the group's tiles read them;
the partial sums between channel blocks go through the scratch, NB-wide vectors per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.conv_shape import ConvShape
from frittata.backends.llvm.irutil import (F32, I32, I64, PTR, VOID, copy_floats, for_range, i64, intrinsic, smin,
                                          zero_floats)
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.lanes_tile import ChannelLanes, Epilogue, finish, stack_tile
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.terms.cpu_geometry import FLOAT_BYTES
from frittata.terms.ops import Op
from frittata.terms.term import Term

BLOCK_ARGS = [PTR, PTR, PTR, PTR, PTR, PTR, I64, I64, I32, I32, I64, I64]
"""block(xc, wc, partial, out, bias, residual, p0, kc, first, last, nout, npix)"""


@dataclass(frozen=True)
class Geometry(ConvShape, ChannelLanes):
    """The convolution's sizes and its blocking: NP pixels by NB = NV x L output channels per
    block, CB input channels per reduction block, `item_tiles` tiles per work item."""

    lanes: int
    nv: int
    np: int
    cb: int
    item_tiles: int
    steps: tuple
    residual: bool

    @classmethod
    def of(cls, term: Term, schedule: dict) -> Geometry:
        fused = term.op != Op.CONV2D
        return cls(**ConvShape.fields(term), lanes=schedule["vec"], nv=schedule["oc_block"] // schedule["vec"],
                   np=schedule["pixel_block"], cb=schedule["c_block"], item_tiles=schedule["item_tiles"],
                   steps=term.attr("epilogue") if fused else (), residual=len(term.args) > 3)

    @property
    def in_place(self) -> bool:
        """Whether the kernel reads the input where it is (no padding to add)."""
        return not any(self.pads)

    @property
    def wp(self) -> int:
        """Floats of one row of the padded input."""
        return self.w + self.pads[1] + self.pads[3]

    @property
    def plane(self) -> int:
        """Floats of one channel of the padded input."""
        return (self.h + self.pads[0] + self.pads[2]) * self.wp

    @property
    def pixels(self) -> int:
        return self.oh * self.ow

    @property
    def tiles(self) -> int:
        return -(-self.pixels // self.np)

    @property
    def groups_of_tiles(self) -> int:
        return -(-self.tiles // self.item_tiles)

    @property
    def partials(self) -> int:
        """Floats of the partial sums between channel blocks (none with one channel block)."""
        return self.channel_blocks * self.tiles * self.np * self.nb if self.c > self.cb else 0

    @property
    def padded(self) -> int:
        """Floats of the padded input copy (none in place)."""
        return 0 if self.in_place else self.c * self.plane


def scratch_bytes(term: Term, schedule: dict) -> int:
    """The padded input copy, then the partial sums."""
    g = Geometry.of(term, schedule)
    return (g.padded + g.partials) * FLOAT_BYTES


def pack_weights(w: np.ndarray, nb: int) -> np.ndarray:
    """[O, C, KH, KW] -> [ceil(O/NB), C, KH, KW, NB], zero past O."""
    o = w.shape[0]
    blocks = -(-o // nb)
    padded = np.zeros((blocks * nb, *w.shape[1:]), np.float32)
    padded[:o] = w
    return np.ascontiguousarray(padded.reshape(blocks, nb, *w.shape[1:]).transpose(0, 2, 3, 4, 1))


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], schedule: dict) -> None:
    """Emit the kernel for `step` (see the module docstring)."""
    t, g = step.term, Geometry.of(step.term, schedule)
    name, b, ptr = k.function.name, k.b, k.base
    w = ptr(plan.add_param(f"{name}.wpack", pack_weights(t.args[1].attr("ref").data, g.nb)))
    bias_data = np.zeros(g.channel_blocks * g.nb, np.float32)
    if t.op != Op.CONV2D:
        bias_data[:g.o] = t.args[2].attr("ref").data.reshape(g.o)
    bias = ptr(plan.add_param(f"{name}.bias", bias_data))
    x, out = ptr(args[0].buf), ptr(step.out)
    residual = ptr(args[3].buf) if g.residual else out
    assert step.scratch is not None or (g.in_place and not g.partials)
    scratch = ptr(step.scratch) if step.scratch is not None else out
    partial = b.gep(scratch, [i64(g.padded)], source_etype=F32)
    block = _block(k.module, g, f"{name}.block")
    with k.repeat(g.n) as n:
        image_in = b.gep(x, [b.mul(n, i64(g.c * g.h * g.w))], source_etype=F32)
        if g.in_place:
            xp = image_in
        else:
            _emit_pad(k, g, image_in, scratch)
            k.sync()
            xp = scratch
        image = b.mul(n, i64(g.o * g.pixels))
        _emit_items(k, g, block, xp, w, partial, b.gep(out, [image], source_etype=F32), bias,
                    b.gep(residual, [image], source_etype=F32))
        k.sync()


def _emit_pad(k: Kernel, g: Geometry, x, xp) -> None:
    """xp[c][i][j] = x[c][i - top][j - left], zero outside (threads take the channels): the
    pad rows above and below are zeroed whole, each image row is copied with its pad columns
    zeroed beside it, so every float of the copy is written once."""
    b, (top, left, bottom, right) = k.b, g.pads
    with k.take(g.c, name="c") as c:
        plane = b.gep(xp, [b.mul(c, i64(g.plane))], source_etype=F32)
        zero_floats(b, plane, top * g.wp)
        zero_floats(b, b.gep(plane, [i64((top + g.h) * g.wp)], source_etype=F32), bottom * g.wp)
        with for_range(b, 0, g.h, name="ih") as ih:
            src = b.gep(x, [b.add(b.mul(c, i64(g.h * g.w)), b.mul(ih, i64(g.w)))], source_etype=F32)
            row = b.gep(plane, [b.mul(b.add(ih, i64(top)), i64(g.wp))], source_etype=F32)
            zero_floats(b, row, left)
            zero_floats(b, b.gep(row, [i64(left + g.w)], source_etype=F32), right)
            copy_floats(b, b.gep(row, [i64(left)], source_etype=F32), src, g.w)


def _emit_items(k: Kernel, g: Geometry, block: ir.Function, xp, w, partial, out, bias, residual) -> None:
    """The (tile group, output-channel block) items this thread takes, each sweeping its
    channel blocks over its tiles."""
    b = k.b
    with k.chunks(g.groups_of_tiles * g.channel_blocks) as (first, end):
        with for_range(b, first, end, name="item") as item:
            group, ob = b.udiv(item, i64(g.channel_blocks)), b.urem(item, i64(g.channel_blocks))
            t0 = b.mul(group, i64(g.item_tiles))
            t1 = smin(b, b.add(t0, i64(g.item_tiles)), i64(g.tiles))
            o0 = b.mul(ob, i64(g.nb))
            nout = smin(b, i64(g.nb), b.sub(i64(g.o), o0))
            taps = g.kh * g.kw
            with for_range(b, 0, g.c, g.cb, name="c0") as c0:
                xc = b.gep(xp, [b.mul(c0, i64(g.plane))], source_etype=F32)
                wc = b.gep(w, [b.add(b.mul(ob, i64(g.c * taps * g.nb)), b.mul(c0, i64(taps * g.nb)))],
                           source_etype=F32)
                kc = smin(b, i64(g.cb), b.sub(i64(g.c), c0))
                is_first = b.zext(b.icmp_signed("==", c0, i64(0)), I32)
                is_last = b.zext(b.icmp_signed(">=", b.add(c0, i64(g.cb)), i64(g.c)), I32)
                with for_range(b, t0, t1, name="tile") as tile:
                    p0 = b.mul(tile, i64(g.np))
                    at = b.add(b.mul(o0, i64(g.pixels)), p0)
                    npix = smin(b, i64(g.np), b.sub(i64(g.pixels), p0))
                    part = b.gep(partial, [b.mul(b.add(b.mul(ob, i64(g.tiles)), tile), i64(g.np * g.nb))],
                                 source_etype=F32)
                    b.call(block, [xc, wc, part, b.gep(out, [at], source_etype=F32),
                                   b.gep(bias, [o0], source_etype=F32), b.gep(residual, [at], source_etype=F32),
                                   p0, kc, is_first, is_last, nout, npix])


def _block(module: ir.Module, g: Geometry, name: str) -> ir.Function:
    """The register block of NP pixels by NB output channels (see the module docstring)."""
    fn = ir.Function(module, ir.FunctionType(VOID, BLOCK_ARGS), name=name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    for arg in fn.args[:4]:
        arg.add_attribute("noalias")
    xc, wc, part, out, bias, residual, p0, kc, first, last, nout, npix = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    vec = ir.VectorType(F32, g.lanes)
    epilogue = Epilogue(g.lanes, g.nv, g.pixels, g.steps, g.residual)
    vectors = stack_tile(b, epilogue, g.np)
    acc = [[b.alloca(vec, name=f"acc{j}_{v}") for v in range(g.nv)] for j in range(g.np)]
    offsets = _pixel_offsets(b, g, p0)
    with b.if_else(b.icmp_signed("!=", first, ir.Constant(I32, 0))) as (zero, load):
        with zero:
            for _, _, slot in _slots(acc):
                b.store(ir.Constant(vec, [0.0] * g.lanes), slot)
        with load:
            for j, v, slot in _slots(acc):
                b.store(b.load(_partial(b, g, part, j, v), typ=vec, align=4), slot)
    _reduction(b, g, acc, offsets, xc, wc, kc)
    is_last = b.icmp_signed("!=", last, ir.Constant(I32, 0))
    with b.if_else(is_last) as (store, keep):
        with store:
            finish(b, epilogue, acc, vectors, out, bias, residual, nout, npix)
        with keep:
            for j, v, slot in _slots(acc):
                b.store(b.load(slot), _partial(b, g, part, j, v), align=4)
    b.ret_void()
    return fn


def _slots(acc: list[list[ir.Value]]) -> list[tuple[int, int, ir.Value]]:
    """(pixel j, vector v, accumulator slot) of a block."""
    return [(j, v, slot) for j, row in enumerate(acc) for v, slot in enumerate(row)]


def _partial(b: ir.IRBuilder, g: Geometry, part, j: int, v: int) -> ir.Value:
    """Pixel j's vector v of the block's partial sums (NB floats per pixel)."""
    return b.gep(part, [i64(j * g.nb + v * g.lanes)], source_etype=F32)


def _pixel_offsets(b: ir.IRBuilder, g: Geometry, p0) -> list[ir.Value]:
    """Offset in xp of the window's first tap of each of the tile's pixels (p0 + j, or P - 1
    past the image)."""
    (sh, sw), offsets = g.strides, []
    for j in range(g.np):
        p = smin(b, b.add(p0, i64(j)), i64(g.pixels - 1))
        row, col = b.udiv(p, i64(g.ow)), b.urem(p, i64(g.ow))
        offsets.append(b.add(b.mul(row, i64(sh * g.wp)), b.mul(col, i64(sw))))
    return offsets


def _reduction(b: ir.IRBuilder, g: Geometry, acc, offsets, xc, wc, kc) -> None:
    """for c < kc: for each tap (unrolled): acc[j][v] += splat(x tap of pixel j) * w_v."""
    vec = ir.VectorType(F32, g.lanes)
    fma = intrinsic(b.module, f"llvm.fmuladd.v{g.lanes}f32", vec, [vec, vec, vec])
    (dh, dw), taps = g.dilations, g.kh * g.kw
    with for_range(b, 0, kc, name="c") as c:
        xs = b.gep(xc, [b.mul(c, i64(g.plane))], source_etype=F32)
        ws = b.gep(wc, [b.mul(c, i64(taps * g.nb))], source_etype=F32)
        pixels = [b.gep(xs, [offset], source_etype=F32) for offset in offsets]
        for r in range(g.kh):
            for s in range(g.kw):
                tap = (r * g.kw + s) * g.nb
                wv = [b.load(b.gep(ws, [i64(tap + v * g.lanes)], source_etype=F32), typ=vec, align=4)
                      for v in range(g.nv)]
                for j, pixel in enumerate(pixels):
                    xv = splat(b, b.load(b.gep(pixel, [i64(r * dh * g.wp + s * dw)], source_etype=F32), typ=F32),
                               g.lanes)
                    for v in range(g.nv):
                        b.store(b.call(fma, [xv, wv[v], b.load(acc[j][v])]), acc[j][v])
