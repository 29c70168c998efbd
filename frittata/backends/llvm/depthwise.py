"""Vectorized float32 depthwise convolution (one input channel per group) with a fused epilogue.

Output channel o reads input channel c = o // m (m = O / C, the channel multiplier). The thread
that owns channel c copies the zero-padded rows of its plane into a ring of S rows in scratch as
the output rows come to need them, so no load of the tile loop needs a bounds check. On a team of
at most min(C, MAX_THREADS) threads each thread has its own ring (`ring_slot`), which it reuses for
every channel it takes, so the ring stays in L1; a larger team has a ring per channel. A ring row
holds a padded row split into its sw column phases (phase q: padded columns q, q + sw, ...), each
`pw` floats wide (the image, its pads, and the last vector's reach):

    ring[p % S][q][j] = x[n, c, p - top, j*sw + q - left]        (zero outside the image)

so the taps of L consecutive output pixels are L consecutive floats of one phase, whatever the
column stride: tap s of output column ow is padded column ow*sw + s*dw, phase (s*dw) % sw,
index ow + (s*dw) // sw. A tile is RB output rows by NV vectors of L pixels (`oh_block`,
`ow_block`); each tap vector is loaded once per tile and feeds every row of the tile that reads
it, with the kh x kw weights of o splat once per channel:

    acc[i][v] = sum_{r,s} splat(w[o, 0, r, s]) * ring[(oh0 + i)*sh + r*dh][phase s][ow0 + v*L + lane + (s*dw)//sw]
    out[n, o, oh0 + i, ow0 + v*L + lane] = epilogue(acc[i][v] + bias[o])   (residual add, activations)

The ring holds the (RB - 1)*sh + (kh - 1)*dh + 1 rows one block of RB output rows reads and
`lead` rows more (`cpu_geometry.DEPTHWISE_RING_BYTES`), in a power of two of rows where it
wraps (`Geometry.ring`):
each block fills, up to `lead` rows past the last one it reads, the rows its predecessor did not
fill. The last column tile (OW % NR pixels, known at compile time) has fewer vectors; its last
partial vector is stored whole where its spare lanes land on outputs of the same plane that this
thread stores later (`Spill`: the next row's first columns, in every row when a row is that one
tile, else in a block's last row), checked as `here + L <= plane end`, and under a mask
elsewhere (the plane's last row). The last row block (OH % RB rows) has fewer rows. Threads
take the input channels in chunks (`Kernel.chunks`); a ring is one thread's or one channel's,
never two threads', so no barrier is needed:

    for each chunk [first, end) of C this thread takes:  for c in first .. end:
        for n:  for each block of RB output rows:
            fill the ring rows the block reads and the ring does not hold yet
            for o in c*m .. c*m + m:  full column tiles;  tail tile
        if c ends a group (`deferred_group` channels from first on, or the chunk):  for n:
            the deferred epilogue steps over the group's output planes, DEFERRED_VECTORS at a time

A tile applies the epilogue's steps up to the first sigmoid or SiLU (`split_steps`); that step
and the rest run in a pass over the finished output planes of a group of consecutive channels
(contiguous, still in L1), several vectors per iteration, so the exponential's dependent
chains overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from frittata.backends.jit import MAX_THREADS
from frittata.backends.llvm.conv_shape import ConvShape
from frittata.backends.llvm.irutil import F32, for_range, i64, if_then, intrinsic, smin, zero_floats
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.masked import load_partial, split_row_phases, store_partial
from frittata.backends.llvm.micro import splat, vector_step
from frittata.backends.llvm.plan import Step
from frittata.backends.llvm.views import View
from frittata.terms.cpu_geometry import depthwise_lead, depthwise_phase_floats, depthwise_ring
from frittata.terms.ops import Op
from frittata.terms.term import Term


DEFERRED_STEPS = frozenset({"sigmoid", "silu"})
"""Epilogue steps (and those after them) applied by a pass over each finished output plane,
`DEFERRED_VECTORS` vectors at a time, rather than in the tile: a tile's few accumulators (2 for
a 14-wide row) leave the exponential's long dependent chain exposed. One Zen 3 core, depthwise
3x3 with SiLU: 480 channels at 14x14 ran 183 us in the tile, ReLU6 77 us."""
DEFERRED_VECTORS = 4
"""Vectors of a plane the deferred pass handles per iteration (independent chains)."""
DEFERRED_GROUP_FLOATS = 1024
"""Output floats the deferred pass takes at once at most, in whole output planes of consecutive
channels (`deferred_group`; one plane when it is larger), 4 KiB, still in L1: a small plane
alone ends in a partial vector under a mask (a 7x7 plane is three vectors and one lane, a 14x14
one twelve and a quarter). 5x5 and 3x3 with SiLU, bench/ab_modules.py, one process,
interleaved, loaded, against one plane a pass: one Zen 4 core, AVX-512, 1152 channels at 7x7
0.87x (3x3: 0.93x), 672 from 14x14 stride 2 0.88x, 672 at 14x14 0.89x; 480 at 14x14 (3x3),
240 at 28x28, 144 from 56x56 stride 2 and 32 at 112x112 0.99-1.01x; with AVX2, 1152 at 7x7 0.93x,
672 at 14x14 0.98x, 144 from 56x56 1.01x."""


@dataclass(frozen=True)
class Geometry(ConvShape):
    """The depthwise convolution's sizes and its tiling: RB rows by NV vectors of `lanes` pixels."""

    lanes: int
    nv: int
    rb: int

    @classmethod
    def of(cls, term: Term, schedule: dict) -> Geometry:
        """The depthwise convolution `term` tiled as its schedule (`depthwise_schedules.depthwise_schedule`) says."""
        return cls(**ConvShape.fields(term), lanes=schedule["vec"], nv=schedule["ow_block"] // schedule["vec"],
                   rb=schedule["oh_block"])

    @property
    def nr(self) -> int:
        return self.nv * self.lanes

    @property
    def reach(self) -> int:
        """Padded rows one output row reads."""
        return (self.kh - 1) * self.dilations[0] + 1

    @property
    def last(self) -> int:
        """Padded rows the output reads: rows [0, last)."""
        return (self.oh - 1) * self.strides[0] + self.reach

    @property
    def block_reads(self) -> int:
        """Padded rows one block of RB output rows reads."""
        return (self.rb - 1) * self.strides[0] + self.reach

    @property
    def lead(self) -> int:
        """Rows filled ahead of the block that first reads them: as many as the ring holds
        beyond one block's input rows, or, when the ring holds every row, one block's input
        rows or as many more as keep `DEPTHWISE_RING_BYTES`."""
        return self.ring - self.block_reads if self.ring < self.last else self.wanted_lead

    @property
    def wanted_lead(self) -> int:
        """One block's input rows, or as many more as keep the ring within
        `DEPTHWISE_RING_BYTES` (`cpu_geometry.depthwise_lead`)."""
        return depthwise_lead(self.block_reads, self.rb * self.strides[0], self.row)

    @property
    def ring(self) -> int:
        """Rows of the ring (`cpu_geometry.depthwise_ring`, which the cost model prices)."""
        return depthwise_ring(self.last, self.block_reads, self.rb * self.strides[0], self.row)

    def slot(self, b: ir.IRBuilder, row) -> ir.Value:
        """The ring slot of padded row `row` (< `last`): the row itself when the ring holds them all."""
        return row if self.ring == self.last else b.urem(row, i64(self.ring))

    @property
    def pw(self) -> int:
        """Floats of one column phase of a padded row (`cpu_geometry.depthwise_phase_floats`)."""
        return depthwise_phase_floats(self.w, self.ow, self.lanes, self.strides[1], self.pads[1], self.kw,
                                      self.dilations[1])

    @property
    def row(self) -> int:
        """Floats of one ring row (its sw phases)."""
        return self.strides[1] * self.pw


