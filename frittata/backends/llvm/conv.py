"""Register-blocked direct float32 convolution on the GEMM micro-kernel's tiles, one group at a time.

The input is first copied, zero-padded and split into stride phases, so that the taps of a
run of consecutive output pixels are consecutive floats:
    xq[c][ph][pw][i][j] = xpad[c][i*sh + ph][j*sw + pw]
A tile is mr output channels x NR consecutive pixels of one output row; its "B" operand is read
straight from xq (no im2col), one vector per tap, broadcasting one weight per channel row. The
weights are packed (at compile time, or by the kernel when the program computes them) into
blocks of mr output channels, the mr weights of one
(channel, tap) adjacent: wp[o // mr][c][r][s][o % mr] (zero-padded), so a tile reads one
contiguous stream instead of mr rows a whole filter apart (which alias in L1 for wide layers).
The schedule (a `tiled_conv2d`'s own, or the default of `cpu_schedules.default_conv_schedule`)
gives the vector width, mr, NR, the channel block and the parallel (outermost) loop:

    for n:  pad (threads take channels in chunks); barrier
            for (group, item) this thread takes (`Kernel.chunks`, group-major; items `_items`):
              "oc":    an output-channel block o0;  for c0 < C step cb:  for each pixel tile:  micro
              "pixel": `pixel_item_tiles` consecutive pixel tiles;
                       for c0 < C step cb:  for each tile of the item:  for each block o0:  micro
              micro(wp block at c0, xq at (c0, oh, ow0), out[o0, oh, ow0], first = c0 == 0, last = c0 + cb >= C)
            barrier
Over channel blocks the weights stay in L1 across the pixel tiles ("oc"), or a tile's input
rows stay in L1 across the output-channel blocks while the item's tiles share the channel
block's weights ("pixel": a strided convolution's tile reads two column phases and more row
slices per channel, so its input, not the weights, is what must stay close); partial sums go
through the output. A grouped convolution (several input channels per group) runs the tile loops
once per group on that group's channels, weight blocks and outputs (C and O below are a group's).

A pointwise convolution (1x1, stride 1, no padding: `cpu_geometry.pointwise`) runs each image
as one row of OH x OW pixels and reads its input in place, so there is no padded copy and only
the image's last tile is partial; that tile reads its pixels from a copy zero-padded to NR
(xt[c][j] = x[c][P - tail + j], made where the pad pass would be), because NR floats from its
first pixel run past the end of the input's last channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.conv_shape import ConvShape
from frittata.backends.llvm.irutil import F32, I32, copy_floats, for_range, i64, intrinsic, smax, smin, zero_floats
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.masked import split_row_phases
from frittata.backends.llvm.micro import MicroSpec, micro_function, splat
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.terms.cpu_geometry import padded_plane, phase_plane, pixel_item_tiles, pointwise
from frittata.terms.ops import Op
from frittata.terms.term import Term


@dataclass(frozen=True)
class Geometry(ConvShape):
    """The convolution's sizes and its blocking; `gc` and `go` are one group's input and output
    channels."""

    lanes: int
    mr: int
    nv: int
    cb: int
    parallel: str
    """The outermost, threaded loop: output-channel blocks ("oc") or pixel tiles ("pixel")."""

    @classmethod
    def of(cls, term: Term, schedule: dict) -> Geometry:
        """The convolution `term` blocked as its schedule (the tiled_conv2d vocabulary) says; a
        pointwise one as a convolution of one row of all its pixels."""
        fields = ConvShape.fields(term)
        if pointwise((fields["kh"], fields["kw"]), dict(strides=fields["strides"], pads=fields["pads"])):
            fields |= dict(h=1, w=fields["h"] * fields["w"], oh=1, ow=fields["oh"] * fields["ow"])
        return cls(**fields, lanes=schedule["vec"], mr=schedule["oc_block"],
                   nv=schedule["ow_block"] // schedule["vec"], cb=schedule["c_block"], parallel=schedule["parallel"])

    @property
    def in_place(self) -> bool:
        """Whether the kernel reads the input where it is (a pointwise convolution, see above)."""
        return pointwise((self.kh, self.kw), dict(strides=self.strides, pads=self.pads))

    @property
    def tail(self) -> int:
        """Pixels of a row's last, partial tile (0: whole tiles)."""
        return self.ow % self.nr

    @property
    def staged(self) -> int:
        """Floats of the scratch the input goes through: the padded, phase-split copy xq, or
        (in place) the zero-padded last tiles xt, [C, NR]."""
        if self.in_place:
            return self.c * self.nr
        return self.c * self.channel_stride + self.wq + 2 * self.nr

    @property
    def gc(self) -> int:
        return self.c // self.groups

    @property
    def go(self) -> int:
        return self.o // self.groups

    @property
    def packed_group(self) -> int:
        """Floats of one group's packed weights: [ceil(go / mr), gc * kh * kw, mr]."""
        return -(-self.go // self.mr) * self.gc * self.kh * self.kw * self.mr

    @property
    def nr(self) -> int:
        return self.nv * self.lanes

    @property
    def hq(self) -> int:
        return phase_plane(self.h, self.w, self.strides, self.pads)[0]

    @property
    def wq(self) -> int:
        return phase_plane(self.h, self.w, self.strides, self.pads)[1]

    @property
    def channel_stride(self) -> int:
        return padded_plane(self.h, self.w, self.strides, self.pads)

    def tap(self, r: int, s: int) -> int:
        """Offset in xq of tap (r, s) relative to output pixel (oh, ow) of channel 0."""
        (sh, sw), (dh, dw) = self.strides, self.dilations
        row, col = r * dh, s * dw
        phase = (row % sh) * sw + col % sw
        return phase * self.hq * self.wq + (row // sh) * self.wq + col // sw


def scratch_bytes(term: Term, schedule: dict) -> int:
    """The padded input, then (run-time weights) the packed weights."""
    g = Geometry.of(term, schedule)
    packed = 0 if term.args[1].op == Op.PARAM else g.groups * g.packed_group
    return (g.staged + packed) * 4


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], schedule: dict) -> None:
    t, g = step.term, Geometry.of(step.term, schedule)
    fused = t.op in (Op.FUSED_CONV2D, Op.TILED_CONV2D)
    steps = t.attr("epilogue") if fused else ()
    spec = MicroSpec(g.mr, g.lanes, g.nv, "row" if fused else None, steps)
    kernels = {rows: micro_function(k, MicroSpec(rows, g.lanes, g.nv, spec.bias, steps),
                                    f"{k.function.name}.micro{rows}", TapLoop.of(g))
               for rows in {g.mr, g.go % g.mr} if rows}
    ptr = k.base
    assert step.scratch is not None
    xq, x = ptr(step.scratch), ptr(args[0].buf)
    if t.args[1].op == Op.PARAM:
        per_group = np.split(t.args[1].attr("ref").data, g.groups)
        packed = np.concatenate([pack_weights(part, g.mr) for part in per_group])
        w = ptr(plan.add_param(f"{k.function.name}.wpack", packed))
    else:
        w = _at(k.b, xq, i64(g.staged))
        _emit_pack(k, g, ptr(args[1].buf), w)
    bias = ptr(args[2].buf) if fused else None
    residual = ptr(args[3].buf) if len(args) > 3 else None
    out, b = ptr(step.out), k.b
    with k.repeat(g.n) as n:
        image_in = b.gep(x, [b.mul(n, i64(g.c * g.h * g.w))], source_etype=F32)
        if g.in_place:
            _emit_last_tiles(k, g, image_in, xq)
        else:
            _emit_pad(k, g, image_in, xq)
        k.sync()
        image = b.mul(n, i64(g.o * g.oh * g.ow))
        with _group_items(k, g) as (group, item):
            first_out = b.add(image, b.mul(group, i64(g.go * g.oh * g.ow)))
            source = _source(b, g, image_in, xq, group)
            _emit_item(b, g, kernels, item, _at(b, w, b.mul(group, i64(g.packed_group))),
                       source, _at(b, out, first_out),
                       _at(b, bias, b.mul(group, i64(g.go))), _at(b, residual, first_out))
        k.sync()


