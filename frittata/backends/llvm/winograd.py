"""Winograd F(m x m, 3 x 3) float32 convolution: transforms around the GEMM micro-kernel.

With n = m + 2, an image's output is cut into P = ceil(OH/m) x ceil(OW/m) tiles of m x m, each
computed from an n x n input tile. The weights are transformed at compile time, U = G g Gᵀ,
and packed per transform position e = (ξ, ν) into the GEMM's column panels ([C, O] with the
output channels in panels of NR; the recipe "winograd-panels", so a module file stores the
filters and derives U when it is read). Per image:

    [barrier, after the first image]
    xp[i][j][c] = x[c][i - top][j - left] (zero outside; channels innermost, padded to L)   rows taken
    barrier
    [one block, several groups (`shared_v`): V of the block, (tile, L channels) pairs taken; barrier]
    for (block, group) in the items this thread takes (blocks × channel groups, block-major):
      when the block changes:
        V[e][t][c] = (Bᵀ d_t B)[e] for the block's tiles t, L channels at a time     (input transform)
      for e < n²:  M[e] = V[e] · U[e][:, group]   [PB, C] x [C, O/G]: the blocked GEMM, serially
      out tile t, L channels of the group at a time = epilogue(Aᵀ M_t A + bias)   (output transform)

The output channels are cut into G groups of whole panels, so a layer whose transformed weights
U outweigh its tiles (few tiles, many channels: ResNet's 512 channels at 7x7) runs its tiles as
one block and the threads split U between them, reading it once, instead of every block
re-reading all of it; the block's V is then computed before the items, by all the threads (a
team takes so few items one at a time, and each recomputing V cost as much as a quarter of its
GEMMs at 16 groups). The threads take the rows to pad and the items
from the team's work counter (`Kernel.take`, `Kernel.chunks`: a thread the OS deschedules holds
up the items it took, not a static share); V and M live in the scratch region of the first
item the thread took in the phase, which it reuses for every chunk after it (so they stay in
its cache; `cpu_schedules.winograd_schedule` sizes the blocks and groups); the last block's
tiles past P repeat tile P - 1 and are not stored. Output tiles that cross the image's edge
store only their pixels inside it. The kernel's caller waits for
every thread after the last image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.conv_shape import ConvShape
from frittata.backends.llvm.gemm import Gemm, emit_blocked
from frittata.backends.llvm.irutil import F32, entry_alloca, for_range, i64, if_then, smin, zero_floats
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import vector_step
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.backends.llvm.winograd_transforms import WinogradGrid, sandwich, tile_origin
from frittata.backends.packing import Derivation
from frittata.terms.term import Term
from frittata.terms.winograd import shares_v, transforms


@dataclass(frozen=True)
class Tiling(WinogradGrid):
    """The convolution's sizes and the Winograd schedule's blocking."""

    lanes: int
    mr: int
    nr: int
    kc: int
    oc_groups: int

    @classmethod
    def of(cls, term: Term, schedule: dict) -> Tiling:
        return cls(**ConvShape.fields(term), m=schedule["tile"], lanes=schedule["vec"], mr=schedule["m_block"],
                   nr=schedule["n_block"], kc=schedule["k_block"], block=schedule["tile_block"],
                   oc_groups=schedule["oc_groups"])

    @property
    def c_pad(self) -> int:
        """Input channels padded to whole vectors."""
        return -(-self.c // self.lanes) * self.lanes

    @property
    def o_pad(self) -> int:
        """Output channels padded to whole GEMM panels."""
        return -(-self.o // self.nr) * self.nr

    @property
    def width(self) -> int:
        """Output channels of one group (whole panels: the schedule's groups divide the panels)."""
        return self.o_pad // self.oc_groups

    @property
    def items(self) -> int:
        """(tile block, channel group) pairs per image, the threads' unit of work."""
        return self.blocks * self.oc_groups

    @property
    def shared_v(self) -> bool:
        """One block of several groups: its V is computed once, before the items, the threads
        sharing its (tile, vector) pairs, where each item would recompute it (a team of two
        takes these few items one at a time)."""
        return shares_v(self.blocks, self.oc_groups)

    @property
    def padded(self) -> int:
        """Floats of the padded, channels-innermost input of one image."""
        return self.hp * self.wp * self.c_pad

    @property
    def v_stride(self) -> int:
        """Floats from one position's V[e] to the next (`skewed`)."""
        return skewed(self.block * self.c_pad)

    @property
    def m_stride(self) -> int:
        return skewed(self.block * self.width)

    @property
    def region(self) -> int:
        """Floats of one item's V and M."""
        return self.positions * (self.v_stride + self.m_stride)

    def gemm(self) -> Gemm:
        """One position's product of a block and a group: [PB, C] x [C, O/G]."""
        return Gemm(self.block, self.width, self.c_pad, None, (), self.lanes, self.mr, self.nr // self.lanes, self.kc,
                    "serial")


def skewed(floats: int) -> int:
    """`floats` rounded up to an odd number of 64-byte cache lines: the transforms touch all n²
    positions of a tile at once, and strides of a multiple of 128 bytes put them in few L1 sets
    (measured here: 24 and 48 tiles per block of 64 channels ran 15-40% slower than 25 and 49)."""
    lines = -(-floats // 16)
    return (lines + 1 - lines % 2) * 16


def scratch_bytes(term: Term, schedule: dict) -> int:
    """The padded input, then one V and M region per item."""
    t = Tiling.of(term, schedule)
    return (t.padded + t.items * t.region) * 4


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], schedule: dict) -> None:
    term, t = step.term, Tiling.of(step.term, schedule)
    ptr, b = k.base, k.b
    name = k.function.name
    recipe = Derivation("winograd-panels", {"m": t.m, "nr": t.nr, "c_pad": t.c_pad}, term.args[1].attr("ref").data)
    u = ptr(plan.add_derived(f"{name}.wino", recipe))
    bias = np.zeros(t.o_pad, np.float32)
    bias[:t.o] = term.args[2].attr("ref").data
    bias_ptr = ptr(plan.add_param(f"{name}.wbias", bias))
    residual = ptr(args[3].buf) if len(args) > 3 else None
    assert step.scratch is not None
    xp, x, out = ptr(step.scratch), ptr(args[0].buf), ptr(step.out)
    with k.repeat(t.n, sync_first=True) as n:
        _emit_pad(k, t, _at(b, x, b.mul(n, i64(t.c * t.h * t.w))), xp)
        k.sync()
        image = b.mul(n, i64(t.o * t.oh * t.ow))
        _emit_items(k, t, term.attr("epilogue"), (xp, u, bias_ptr), _at(b, out, image), _at(b, residual, image))