def ring_slots(g: Geometry) -> int:
    """Rings in scratch: one per thread of the largest team, or one per input channel if fewer."""
    return min(g.c, MAX_THREADS)


def scratch_bytes(term: Term, schedule: dict) -> int:
    """The rings of padded rows (`ring_slots`)."""
    g = Geometry.of(term, schedule)
    return ring_slots(g) * g.ring * g.row * 4


def ring_slot(k: Kernel, g: Geometry, c: ir.Value) -> ir.Value:
    """The ring of the thread that takes input channel c: its own (the thread index) when the
    team has at most `ring_slots` threads, else the channel's (there are then as many rings as
    channels). A ring per channel is a fresh stretch of scratch for every channel, which its
    fill must bring into the cache: one Zen 3 core, CPU time, one process, loaded, one ring for
    all channels against one per channel: 576 channels at 14x14 0.95x, 576 from 14x14 stride 2
    0.91x, 960 at 7x7 0.96x, 144 at 56x56 0.95x."""
    b = k.b
    own = b.icmp_signed("<=", k.nthreads, ir.Constant(k.nthreads.type, ring_slots(g)))
    return b.select(own, b.sext(k.tid, c.type), c)


def lower(k: Kernel, step: Step, args: list[View], schedule: dict) -> None:
    """Emit the depthwise kernel of `step` (see the module docstring) with its tile `schedule`."""
    t, g = step.term, Geometry.of(step.term, schedule)
    fused = t.op != Op.CONV2D
    ptr, b = k.base, k.b
    assert step.scratch is not None
    scratch, x, w, out = ptr(step.scratch), ptr(args[0].buf), ptr(args[1].buf), ptr(step.out)
    inline, deferred = split_steps(t.attr("epilogue") if fused else ())
    io = Io(x, w, ptr(args[2].buf) if fused else None, out, ptr(args[3].buf) if len(args) > 3 else None, inline)
    with k.chunks(g.c) as (first, end), for_range(b, first, end, name="c") as c:
        ring = b.gep(scratch, [b.mul(ring_slot(k, g, c), i64(g.ring * g.row))], source_etype=F32)
        weights = _channel(b, g, io, c, i64(0)) if g.o == g.c else None
        with for_range(b, 0, g.n, name="n") as n:
            src = b.gep(x, [b.mul(b.add(b.mul(n, i64(g.c)), c), i64(g.h * g.w))], source_etype=F32)
            blocks, tail = divmod(g.oh, g.rb)
            if blocks:
                with for_range(b, 0, blocks, name="block") as block:
                    _emit_block(b, g, io, Rows(src, ring, n, c, b.mul(block, i64(g.rb)), g.rb), weights)
            if tail:
                _emit_block(b, g, io, Rows(src, ring, n, c, i64(blocks * g.rb), tail), weights)
        if deferred:
            _emit_group_end(b, g, io, deferred, c, first, end)