@contextmanager
def _group_items(k: Kernel, g: Geometry) -> Iterator[tuple[ir.Value, ir.Value]]:
    """(group, item) of each item this thread takes: the groups' items (`_items`) in one range,
    group-major, shared out in chunks from the team's work counter (`Kernel.chunks`), so the
    threads balance over every group's items, not within each group; a chunk runs as a loop
    over the groups it spans and one over each group's items in it (no division per item)."""
    b, items = k.b, _items(g)
    with k.chunks(g.groups * items) as (first, end):
        last = b.sub(end, i64(1))
        with for_range(b, b.udiv(first, i64(items)), b.add(b.udiv(last, i64(items)), i64(1)), name="group") as group:
            base = b.mul(group, i64(items))
            lo = b.sub(smax(b, first, base), base)
            hi = b.sub(smin(b, end, b.add(base, i64(items))), base)
            with for_range(b, lo, hi, name="item") as item:
                yield group, item


def _source(b: ir.IRBuilder, g: Geometry, x, xq, group) -> tuple:
    """(input of the group's tiles, its channel stride, the last tiles' copy or None)."""
    if g.in_place:
        return _at(b, x, b.mul(group, i64(g.gc * g.ow))), g.ow, _at(b, xq, b.mul(group, i64(g.gc * g.nr)))
    return _at(b, xq, b.mul(group, i64(g.gc * g.channel_stride))), g.channel_stride, None


