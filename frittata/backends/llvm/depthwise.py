"""Vectorized float32 depthwise convolution (one input channel per group) with a fused epilogue.

Output channel o reads input channel c = o // m (m = O / C, the channel multiplier). The thread
that owns channel c first copies its zero-padded plane into scratch, rows of `wp` floats (wide
enough for the last tile's over-read), so no load of the tile loop needs a bounds check:

    xp[c][i][j] = x[n, c, i - top, j - left]   (zero outside the image)

then sweeps the output rows in tiles of NV vectors of L consecutive pixels, the kh x kw weights
of o splat once per channel:

    acc[v] = sum_{r,s} splat(w[o, 0, r, s]) * xp[c][oh*sh + r*dh][(ow0 + v*L + lane)*sw + s*dw]
    out[n, o, oh, ow0 + v*L + lane] = epilogue(acc[v] + bias[o])     (residual add, relu, clip)

With a column stride sw > 1 a vector of taps is sw*L consecutive floats keeping every sw-th.
The last tile of a row (OW % NR pixels, known at compile time) has fewer vectors and stores its
last partial vector lane by lane. Threads split the input channels and each pads the planes it
reads, so no barrier is needed:

    for n:  for c in this thread's share of C:
              pad plane c
              for o in c*m .. c*m + m:  for oh:  full tiles;  tail tile
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from frittata.backends.llvm.conv_shape import ConvShape
from frittata.backends.llvm.irutil import F32, I1, I32, I64, PTR, VOID, for_range, i64, intrinsic, zero_floats
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat, vector_step
from frittata.backends.llvm.plan import Step
from frittata.backends.llvm.views import View
from frittata.terms.ops import Op
from frittata.terms.term import Term


@dataclass(frozen=True)
class Geometry(ConvShape):
    """The depthwise convolution's sizes and its tiling (NV vectors of `lanes` pixels)."""

    lanes: int
    nv: int

    @classmethod
    def of(cls, term: Term, schedule: dict) -> Geometry:
        """The depthwise convolution `term` tiled as its schedule (`cpu_schedules.depthwise_schedule`) says."""
        return cls(**ConvShape.fields(term), lanes=schedule["vec"], nv=schedule["ow_block"] // schedule["vec"])

    @property
    def nr(self) -> int:
        return self.nv * self.lanes

    @property
    def hp(self) -> int:
        return self.h + self.pads[0] + self.pads[2]

    @property
    def wp(self) -> int:
        """Padded row length: the image with its pads, or the last vector's reach if longer."""
        vectors = -(-self.ow // self.lanes)
        reach = vectors * self.lanes * self.strides[1] + (self.kw - 1) * self.dilations[1]
        return max(self.w + self.pads[1] + self.pads[3], reach)

    @property
    def plane(self) -> int:
        return self.hp * self.wp


def scratch_bytes(term: Term, schedule: dict) -> int:
    """One padded plane per input channel."""
    g = Geometry.of(term, schedule)
    return g.c * g.plane * 4


def lower(k: Kernel, step: Step, args: list[View], schedule: dict) -> None:
    t, g = step.term, Geometry.of(step.term, schedule)
    fused = t.op == Op.FUSED_CONV2D
    steps = t.attr("epilogue") if fused else ()
    ptr, b = k.base, k.b
    assert step.scratch is not None
    scratch, x, w, out = ptr(step.scratch), ptr(args[0].buf), ptr(args[1].buf), ptr(step.out)
    bias = ptr(args[2].buf) if fused else None
    residual = ptr(args[3].buf) if len(args) > 3 else None
    mult, taps = g.o // g.c, g.kh * g.kw
    lo, hi = k.split(g.c)
    with for_range(b, 0, g.n, name="n") as n:
        with for_range(b, lo, hi, name="c") as c:
            plane = b.gep(scratch, [b.mul(c, i64(g.plane))], source_etype=F32)
            _emit_pad(b, g, b.gep(x, [b.mul(b.add(b.mul(n, i64(g.c)), c), i64(g.h * g.w))], source_etype=F32), plane)
            with for_range(b, 0, mult, name="m") as j:
                o = b.add(b.mul(c, i64(mult)), j)
                weights = [splat(b, b.load(b.gep(w, [b.add(b.mul(o, i64(taps)), i64(i))], source_etype=F32), typ=F32),
                                 g.lanes) for i in range(taps)]
                shift = None if bias is None else splat(b, b.load(b.gep(bias, [o], source_etype=F32), typ=F32), g.lanes)
                at = b.mul(b.add(b.mul(n, i64(g.o)), o), i64(g.oh * g.ow))
                channel = Channel(plane, weights, shift, steps, b.gep(out, [at], source_etype=F32),
                                  None if residual is None else b.gep(residual, [at], source_etype=F32))
                _emit_rows(b, g, channel)


@dataclass(frozen=True)
class Channel:
    """What one output channel's rows read and write: its padded input plane, its splat
    weights and bias, its epilogue steps, its output plane and residual plane."""

    plane: ir.Value
    weights: list
    bias: ir.Value | None
    steps: tuple
    out: ir.Value
    residual: ir.Value | None


def _emit_pad(b: ir.IRBuilder, g: Geometry, src, plane) -> None:
    """Zero rows above and below the image; image rows copied between zeroed pad columns."""
    top, left = g.pads[0], g.pads[1]
    right = g.wp - left - g.w
    with for_range(b, 0, top, name="top") as i:
        zero_floats(b, b.gep(plane, [b.mul(i, i64(g.wp))], source_etype=F32), g.wp)
    with for_range(b, 0, g.h, name="row") as i:
        dst = b.gep(plane, [b.mul(b.add(i, i64(top)), i64(g.wp))], source_etype=F32)
        zero_floats(b, dst, left)
        _copy(b, b.gep(dst, [i64(left)], source_etype=F32), b.gep(src, [b.mul(i, i64(g.w))], source_etype=F32), g.w)
        zero_floats(b, b.gep(dst, [i64(left + g.w)], source_etype=F32), right)
    with for_range(b, top + g.h, g.hp, name="bottom") as i:
        zero_floats(b, b.gep(plane, [b.mul(i, i64(g.wp))], source_etype=F32), g.wp)


def _copy(b: ir.IRBuilder, dst, src, floats: int) -> None:
    memcpy = intrinsic(b.module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
    b.call(memcpy, [dst, src, i64(4 * floats), ir.Constant(I1, 0)])


def _emit_rows(b: ir.IRBuilder, g: Geometry, ch: Channel) -> None:
    """Every output row of one channel: its full tiles, then its tail tile."""
    tiles, tail = divmod(g.ow, g.nr)
    with for_range(b, 0, g.oh, name="oh") as oh:
        row = b.gep(ch.plane, [b.mul(oh, i64(g.strides[0] * g.wp))], source_etype=F32)
        out_row = b.mul(oh, i64(g.ow))
        if tiles:
            with for_range(b, 0, tiles, name="tile") as t:
                _emit_tile(b, g, ch, row, out_row, b.mul(t, i64(g.nr)), g.nr)
        if tail:
            _emit_tile(b, g, ch, row, out_row, i64(tiles * g.nr), tail)


def _emit_tile(b: ir.IRBuilder, g: Geometry, ch: Channel, row, out_row, ow0, pixels: int) -> None:
    """`pixels` outputs of one row from pixel ow0: accumulate the taps, apply the epilogue, store."""
    vec = ir.VectorType(F32, g.lanes)
    fma = intrinsic(b.module, f"llvm.fmuladd.v{g.lanes}f32", vec, [vec, vec, vec])
    vectors = -(-pixels // g.lanes)
    acc = [ir.Constant(vec, [0.0] * g.lanes)] * vectors
    for r in range(g.kh):
        for s in range(g.kw):
            weight = ch.weights[r * g.kw + s]
            for v in range(vectors):
                column = b.add(b.mul(b.add(ow0, i64(v * g.lanes)), i64(g.strides[1])), i64(s * g.dilations[1]))
                taps = b.gep(row, [b.add(i64(r * g.dilations[0] * g.wp), column)], source_etype=F32)
                acc[v] = b.call(fma, [weight, _load_taps(b, g, taps), acc[v]])
    for v in range(vectors):
        valid = min(g.lanes, pixels - v * g.lanes)
        at = b.add(out_row, b.add(ow0, i64(v * g.lanes)))
        value = acc[v] if ch.bias is None else b.fadd(acc[v], ch.bias)
        for step in ch.steps:
            residual = None
            if step == ("add",):
                residual = _load_partial(b, g, b.gep(ch.residual, [at], source_etype=F32), valid)
            value = vector_step(b, g.lanes, step, value, residual)
        _store_partial(b, value, b.gep(ch.out, [at], source_etype=F32), valid)


def _load_taps(b: ir.IRBuilder, g: Geometry, at) -> ir.Value:
    """L taps from `at`: consecutive floats, or every sw-th of sw*L consecutive ones."""
    sw = g.strides[1]
    if sw == 1:
        return b.load(at, typ=ir.VectorType(F32, g.lanes), align=4)
    wide = b.load(at, typ=ir.VectorType(F32, sw * g.lanes), align=4)
    keep = ir.Constant(ir.VectorType(I32, g.lanes), [lane * sw for lane in range(g.lanes)])
    return b.shuffle_vector(wide, ir.Constant(wide.type, ir.Undefined), keep)


def _load_partial(b: ir.IRBuilder, g: Geometry, at, valid: int) -> ir.Value:
    """A vector whose first `valid` lanes are read from `at` (the rest zero)."""
    vec = ir.VectorType(F32, g.lanes)
    if valid == g.lanes:
        return b.load(at, typ=vec, align=4)
    value: ir.Value = ir.Constant(vec, [0.0] * g.lanes)
    for lane in range(valid):
        scalar = b.load(b.gep(at, [i64(lane)], source_etype=F32), typ=F32)
        value = b.insert_element(value, scalar, ir.Constant(I32, lane))
    return value


def _store_partial(b: ir.IRBuilder, value: ir.Value, at, valid: int) -> None:
    """Store the first `valid` lanes of `value` at `at` (a whole vector when all are)."""
    if valid == value.type.count:
        b.store(value, at, align=4)
        return
    for lane in range(valid):
        b.store(b.extract_element(value, ir.Constant(I32, lane)), b.gep(at, [i64(lane)], source_etype=F32))