def split_steps(steps: tuple) -> tuple[tuple, tuple]:
    """The epilogue steps a tile applies to its accumulators, and those from the first
    `DEFERRED_STEPS` step on, which a pass over each finished output plane applies."""
    first = next((i for i, step in enumerate(steps) if step[0] in DEFERRED_STEPS), len(steps))
    return steps[:first], steps[first:]


def deferred_group(g: Geometry) -> int:
    """Input channels whose output planes one deferred pass takes: as many as fill
    `DEFERRED_GROUP_FLOATS`, at least one."""
    return max(1, DEFERRED_GROUP_FLOATS // (g.o // g.c * g.oh * g.ow))


def _emit_group_end(b: ir.IRBuilder, g: Geometry, io: Io, steps: tuple, c, first, end) -> None:
    """After input channel c of the chunk [first, end): when c ends a group (`deferred_group`
    channels from `first` on, the last group cut at `end`), the deferred steps over that group's
    output planes in every image."""
    group = deferred_group(g)
    done = b.add(c, i64(1))
    closes = b.or_(b.icmp_signed("==", b.urem(b.sub(done, first), i64(group)), i64(0)),
                   b.icmp_signed("==", done, end))
    with if_then(b, closes, name="group"):
        start = b.sub(c, b.urem(b.sub(c, first), i64(group)))
        mult, plane = g.o // g.c, g.oh * g.ow
        with for_range(b, 0, g.n, name="dn") as n:
            base = b.mul(n, i64(g.o))
            lo = b.mul(b.add(base, b.mul(start, i64(mult))), i64(plane))
            hi = b.mul(b.add(base, b.mul(done, i64(mult))), i64(plane))
            _emit_deferred(b, g, io, steps, lo, hi)


def _emit_deferred(b: ir.IRBuilder, g: Geometry, io: Io, steps: tuple, lo, hi) -> None:
    """The deferred steps over output elements [lo, hi) (whole planes, one or more),
    `DEFERRED_VECTORS` vectors at a time, then one vector at a time, the last partial vector
    under a mask; an "add" reads the residual there."""
    lanes = g.lanes
    chunk = DEFERRED_VECTORS * lanes

    def vector(here, valid) -> None:
        value = load_partial(b, b.gep(io.out, [here], source_etype=F32), lanes, valid)
        value = _apply_steps(b, lanes, steps, value, io.residual, here, valid)
        store_partial(b, value, b.gep(io.out, [here], source_etype=F32), valid)

    count = b.sub(hi, lo)
    chunks_end = b.add(lo, b.mul(b.udiv(count, i64(chunk)), i64(chunk)))
    vectors_end = b.add(lo, b.mul(b.udiv(count, i64(lanes)), i64(lanes)))
    with for_range(b, lo, chunks_end, chunk, name="dv") as at:
        for v in range(DEFERRED_VECTORS):
            vector(b.add(at, i64(v * lanes)), lanes)
    with for_range(b, chunks_end, vectors_end, lanes, name="dw") as at:
        vector(at, lanes)
    with if_then(b, b.icmp_signed("<", vectors_end, hi), name="dtail"):
        vector(vectors_end, b.sub(hi, vectors_end))


@dataclass(frozen=True)
class Io:
    """The kernel's buffers (bias and residual None when absent) and its epilogue steps."""

    x: ir.Value
    w: ir.Value
    bias: ir.Value | None
    out: ir.Value
    residual: ir.Value | None
    steps: tuple


@dataclass(frozen=True)
class Rows:
    """One block of output rows: the image plane and ring it reads, its image and input channel,
    its first output row and (compile-time) row count."""

    src: ir.Value
    ring: ir.Value
    n: ir.Value
    c: ir.Value
    oh0: ir.Value
    count: int


@dataclass(frozen=True)
class Channel:
    """One output channel's splat weights (kh x kw) and splat bias (None without one)."""

    weights: list
    bias: ir.Value | None


def _channel(b: ir.IRBuilder, g: Geometry, io: Io, c, j) -> Channel:
    """The splat weights and bias of output channel c*m + j."""
    o = b.add(b.mul(c, i64(g.o // g.c)), j)
    taps = g.kh * g.kw
    weights = [splat(b, b.load(b.gep(io.w, [b.add(b.mul(o, i64(taps)), i64(i))], source_etype=F32), typ=F32),
                     g.lanes) for i in range(taps)]
    bias = None if io.bias is None else splat(b, b.load(b.gep(io.bias, [o], source_etype=F32), typ=F32), g.lanes)
    return Channel(weights, bias)


def _emit_block(b: ir.IRBuilder, g: Geometry, io: Io, rows: Rows, weights: Channel | None) -> None:
    """Fill the ring rows the block needs, then every output channel's tiles of the block."""
    sh = g.strides[0]
    first = b.mul(rows.oh0, i64(sh))
    ahead = lambda output_row: smin(b, i64(g.last), b.add(b.mul(output_row, i64(sh)), i64(g.reach + g.lead)))  # noqa: E731
    lo = b.select(b.icmp_signed("==", rows.oh0, i64(0)), i64(0), ahead(b.sub(rows.oh0, i64(1))))
    with for_range(b, lo, ahead(b.add(rows.oh0, i64(rows.count - 1))), name="fill") as p:
        _emit_fill(b, g, rows, p)
    ring_rows = {i * sh + r * g.dilations[0] for i in range(rows.count) for r in range(g.kh)}
    at = {rr: b.gep(rows.ring, [b.mul(g.slot(b, b.add(first, i64(rr))), i64(g.row))], source_etype=F32)
          for rr in sorted(ring_rows)}
    mult = g.o // g.c
    if weights is not None:
        _emit_tiles(b, g, io, rows, at, weights, rows.c)
        return
    with for_range(b, 0, mult, name="m") as j:
        _emit_tiles(b, g, io, rows, at, _channel(b, g, io, rows.c, j), b.add(b.mul(rows.c, i64(mult)), j))


def _emit_fill(b: ir.IRBuilder, g: Geometry, rows: Rows, p) -> None:
    """Padded row p into ring slot p % S: its image row split into column phases, or zeros."""
    slot = b.gep(rows.ring, [b.mul(g.slot(b, p), i64(g.row))], source_etype=F32)
    image_row = b.sub(p, i64(g.pads[0]))
    inside = b.icmp_unsigned("<", image_row, i64(g.h))
    with if_then(b, b.not_(inside), name="pad"):
        zero_floats(b, slot, g.row)
    with if_then(b, inside, name="image"):
        _emit_phases(b, g, b.gep(rows.src, [b.mul(image_row, i64(g.w))], source_etype=F32), slot)


def _emit_phases(b: ir.IRBuilder, g: Geometry, src, slot) -> None:
    """Image row `src` into the column phases of `slot`, sw*L floats at a time (the last chunk
    read under a mask, its missing lanes stored as zeros), and zeros on either side of the image
    in each phase."""
    sw, left, lanes = g.strides[1], g.pads[1], g.lanes
    split_row_phases(b, src, slot, g.w, sw, left, lanes, g.pw, True)
    chunks, rest = divmod(g.w, sw * lanes)
    for q in range(sw):
        held = [(i + left) // sw for i in range(chunks * sw * lanes + (sw * lanes if rest else 0))
                if (i + left) % sw == q]
        start, stop = (held[0], held[-1] + 1) if held else (g.pw, g.pw)
        zero_floats(b, b.gep(slot, [i64(q * g.pw)], source_etype=F32), start)
        zero_floats(b, b.gep(slot, [i64(q * g.pw + stop)], source_etype=F32), g.pw - stop)


def _emit_tiles(b: ir.IRBuilder, g: Geometry, io: Io, rows: Rows, at: dict, ch: Channel, o) -> None:
    """Output channel o's rows of the block: its full column tiles, then its tail tile."""
    tiles, tail = divmod(g.ow, g.nr)
    plane = b.mul(b.add(b.mul(rows.n, i64(g.o)), o), i64(g.oh * g.ow))
    first = b.add(plane, b.mul(rows.oh0, i64(g.ow)))
    if tiles:
        with for_range(b, 0, tiles, name="tile") as t:
            _emit_tile(b, g, io, rows.count, at, ch, first, b.mul(t, i64(g.nr)), g.nr)
    if tail:
        spill = Spill(b.add(plane, i64(g.oh * g.ow)), every_row=tiles == 0)
        _emit_tile(b, g, io, rows.count, at, ch, first, i64(tiles * g.nr), tail, spill)


@dataclass(frozen=True)
class Spill:
    """Where the tail tile of a row may store its partial vector whole: its spare lanes land on
    the next outputs of the plane (ending at `end`), which this thread stores later: the next
    row's first columns, stored after this row when the row is one tile (`every_row`) or, in a
    block's last row, by the next block. A masked store took ~30% of a 7x7 plane's time (one
    Zen 3 core: 960 channels at 7x7 0.70x with whole stores, 576 at 14x14 0.78x)."""

    end: ir.Value
    every_row: bool


def _emit_tile(b: ir.IRBuilder, g: Geometry, io: Io, count: int, at: dict, ch: Channel, first, ow0,
               pixels: int, spill: Spill | None = None) -> None:
    """`count` rows by `pixels` outputs from column ow0: accumulate the taps (each tap vector
    loaded once for every row that reads it), apply the epilogue, store (a partial vector whole
    where `spill` allows it and the vector ends inside the plane, else under a mask)."""
    vec = ir.VectorType(F32, g.lanes)
    fma = intrinsic(b.module, f"llvm.fmuladd.v{g.lanes}f32", vec, [vec, vec, vec])
    vectors = -(-pixels // g.lanes)
    sh, sw, dh, dw = *g.strides, *g.dilations
    acc = [[ir.Constant(vec, [0.0] * g.lanes)] * vectors for _ in range(count)]
    for rr in sorted(at):
        readers = [(i, (rr - i * sh) // dh) for i in range(count)
                   if 0 <= rr - i * sh < g.reach and (rr - i * sh) % dh == 0]
        for s in range(g.kw):
            column = b.add(ow0, i64((s * dw) % sw * g.pw + (s * dw) // sw))
            for v in range(vectors):
                tap = b.load(b.gep(at[rr], [b.add(column, i64(v * g.lanes))], source_etype=F32), typ=vec, align=4)
                for i, r in readers:
                    acc[i][v] = b.call(fma, [ch.weights[r * g.kw + s], tap, acc[i][v]])
    for i in range(count):
        out_row = b.add(first, i64(i * g.ow))
        for v in range(vectors):
            valid = min(g.lanes, pixels - v * g.lanes)
            here = b.add(out_row, b.add(ow0, i64(v * g.lanes)))
            value = acc[i][v] if ch.bias is None else b.fadd(acc[i][v], ch.bias)
            value = _apply_steps(b, g.lanes, io.steps, value, io.residual, here, valid)
            row_spill = spill if spill is not None and (spill.every_row or i == count - 1) else None
            _store_tail(b, value, b.gep(io.out, [here], source_etype=F32), here, valid, row_spill)


def _store_tail(b: ir.IRBuilder, value, target, here, valid: int, spill: Spill | None) -> None:
    """Store the first `valid` lanes of `value` at `target` (output element `here`): the whole
    vector when all lanes are valid, or when `spill` allows it and the vector ends inside the
    plane (`here + lanes <= spill.end`: its spare lanes land on outputs stored later), else
    under a mask."""
    lanes = value.type.count
    if valid == lanes or spill is None:
        store_partial(b, value, target, valid)
        return
    inside = b.icmp_signed("<=", b.add(here, i64(lanes)), spill.end)
    with b.if_else(inside) as (whole, part):
        with whole:
            b.store(value, target, align=4)
        with part:
            store_partial(b, value, target, valid)


def _apply_steps(b: ir.IRBuilder, lanes: int, steps: tuple, value, residual_ptr, here, valid: int | ir.Value):
    """`value` (one vector of outputs at element `here`, `valid` lanes of them real: a count
    known here or computed at run time) through the
    epilogue `steps`; an "add" reads the residual at `here`."""
    for step in steps:
        residual = None
        if step == ("add",):
            residual = load_partial(b, b.gep(residual_ptr, [here], source_etype=F32), lanes, valid)
        value = vector_step(b, lanes, step, value, residual)
    return value