def _emit_last_tiles(k: Kernel, g: Geometry, x, xt) -> None:
    """xt[c][j] = x[c][OW - tail + j] for j < tail, zero up to NR (threads take the channels):
    the in-place kernel's last tile, which must not read past the input."""
    if not g.tail:
        return
    b = k.b
    with k.take(g.c, name="c") as c:
        with for_range(b, 0, g.nr, name="j") as j:
            inside = b.icmp_signed("<", j, i64(g.tail))
            src = b.add(b.mul(c, i64(g.ow)), b.add(i64(g.ow - g.tail), b.select(inside, j, i64(0))))
            value = b.select(inside, b.load(b.gep(x, [src], source_etype=F32), typ=F32), ir.Constant(F32, 0.0))
            b.store(value, b.gep(xt, [b.add(b.mul(c, i64(g.nr)), j)], source_etype=F32))


def _at(b: ir.IRBuilder, base, offset):
    """`base` advanced by `offset` floats (None stays None)."""
    return None if base is None else b.gep(base, [offset], source_etype=F32)


def pack_weights(w: np.ndarray, mr: int) -> np.ndarray:
    """[O, C, KH, KW] -> [ceil(O/mr), C*KH*KW, mr], zero-padded: the compile-time weight packing."""
    o = w.shape[0]
    blocks = -(-o // mr)
    flat = np.zeros((blocks * mr, w[0].size), np.float32)
    flat[:o] = w.reshape(o, -1)
    return np.ascontiguousarray(flat.reshape(blocks, mr, -1).transpose(0, 2, 1))


def _emit_pack(k: Kernel, g: Geometry, w, wp) -> None:
    """`pack_weights` at run time, for weights computed by the program (training): threads take
    the (group, block) pairs; wp[group][block][q][r] = w[group * go + block * mr + r][q], zero
    past the group's outputs."""
    b, blocks, taps = k.b, -(-g.go // g.mr), g.gc * g.kh * g.kw
    with k.take(g.groups * blocks, name="wb") as pair:
        group, block = b.sdiv(pair, i64(blocks)), b.srem(pair, i64(blocks))
        with for_range(b, 0, taps, name="wq") as q:
            dst = b.gep(wp, [b.mul(b.add(b.mul(pair, i64(taps)), q), i64(g.mr))], source_etype=F32)
            with for_range(b, 0, g.mr, name="wr") as r:
                local = b.add(b.mul(block, i64(g.mr)), r)
                inside = b.icmp_signed("<", local, i64(g.go))
                row = b.add(b.mul(group, i64(g.go)), b.select(inside, local, i64(0)))
                value = b.load(b.gep(w, [b.add(b.mul(row, i64(taps)), q)], source_etype=F32), typ=F32)
                b.store(b.select(inside, value, ir.Constant(F32, 0.0)), b.gep(dst, [r], source_etype=F32))
    k.sync()


def _emit_pad(k: Kernel, g: Geometry, x, xq) -> None:
    """xq[c][ph][pw][i][j] = x[c][i*sh + ph - top][j*sw + pw - left], zero outside (threads take
    the channels of every group): a channel's planes are zeroed whole, then each image row is
    copied into its row phase whole (one column phase), or sw x L floats at a time split into
    the column phases (`masked.split_row_phases`): on vectors, not one float per load and store (the
    scalar copy took about a quarter of RegNetY's 3x3 stride-2 grouped convolutions' time)."""
    b = k.b
    sh, top = g.strides[0], g.pads[0]
    with k.take(g.c, name="c") as c:
        plane = b.gep(xq, [b.mul(c, i64(g.channel_stride))], source_etype=F32)
        zero_floats(b, plane, g.channel_stride)
        with for_range(b, 0, g.h, name="ih") as ih:
            row = b.add(ih, i64(top))
            ph, i = b.urem(row, i64(sh)), b.udiv(row, i64(sh))
            src = b.gep(x, [b.add(b.mul(c, i64(g.h * g.w)), b.mul(ih, i64(g.w)))], source_etype=F32)
            at = b.add(b.mul(ph, i64(g.strides[1] * g.hq * g.wq)), b.mul(i, i64(g.wq)))
            dst = b.gep(plane, [at], source_etype=F32)
            if g.strides[1] == 1:
                copy_floats(b, b.gep(dst, [i64(g.pads[1])], source_etype=F32), src, g.w)
            else:
                split_row_phases(b, src, dst, g.w, g.strides[1], g.pads[1], g.lanes, g.hq * g.wq, False)


def _items(g: Geometry) -> int:
    """Items of one group's parallel loop: its output-channel blocks ("oc"), or its runs of
    `pixel_item_tiles` consecutive pixel tiles ("pixel")."""
    blocks, pixels = -(-g.go // g.mr), g.oh * -(-g.ow // g.nr)
    if g.parallel == "oc":
        return blocks
    return -(-pixels // pixel_item_tiles(pixels, g.nr, -(-g.gc // g.cb)))


def _emit_item(b: ir.IRBuilder, g: Geometry, kernels, item, w, source: tuple, out, bias, residual) -> None:
    """One item of a group's parallel loop (`_items`), as the schedule says: an output-channel
    block sweeping its channel blocks over all the pixel tiles ("oc"); or `pixel_item_tiles`
    consecutive pixel tiles running their channel blocks in turn, every tile of the item under
    every output-channel block before the next channel block ("pixel")."""
    blocks, columns = -(-g.go // g.mr), -(-g.ow // g.nr)
    pixels = g.oh * columns

    def tile(block, pixel, c0) -> None:
        _emit_tile(b, g, kernels, block, _tile_args(b, g, block, pixel, columns, c0, w, source, out, bias, residual))

    if g.parallel == "oc":
        with for_range(b, 0, g.gc, g.cb, name="cb") as c0:
            with for_range(b, 0, pixels, name="pixel") as pixel:
                tile(item, pixel, c0)
        return
    per_item = pixel_item_tiles(pixels, g.nr, -(-g.gc // g.cb))
    first = b.mul(item, i64(per_item))
    end = smin(b, b.add(first, i64(per_item)), i64(pixels))
    with for_range(b, 0, g.gc, g.cb, name="cb") as c0:
        with for_range(b, first, end, name="pixel") as pixel:
            with for_range(b, 0, blocks, name="block") as block:
                tile(block, pixel, c0)


def _tile_args(b: ir.IRBuilder, g: Geometry, block, pixel, columns: int, c0, w, source: tuple, out, bias,
               residual) -> list:
    """The micro-kernel's arguments for one tile and channel block (see `micro.emit_micro`); the
    input's channel stride goes in as `lda` (`TapLoop` steps through the channels by it)."""
    oh, col = b.udiv(pixel, i64(columns)), b.urem(pixel, i64(columns))
    ow0 = b.mul(col, i64(g.nr))
    o0 = b.mul(block, i64(g.mr))
    ncols = b.sub(i64(g.ow), ow0)
    ncols = b.select(b.icmp_signed("<", ncols, i64(g.nr)), ncols, i64(g.nr))
    taps = g.kh * g.kw
    a = b.gep(w, [b.add(b.mul(block, i64(g.gc * taps * g.mr)), b.mul(c0, i64(taps * g.mr)))], source_etype=F32)
    xs, stride, tail_copy = source
    bp = b.gep(xs, [b.add(b.mul(c0, i64(stride)), b.add(b.mul(oh, i64(g.wq)), ow0))], source_etype=F32)
    lda = i64(stride)
    if tail_copy is not None and g.tail:
        partial = b.icmp_signed("<", ncols, i64(g.nr))
        bp = b.select(partial, b.gep(tail_copy, [b.mul(c0, i64(g.nr))], source_etype=F32), bp)
        lda = b.select(partial, i64(g.nr), lda)
    at = b.add(b.mul(o0, i64(g.oh * g.ow)), b.add(b.mul(oh, i64(g.ow)), ow0))
    c_ptr = b.gep(out, [at], source_etype=F32)
    res_ptr = c_ptr if residual is None else b.gep(residual, [at], source_etype=F32)
    bias_ptr = c_ptr if bias is None else b.gep(bias, [o0], source_etype=F32)
    kc = smin(b, i64(g.cb), b.sub(i64(g.gc), c0))
    first = b.zext(b.icmp_signed("==", c0, i64(0)), I32)
    last = b.zext(b.icmp_signed(">=", b.add(c0, i64(g.cb)), i64(g.gc)), I32)
    return [a, lda, bp, kc, c_ptr, i64(g.oh * g.ow), ncols, first, last, bias_ptr, res_ptr]


def _emit_tile(b: ir.IRBuilder, g: Geometry, kernels, block, call_args: list) -> None:
    """One micro-kernel call: the full-height kernel, or the tail kernel on the last block of
    output channels."""
    tail = g.go % g.mr
    if not tail:
        b.call(kernels[g.mr], call_args)
        return
    is_tail = b.icmp_signed("==", block, i64(g.go // g.mr))
    with b.if_else(is_tail) as (last, full):
        with last:
            b.call(kernels[tail], call_args)
        with full:
            b.call(kernels[g.mr], call_args)


@dataclass(frozen=True)
class TapLoop:
    """for c < kc: for each tap: b_v = xq[c][tap + v*L]; acc[r][v] += wp[c][tap][r] * b_v, with
    the input's channels `lda` floats apart and a channel's weights [tap][block] (`mr` floats a
    tap: the tail kernel's rows read the first of them).

    The taps come in groups, each a loop of `count` steps over kernel rows of one stride phase
    (the group's first row's taps unrolled, advanced by `index_step` weights and `offset_step`
    floats of xq a step); a kernel of at most `UNROLLED_TAPS` taps is one group of one step,
    every tap unrolled. A 7x7 kernel's 49 taps unrolled made one basic block of ~1900
    instructions, whose machine scheduling hoisted the loads of later taps above earlier FMAs and
    spilled accumulators (SqueezeNet's 3 -> 96 7x7 stride-2 stem, 12 x 2 vectors, AVX-512 Zen 4:
    2000 stack accesses in the loop); a row of 7 taps a block spills nothing."""

    groups: tuple[TapGroup, ...]
    block: int

    @classmethod
    def of(cls, g: Geometry) -> TapLoop:
        if g.kh * g.kw <= UNROLLED_TAPS:
            taps = tuple((r * g.kw + s, g.tap(r, s)) for r in range(g.kh) for s in range(g.kw))
            return cls((TapGroup(1, 0, 0, taps),), g.mr)
        sh, dh = g.strides[0], g.dilations[0]
        return cls(tuple(TapGroup(len(range(r0, g.kh, sh)), sh * g.kw, dh * g.wq,
                                  tuple((r0 * g.kw + s, g.tap(r0, s)) for s in range(g.kw)))
                         for r0 in range(min(sh, g.kh))), g.mr)

    def emit(self, b: ir.IRBuilder, spec: MicroSpec, acc, a, lda, bp, kc) -> None:
        with for_range(b, 0, kc, name="c") as c:
            xc = b.gep(bp, [b.mul(c, lda)], source_etype=F32)
            wc = b.gep(a, [b.mul(c, i64(self.taps * self.block))], source_etype=F32)
            for group in self.groups:
                group.emit(b, spec, acc, wc, xc, self.block)

    @property
    def taps(self) -> int:
        return sum(group.count * len(group.taps) for group in self.groups)


UNROLLED_TAPS = 9
"""The most taps `TapLoop` unrolls into one block (a 3x3 kernel's)."""


@dataclass(frozen=True)
class TapGroup:
    """`count` steps of the unrolled `taps` ((weight index, offset in xq) of each, `Geometry.tap`),
    step j's taps `j * index_step` weights and `j * offset_step` floats further on."""

    count: int
    index_step: int
    offset_step: int
    taps: tuple[tuple[int, int], ...]

    def emit(self, b: ir.IRBuilder, spec: MicroSpec, acc, wc, xc, block: int) -> None:
        if self.count == 1:
            self._taps(b, spec, acc, wc, xc, block)
            return
        with for_range(b, 0, self.count, name="row") as j:
            w_row = b.gep(wc, [b.mul(j, i64(self.index_step * block))], source_etype=F32)
            x_row = b.gep(xc, [b.mul(j, i64(self.offset_step))], source_etype=F32)
            self._taps(b, spec, acc, w_row, x_row, block)

    def _taps(self, b: ir.IRBuilder, spec: MicroSpec, acc, wc, xc, block: int) -> None:
        vec = ir.VectorType(F32, spec.lanes)
        fma = intrinsic(b.module, f"llvm.fmuladd.v{spec.lanes}f32", vec, [vec, vec, vec])
        for index, offset in self.taps:
            bv = [b.load(b.gep(xc, [i64(offset + v * spec.lanes)], source_etype=F32), typ=vec, align=4)
                  for v in range(spec.nv)]
            for r in range(spec.mr):
                weight = b.load(b.gep(wc, [i64(index * block + r)], source_etype=F32), typ=F32)
                av = splat(b, weight, spec.lanes)
                for v in range(spec.nv):
                    b.store(b.call(fma, [av, bv[v], b.load(acc[r][v])]), acc[r][v])
