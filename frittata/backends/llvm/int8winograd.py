"""Exact int8 Winograd F(m x m, 3 x 3) convolution: int16 transforms around a pair GEMM.

The integer form of `frittata.terms.winograd` (`integer_transforms`): V = Bᵀ d B of an input
tile is int16, U = Gi g Giᵀ of a filter is int16 (packed at compile time), their products
summed over channel pairs by pmaddwd into int32 lanes that may wrap, and the output transform
E M Eᵀ, times odd⁻¹ and shifted right, is the convolution's exact int32 sum (`exact_channels`
bounds C). With n = m + 2, per image:

    xp[i][j][c] = x[c][i - top][j - left] as int16 (zero outside; channels innermost, padded
                  to 2L)                                                            rows taken
    barrier
    for block in the blocks this thread takes (`tile_block` tiles, a multiple of MR; the last
    block's tiles past P repeat tile P - 1 and are not stored):
      V[e][s][c..c+2L] = (Bᵀ d_s B)[e]                        (input transform, int16 lanes)
      for panel of NR output channels:
        for e < n²:  for MR tiles s:  M[e][s][..NR] = Σ_p pmaddwd(V[e][s][2p, 2p+1], U[panel][e][p])
        out tile s, L channels at a time = epilogue(((E M_s Eᵀ) * odd⁻¹ >> shift) + bias)

V of a block stays in L2 (`int8_schedules.int8_winograd_schedule` sizes it); a panel's M in L1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.conv_shape import ConvShape
from frittata.backends.llvm.int8conv import madd
from frittata.backends.llvm.int_epilogue import int_epilogue
from frittata.backends.llvm.irutil import I32, entry_alloca, for_range, i64, if_then, ltype, zero_floats
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.backends.llvm.winograd_transforms import WinogradGrid, sandwich, tile_origin
from frittata.backends.packing import Derivation
from frittata.terms.term import Term
from frittata.terms.winograd import INT8_PRODUCT, IntegerTransforms, integer_transforms

I16 = ir.IntType(16)


@dataclass(frozen=True)
class Tiling(WinogradGrid):
    """The convolution's sizes and the kernel's blocking."""

    lanes: int
    mr: int
    nr: int
    oc_groups: int
    """0: blocks of `block` tiles, each through every panel; G > 0: one block of all the tiles
    (its V computed by the team first), the threads taking G groups of whole panels."""

    @classmethod
    def of(cls, term: Term, schedule: dict) -> Tiling:
        return cls(**ConvShape.fields(term), m=schedule["tile"], lanes=schedule["vec"], mr=schedule["m_block"],
                   nr=schedule["n_block"], block=schedule["tile_block"], oc_groups=schedule["oc_groups"])

    @property
    def c_pad(self) -> int:
        """Input channels padded to whole int16 vectors (2L)."""
        return -(-self.c // (2 * self.lanes)) * 2 * self.lanes

    @property
    def o_pad(self) -> int:
        return -(-self.o // self.nr) * self.nr

    @property
    def padded(self) -> int:
        """int16 elements of the padded input of one image."""
        return self.hp * self.wp * self.c_pad

    @property
    def v_stride(self) -> int:
        """int16 elements from V[e] to V[e + 1], an odd number of 64-byte lines (the transforms
        touch all n² positions at once)."""
        lines = -(-self.block * self.c_pad // 32)
        return (lines + 1 - lines % 2) * 32

    @property
    def width(self) -> int:
        """Output channels of M's rows: a panel's (blocks), a group's (groups)."""
        return self.o_pad // self.oc_groups if self.oc_groups else self.nr

    @property
    def m_stride(self) -> int:
        """int32 elements from M[e] to M[e + 1]."""
        lines = -(-self.block * self.width // 16)
        return (lines + 1 - lines % 2) * 16

    @property
    def region(self) -> int:
        """Bytes of one block's V and M (blocks), or of one group's M (groups)."""
        return self.positions * ((0 if self.oc_groups else 2 * self.v_stride) + 4 * self.m_stride)


def scratch_bytes(term: Term, schedule: dict) -> int:
    """The padded input, then one V and M region per block (a thread uses its first block's), or
    the image's V and one M region per group."""
    t = Tiling.of(term, schedule)
    if t.oc_groups:
        return 2 * t.padded + 2 * t.positions * t.v_stride + t.oc_groups * t.region
    return 2 * t.padded + t.blocks * t.region


def accumulator_bound(term: Term) -> int:
    """|y + bias| at most: C x 9 products of at most 2^14, and the largest |bias|."""
    bias = np.abs(term.args[2].attr("ref").data.astype(np.int64)).max(initial=0)
    return term.args[0].shape[1] * 9 * INT8_PRODUCT + int(bias)


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], schedule: dict) -> None:
    term, t = step.term, Tiling.of(step.term, schedule)
    ptr, b = k.base, k.b
    recipe = Derivation("int8-winograd-panels", {"m": t.m, "nr": t.nr, "c_pad": t.c_pad}, term.args[1].attr("ref").data)
    u = ptr(plan.add_derived(f"{k.function.name}.wino8", recipe))
    bias = np.zeros(t.o_pad, np.int32)
    bias[:t.o] = term.args[2].attr("ref").data
    bias_ptr = ptr(plan.add_param(f"{k.function.name}.wbias", bias))
    assert step.scratch is not None
    xp, x, out = ptr(step.scratch), ptr(args[0].buf), ptr(step.out)
    element = ltype(term.dtype)
    epilogue = (term.attr("epilogue"), accumulator_bound(term), element)
    with k.repeat(t.n, sync_first=True) as n:
        _emit_pad(k, t, _at(b, x, b.mul(n, i64(t.c * t.h * t.w)), ir.IntType(8)), xp)
        k.sync()
        image = _at(b, out, b.mul(n, i64(t.o * t.oh * t.ow)), element)
        if t.oc_groups:
            _emit_groups(k, t, (xp, u, bias_ptr), image, epilogue)
        else:
            _emit_blocks(k, t, (xp, u, bias_ptr), image, epilogue)