def _emit_items(k: Kernel, t: Tiling, steps: tuple, consts: tuple, out, residual) -> None:
    """The (block, group) items of one image this thread takes (see the module docstring); one
    block of several groups has its V computed first, the threads sharing its tiles."""
    if t.shared_v:
        v = _at(k.b, consts[0], i64(t.padded))
        with k.take(t.block * (t.c_pad // t.lanes), name="vt") as index:
            tile, vector = k.b.udiv(index, i64(t.c_pad // t.lanes)), k.b.urem(index, i64(t.c_pad // t.lanes))
            last = k.b.select(k.b.icmp_unsigned("<", tile, i64(t.tiles)), tile, i64(t.tiles - 1))
            _emit_input_vector(k.b, t, consts[0], v, (tile, k.b.mul(vector, i64(t.lanes))), last)
        k.sync()
    first_taken = entry_alloca(k.b, ir.IntType(64), name="first_taken")
    k.b.store(i64(-1), first_taken)
    with k.chunks(t.items) as (lo, hi):
        _emit_chunk(k, t, steps, consts, (lo, hi), out, residual, _first_taken(k.b, first_taken, lo))


def _first_taken(b: ir.IRBuilder, slot, lo):
    """The first item this thread took in the phase (`slot`, a stack word holding -1 before its
    first chunk): its scratch region is the thread's for every chunk it takes. Items are taken
    once, so two threads never share a region, and a thread keeps its V and M in its own cache
    (each chunk in its first item's region put every chunk in fresh memory: ResNet-18's 64-channel
    layers took 17 items of 230 KiB each per image on a team of two)."""
    taken = b.load(slot, typ=ir.IntType(64))
    first = b.select(b.icmp_signed("<", taken, i64(0)), lo, taken)
    b.store(first, slot)
    return first


def _emit_chunk(k: Kernel, t: Tiling, steps: tuple, consts: tuple, chunk: tuple, out, residual, owner) -> None:
    """Items [lo, hi) in the scratch region of item `owner` (the thread's first item of the
    phase): V when the block changes (or the chunk starts inside one; computed before the items
    when `shared_v`: in item 0's region), the GEMM of each position, the output transform."""
    b = k.b
    xp, u, bias = consts
    lo, hi = chunk
    region = _at(b, xp, b.add(i64(t.padded), b.mul(owner, i64(t.region))))
    v, mm = region, _at(b, region, i64(t.positions * t.v_stride))
    if t.shared_v:
        v = _at(b, xp, i64(t.padded))
    with for_range(b, lo, hi, name="item") as item:
        blk, group = b.udiv(item, i64(t.oc_groups)), b.urem(item, i64(t.oc_groups))
        first = b.mul(blk, i64(t.block))
        if not t.shared_v:
            with if_then(b, b.or_(b.icmp_signed("==", item, lo), b.icmp_signed("==", group, i64(0))), "new_block"):
                _emit_input_transform(k, t, xp, v, first)
        own = _at(b, u, b.mul(group, i64(t.width * t.c_pad)))
        with for_range(b, 0, t.positions, name="e") as e:
            a = _at(b, v, b.mul(e, i64(t.v_stride)))
            panels = _at(b, own, b.mul(e, i64(t.o_pad * t.c_pad)))
            emit_blocked(k, t.gemm(), a, t.c_pad, panels, _at(b, mm, b.mul(e, i64(t.m_stride))), t.width, None, None)
        _emit_output_transform(k, t, steps, mm, (first, group), bias, out, residual)


def _at(b: ir.IRBuilder, base, offset):
    """`base` advanced by `offset` floats (None stays None)."""
    return None if base is None else b.gep(base, [offset], source_etype=F32)


def _emit_pad(k: Kernel, t: Tiling, x, xp) -> None:
    """xp[i][j][c] = x[c][i - top][j - left], zero outside the image and past C (threads take
    rows): a row is zeroed whole, then its image pixels are copied channel by channel, a
    contiguous read of each channel's row (selects on every element took 18% of the 64-channel
    56x56 layer)."""
    b = k.b
    top, left = t.pads[0], t.pads[1]
    with k.take(t.hp) as i:
        row = _at(b, xp, b.mul(i, i64(t.wp * t.c_pad)))
        zero_floats(b, row, t.wp * t.c_pad)
        ih = b.sub(i, i64(top))
        with if_then(b, _within(b, ih, t.h), "image_row"):
            with for_range(b, 0, t.c, name="pc") as c:
                src = _at(b, x, b.add(b.mul(c, i64(t.h * t.w)), b.mul(ih, i64(t.w))))
                dst = _at(b, row, b.add(i64(left * t.c_pad), c))
                with for_range(b, 0, t.w, name="pj") as j:
                    value = b.load(_at(b, src, j), typ=F32)
                    b.store(value, _at(b, dst, b.mul(j, i64(t.c_pad))))


def _within(b: ir.IRBuilder, index, size: int):
    return b.and_(b.icmp_signed(">=", index, i64(0)), b.icmp_signed("<", index, i64(size)))


def _emit_input_transform(k: Kernel, t: Tiling, xp, v, first) -> None:
    """V[e][s][c..c+L] = (Bᵀ d B)[e] of tile first + s (the last tile past P), L channels at a time."""
    b = k.b
    with for_range(b, 0, t.block, name="ts") as s:
        tile = b.add(first, s)
        tile = b.select(b.icmp_signed("<", tile, i64(t.tiles)), tile, i64(t.tiles - 1))
        with for_range(b, 0, t.c_pad, t.lanes, name="tc") as c:
            _emit_input_vector(b, t, xp, v, (s, c), tile)


def _emit_input_vector(b: ir.IRBuilder, t: Tiling, xp, v, at: tuple, tile) -> None:
    """V[e][s][c..c+L] = (Bᵀ d B)[e] of image tile `tile`, at = (s, c)."""
    _, _, bt = transforms(t.m)
    vec = ir.VectorType(F32, t.lanes)
    s, c = at
    row, col = tile_origin(b, t.tw, t.m, tile)
    corner = b.mul(b.add(b.mul(row, i64(t.wp)), col), i64(t.c_pad))
    base = _at(b, xp, b.add(corner, c))
    d = [[b.load(_at(b, base, i64((i * t.wp + j) * t.c_pad)), typ=vec, align=4) for j in range(t.side)]
         for i in range(t.side)]
    transformed = sandwich(b, bt, d, vec)
    offset = b.add(b.mul(s, i64(t.c_pad)), c)
    for e in range(t.positions):
        value = transformed[e // t.side][e % t.side]
        b.store(value, _at(b, v, b.add(offset, i64(e * t.v_stride))), align=4)


def _emit_output_transform(k: Kernel, t: Tiling, steps: tuple, mm, item: tuple, bias, out, residual) -> None:
    """out[o][y][x] = epilogue((Aᵀ M A)[i][j] + bias[o]) for the tiles first.. of the block inside
    P and the group's channels, L at a time (the last vector of the last group: only the channels
    below O)."""
    b = k.b
    first, group = item
    full = t.o // t.lanes * t.lanes
    start = b.mul(group, i64(t.width))
    end = smin(b, b.add(start, i64(t.width)), i64(full))
    with for_range(b, 0, t.block, name="to") as s:
        tile = b.add(first, s)
        with if_then(b, b.icmp_signed("<", tile, i64(t.tiles)), "inside"):
            origin = tile_origin(b, t.tw, t.m, tile)
            at = b.sub(b.mul(s, i64(t.width)), start)
            with for_range(b, start, end, t.lanes, name="oc") as o:
                _emit_output_vector(b, t, steps, _at(b, mm, b.add(at, o)), o, t.lanes, origin, bias, out, residual)
            if full < t.o:
                with if_then(b, b.icmp_signed("==", group, i64(t.oc_groups - 1)), "tail"):
                    _emit_output_vector(b, t, steps, _at(b, mm, b.add(at, i64(full))), i64(full), t.o - full, origin,
                                        bias, out, residual)


def _emit_output_vector(b: ir.IRBuilder, t: Tiling, steps, products, o, valid: int, origin, bias, out, residual):
    """One tile's m x m outputs of L channels from o (`valid` of them stored), from its products
    at position 0: the transform into a stack array of m² vectors, then a loop over its pixels."""
    at, _, _ = transforms(t.m)
    vec = ir.VectorType(F32, t.lanes)
    grid = [[b.load(_at(b, products, i64((xi * t.side + nu) * t.m_stride)), typ=vec, align=4)
             for nu in range(t.side)] for xi in range(t.side)]
    y = sandwich(b, at, grid, vec)
    shift = b.load(_at(b, bias, o), typ=vec, align=4)
    stage = entry_alloca(b, ir.ArrayType(vec, t.m * t.m), name="ytile")
    for i in range(t.m):
        for j in range(t.m):
            b.store(b.fadd(y[i][j], shift), b.gep(stage, [i64(0), i64(i * t.m + j)], inbounds=True))
    row0, col0 = origin
    with for_range(b, 0, t.m * t.m, name="px") as p:
        oy, ox = b.add(row0, b.udiv(p, i64(t.m))), b.add(col0, b.urem(p, i64(t.m)))
        inside = b.and_(b.icmp_signed("<", oy, i64(t.oh)), b.icmp_signed("<", ox, i64(t.ow)))
        with if_then(b, inside, "px"):
            pixel = b.add(b.mul(oy, i64(t.ow)), ox)
            offsets = [b.add(b.mul(b.add(o, i64(lane)), i64(t.oh * t.ow)), pixel) for lane in range(valid)]
            value = b.load(b.gep(stage, [i64(0), p], inbounds=True), typ=vec)
            for step in steps:
                extra = _gather(b, residual, offsets, vec) if step == ("add",) else None
                value = vector_step(b, t.lanes, step, value, extra)
            for lane, offset in enumerate(offsets):
                b.store(b.extract_element(value, i64(lane)), _at(b, out, offset))


def _gather(b: ir.IRBuilder, base, offsets, vec: ir.VectorType):
    """A vector of the floats at `offsets` from `base` (lanes past them zero)."""
    value = ir.Constant(vec, [0.0] * vec.count)
    for lane, offset in enumerate(offsets):
        value = b.insert_element(value, b.load(_at(b, base, offset), typ=F32), i64(lane))
    return value