def _emit_blocks(k: Kernel, t: Tiling, consts: tuple, image, epilogue: tuple) -> None:
    """The blocks this thread takes, each in the scratch region of its first one."""
    b = k.b
    first_taken = entry_alloca(b, ir.IntType(64), name="first_taken")
    b.store(i64(-1), first_taken)
    with k.chunks(t.blocks) as (lo, hi):
        taken = b.load(first_taken, typ=ir.IntType(64))
        owner = b.select(b.icmp_signed("<", taken, i64(0)), lo, taken)
        b.store(owner, first_taken)
        region = _at(b, consts[0], b.add(i64(t.padded), b.mul(owner, i64(t.region // 2))), I16)
        with for_range(b, lo, hi, name="blk") as blk:
            _emit_block(k, t, consts, region, b.mul(blk, i64(t.block)), image, epilogue)


def _emit_groups(k: Kernel, t: Tiling, consts: tuple, image, epilogue: tuple) -> None:
    """V of every tile (the threads share its (tile, 2L channels) pairs), then the groups of
    panels this thread takes: per position, the GEMM of each panel of the group (U read once
    per image, V[e] from L2), then the group's output transform."""
    b = k.b
    xp, u, bias = consts
    v = _at(b, xp, i64(t.padded), I16)
    vectors = t.c_pad // (2 * t.lanes)
    with k.take(t.block * vectors, name="vt") as index:
        s = b.udiv(index, i64(vectors))
        tile = b.select(b.icmp_signed("<", s, i64(t.tiles)), s, i64(t.tiles - 1))
        _emit_input_vector(b, t, xp, v, (s, b.mul(b.urem(index, i64(vectors)), i64(2 * t.lanes))), tile)
    k.sync()
    panels = t.width // t.nr
    with k.take(t.oc_groups, name="group") as group:
        mm = _at(b, v, b.add(i64(t.positions * t.v_stride // 2), b.mul(group, i64(t.region // 4))))
        with for_range(b, 0, t.positions, name="e") as e:
            ve = _at(b, v, b.mul(e, i64(t.v_stride // 2)))
            me = _at(b, mm, b.mul(e, i64(t.m_stride)))
            with for_range(b, 0, panels, name="pl") as pl:
                panel = b.add(b.mul(group, i64(panels)), pl)
                ue = _at(b, u, b.add(b.mul(panel, i64(t.positions * t.c_pad // 2 * t.nr)),
                                     b.mul(e, i64(t.c_pad // 2 * t.nr))))
                with for_range(b, 0, t.block, t.mr, name="rows") as s0:
                    _emit_micro(b, t, _at(b, ve, b.mul(s0, i64(t.c_pad // 2))), ue,
                                _at(b, me, b.add(b.mul(s0, i64(t.width)), b.mul(pl, i64(t.nr)))))
        _emit_output_panel(b, t, mm, (i64(0), b.mul(group, i64(t.width))), bias, image, epilogue)


def _at(b: ir.IRBuilder, base, offset, element: ir.Type = I32):
    return b.gep(base, [offset], source_etype=element)


SQUARE = 16
"""Channels and pixels of the pad pass's byte transposes (one 16-byte vector per channel)."""


def _emit_pad(k: Kernel, t: Tiling, x, xp) -> None:
    """xp[i][j][c] = x[c][i - top][j - left] as int16, zero outside the image and past C
    (threads take rows): a row is zeroed whole, then its pixels copied, 16 channels x 16
    pixels at a time by a byte transpose where the row has 16 pixels (`_emit_square`; the
    last square overlaps the one before it where 16 does not divide the row), the channels
    past the last 16 one element at a time."""
    b = k.b
    top, left = t.pads[0], t.pads[1]
    squares = [] if t.w < SQUARE else [*range(0, t.w - SQUARE + 1, SQUARE)] + ([t.w - SQUARE] if t.w % SQUARE else [])
    whole = t.c // SQUARE * SQUARE if squares else 0
    with k.take(t.hp) as i:
        row = _at(b, xp, b.mul(i, i64(t.wp * t.c_pad)), I16)
        zero_floats(b, row, t.wp * t.c_pad // 2)
        ih = b.sub(i, i64(top))
        inside = b.and_(b.icmp_signed(">=", ih, i64(0)), b.icmp_signed("<", ih, i64(t.h)))
        with if_then(b, inside, "image_row"):
            source = _at(b, x, b.mul(ih, i64(t.w)), ir.IntType(8))
            with for_range(b, 0, whole, SQUARE, name="pq") as c:
                for j in squares:
                    _emit_square(b, t, _at(b, source, b.add(b.mul(c, i64(t.h * t.w)), i64(j)), ir.IntType(8)),
                                 _at(b, row, b.add(i64((left + j) * t.c_pad), c), I16))
            with for_range(b, whole, t.c, name="pc") as c:
                src = _at(b, source, b.mul(c, i64(t.h * t.w)), ir.IntType(8))
                dst = _at(b, row, b.add(i64(left * t.c_pad), c), I16)
                with for_range(b, 0, t.w, name="pj") as j:
                    value = b.load(_at(b, src, j, ir.IntType(8)), typ=ir.IntType(8))
                    b.store(b.sext(value, I16), _at(b, dst, b.mul(j, i64(t.c_pad)), I16))


def _emit_square(b: ir.IRBuilder, t: Tiling, src, dst) -> None:
    """dst[p][c] = src[c][p] as int16 for 16 channels c (rows h w bytes apart) and 16 pixels p
    (dst's pixels c_pad apart): four rounds of interleaving vector i with vector i + 8 (each a
    perfect shuffle of the 8 index bits, row and column rotating into each other: four make the
    transpose)."""
    byte = ir.IntType(8)
    vectors = [b.load(_at(b, src, i64(c * t.h * t.w), byte), typ=ir.VectorType(byte, SQUARE), align=1)
               for c in range(SQUARE)]
    half = SQUARE // 2
    low = ir.Constant(ir.VectorType(I32, SQUARE), [q for p in range(half) for q in (p, p + SQUARE)])
    high = ir.Constant(ir.VectorType(I32, SQUARE), [q for p in range(half, SQUARE) for q in (p, p + SQUARE)])
    for _ in range(4):
        vectors = [b.shuffle_vector(vectors[i], vectors[i + half], mask) for i in range(half) for mask in (low, high)]
    for p, value in enumerate(vectors):
        b.store(b.sext(value, ir.VectorType(I16, SQUARE)), _at(b, dst, i64(p * t.c_pad), I16), align=2)


def _emit_block(k: Kernel, t: Tiling, consts: tuple, v, first, out, epilogue: tuple) -> None:
    """One block of tiles from `first`: its V, then per panel of NR output channels the GEMM
    of every position and the output transform."""
    b = k.b
    xp, u, bias = consts
    mm = _at(b, v, i64(t.positions * t.v_stride // 2))
    with for_range(b, 0, t.block, name="ts") as s:
        tile = b.add(first, s)
        tile = b.select(b.icmp_signed("<", tile, i64(t.tiles)), tile, i64(t.tiles - 1))
        with for_range(b, 0, t.c_pad, 2 * t.lanes, name="tc") as c:
            _emit_input_vector(b, t, xp, v, (s, c), tile)
    with for_range(b, 0, t.o_pad // t.nr, name="panel") as panel:
        panel_u = _at(b, u, b.mul(panel, i64(t.positions * t.c_pad // 2 * t.nr)))
        with for_range(b, 0, t.positions, name="e") as e:
            ve = _at(b, v, b.mul(e, i64(t.v_stride // 2)))
            ue = _at(b, panel_u, b.mul(e, i64(t.c_pad // 2 * t.nr)))
            me = _at(b, mm, b.mul(e, i64(t.m_stride)))
            with for_range(b, 0, t.block, t.mr, name="rows") as s0:
                _emit_micro(b, t, _at(b, ve, b.mul(s0, i64(t.c_pad // 2))), ue, _at(b, me, b.mul(s0, i64(t.nr))))
        _emit_output_panel(b, t, mm, (first, b.mul(panel, i64(t.nr))), bias, out, epilogue)


def _emit_micro(b: ir.IRBuilder, t: Tiling, v, u, m) -> None:
    """M[s][..NR] = Σ_p pmaddwd(V[s][pair p] on every lane, U[p][..NR]) for MR tiles s, the
    MR x NR/L int32 accumulators in registers over the whole reduction."""
    lanes, nv = t.lanes, t.nr // t.lanes
    vec = ir.VectorType(I32, lanes)
    acc = [[entry_alloca(b, vec, name="wacc") for _ in range(nv)] for _ in range(t.mr)]
    for row in acc:
        for slot in row:
            b.store(ir.Constant(vec, [0] * lanes), slot)
    with for_range(b, 0, t.c_pad // 2, name="p") as p:
        uv = [b.load(_at(b, u, b.add(b.mul(p, i64(t.nr)), i64(j * lanes))), typ=vec, align=4) for j in range(nv)]
        for r, row in enumerate(acc):
            pair = splat(b, b.load(_at(b, v, b.add(p, i64(r * t.c_pad // 2))), typ=I32), lanes)
            for j, slot in enumerate(row):
                b.store(b.add(b.load(slot), madd(b, pair, uv[j], lanes)), slot)
    for r, row in enumerate(acc):
        for j, slot in enumerate(row):
            b.store(b.load(slot), _at(b, m, i64(r * t.width + j * lanes)), align=4)


def _emit_input_vector(b: ir.IRBuilder, t: Tiling, xp, v, at: tuple, tile) -> None:
    """V[e][s][c..c+2L] = (Bᵀ d B)[e] of image tile `tile`, at = (s, c): int16 lanes (|V| <=
    `IntegerTransforms.v_bound` < 2^15, no step wraps)."""
    vec = ir.VectorType(I16, 2 * t.lanes)
    s, c = at
    row, col = tile_origin(b, t.tw, t.m, tile)
    base = _at(b, xp, b.add(b.mul(b.add(b.mul(row, i64(t.wp)), col), i64(t.c_pad)), c), I16)
    d = [[b.load(_at(b, base, i64((i * t.wp + j) * t.c_pad), I16), typ=vec, align=2) for j in range(t.side)]
         for i in range(t.side)]
    transformed = sandwich(b, integer_transforms(t.m).bt, d, vec)
    offset = b.add(b.mul(s, i64(t.c_pad)), c)
    for e in range(t.positions):
        value = transformed[e // t.side][e % t.side]
        b.store(value, _at(b, v, b.add(offset, i64(e * t.v_stride)), I16), align=2)


def _emit_output_panel(b: ir.IRBuilder, t: Tiling, mm, at: tuple, bias, out, epilogue: tuple) -> None:
    """out[o][y][x] for the block's tiles inside P and M's channels (a panel's, a group's) below O,
    L at a time."""
    first, o0 = at
    with for_range(b, 0, t.block, name="to") as s:
        tile = b.add(first, s)
        with if_then(b, b.icmp_signed("<", tile, i64(t.tiles)), "inside"):
            origin = tile_origin(b, t.tw, t.m, tile)
            with for_range(b, 0, t.width, t.lanes, name="oc") as j:
                o = b.add(o0, j)
                products = _at(b, mm, b.add(b.mul(s, i64(t.width)), j))
                with if_then(b, b.icmp_signed("<", o, i64(t.o)), "channels"):
                    _emit_output_vector(b, t, products, o, origin, bias, out, epilogue)


def _emit_output_vector(b: ir.IRBuilder, t: Tiling, products, o, origin, bias, out, epilogue: tuple) -> None:
    """One tile's m x m outputs of L channels from o (those below O stored): E M Eᵀ, times
    odd⁻¹, shifted (`IntegerTransforms`), plus the bias, the integer epilogue; a tile inside the
    image with L channels below O stores each lane of its pixels at offsets known at build time
    (`_store_whole`), the others through a loop over its pixels that tests each."""
    steps, bound, element = epilogue
    transforms: IntegerTransforms = integer_transforms(t.m)
    vec = ir.VectorType(I32, t.lanes)
    grid = [[b.load(_at(b, products, i64((xi * t.side + nu) * t.m_stride)), typ=vec, align=4)
             for nu in range(t.side)] for xi in range(t.side)]
    y = sandwich(b, transforms.e, grid, vec)
    shift = b.load(_at(b, bias, o), typ=vec, align=4)
    values = []
    for i in range(t.m):
        for j in range(t.m):
            value = b.mul(y[i][j], ir.Constant(vec, [transforms.inverse] * t.lanes))
            value = b.add(b.ashr(value, ir.Constant(vec, [transforms.shift] * t.lanes)), shift)
            values.append(_convert(b, int_epilogue(b, t.lanes, steps, value, bound), element, t.lanes))
    valid = b.sub(i64(t.o), o)
    row0, col0 = origin
    whole = b.and_(b.and_(b.icmp_signed("<=", row0, i64(t.oh - t.m)), b.icmp_signed("<=", col0, i64(t.ow - t.m))),
                   b.icmp_signed(">=", valid, i64(t.lanes)))
    with b.if_else(whole) as (inside, edge):
        with inside:
            _store_whole(b, t, values, _at(b, out, b.add(b.mul(o, i64(t.oh * t.ow)),
                                                         b.add(b.mul(row0, i64(t.ow)), col0)), element), element)
        with edge:
            _store_edge(b, t, values, (o, valid, origin), out, element)


def _store_whole(b: ir.IRBuilder, t: Tiling, values: list, corner, element: ir.Type) -> None:
    """out[o + lane][row0 + i][col0 + j] = values[i m + j][lane] for every lane, i and j, from the
    tile's corner in channel o."""
    for p, value in enumerate(values):
        i, j = divmod(p, t.m)
        for lane in range(t.lanes):
            at = _at(b, corner, i64(lane * t.oh * t.ow + i * t.ow + j), element)
            b.store(b.extract_element(value, i64(lane)), at)


def _store_edge(b: ir.IRBuilder, t: Tiling, values: list, at: tuple, out, element: ir.Type) -> None:
    """The pixels of a tile crossing the image's edge, or of channels past O: each pixel and lane
    tested."""
    o, valid, (row0, col0) = at
    stage = entry_alloca(b, ir.ArrayType(ir.VectorType(element, t.lanes), t.m * t.m), name="ytile")
    for p, value in enumerate(values):
        b.store(value, b.gep(stage, [i64(0), i64(p)], inbounds=True))
    with for_range(b, 0, t.m * t.m, name="px") as p:
        oy, ox = b.add(row0, b.udiv(p, i64(t.m))), b.add(col0, b.urem(p, i64(t.m)))
        inside = b.and_(b.icmp_signed("<", oy, i64(t.oh)), b.icmp_signed("<", ox, i64(t.ow)))
        with if_then(b, inside, "px"):
            pixel = b.add(b.mul(oy, i64(t.ow)), ox)
            value = b.load(b.gep(stage, [i64(0), p], inbounds=True), typ=ir.VectorType(element, t.lanes))
            for lane in range(t.lanes):
                with if_then(b, b.icmp_signed(">", valid, i64(lane)), "lane"):
                    at_lane = _at(b, out, b.add(b.mul(b.add(o, i64(lane)), i64(t.oh * t.ow)), pixel), element)
                    b.store(b.extract_element(value, i64(lane)), at_lane)


def _convert(b: ir.IRBuilder, value, element: ir.Type, lanes: int):
    """The int32 vector as the output's elements (truncated, or converted to float)."""
    if element == I32:
        return value
    if isinstance(element, ir.IntType):
        return b.trunc(value, ir.VectorType(element, lanes))
    return b.sitofp(value, ir.VectorType(element, lanes))
