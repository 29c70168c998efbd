"""Register-blocked int8 convolution: int16 channel pairs multiplied and summed into int32 lanes.

x and w are int8; the accumulator is int32, exact. Two input channels form one 32-bit lane of
two int16 halves, so one `pmaddwd` (generic IR: sign-extend, multiply, add the even and odd
products, which LLVM selects as vpmaddwd on AVX2 and AVX-512BW and as vpdpwssd where the CPU
has AVX-512 VNNI) multiplies L lanes of pixel pairs by a broadcast weight pair and adds the
pair: 2L multiply-adds per instruction. No product or pair sum can saturate (|x·w| <= 2^14), so
the result is bit-exact. (vpmaddubsw would do twice as many per instruction, but its unsigned
by signed int16 pair sums saturate for int8 data, e.g. x = -128, w = -128.) Where the machine has
AVX-512 VNNI (`Kernel.byte_quads`) each lane holds a quad of channels instead, as bytes x + 128,
and one vpdpbusd does 4L multiply-adds without saturating (`int8quads`: the packing, the
compensated bias, the instruction); the rest of the kernel is the same with 4 channels for 2.

The input is copied once, zero-padded, split into stride phases as the float kernel's (`conv`),
and packed in pairs: xq[c/2][ph][pw][i][j] = (x[c][..] as int16) | (x[c+1][..] as int16) << 16.
The weights are packed at compile time into blocks of mr output channels:
wp[o / mr][c / 2][tap][o % mr] = (w[o][c][tap], w[o][c+1][tap]) as two int16 (zero-padded).
An odd last channel would pair with zeros, a quarter of the work of a 3-channel image's
convolution; with stride 1 the taps of each of its kernel rows pair with each other instead
(`split_last`, `row_items`): one plane holds its values paired with the next column's, and the
tile adds one pmaddwd per pair in a loop over the kernel rows. An odd last column's taps pair
down the rows (`pairs_down`, `column_items`): a second plane holds the values paired with the
next row's, read after the loop, an odd last row's tap with a zero weight half (a 3x3
convolution of 3 channels: 9 + 3 + 2 pair products per pixel, not 18, nor 9 + 6 with the last
column's taps each paired with zero. All 14 unrolled, without the row loop, had spilled and
run no faster than 18).
A tile is mr output channels by NR pixels of one output row, its int32 accumulators in
registers over the whole reduction (no partial sums in memory); the kernel's rows are a loop,
its columns unrolled (the 7x7 stem of ResNet-18 with all 49 taps unrolled ran in 13.7 ms, with
the rows a loop in 4.7 ms):

    for n:  pack (threads take channel pairs in chunks); barrier
            for (block, pixel tile) in the items this thread takes (`Kernel.take`):
              acc[r][v] = 0
              for c2 < C/2:  for kernel row:  for kernel column (unrolled):
                acc[r][v] += pmaddwd(xq[c2][tap + v*L ..], splat(wp[..][r]))
              for kernel row:  for row item (unrolled):  acc[r][v] += pmaddwd(column pairs, ..)
              for column item (unrolled):  acc[r][v] += pmaddwd(row pairs, ..)
              out[o0 + r][oh][ow0 + v*L ..] = epilogue(acc[r][v] + bias[o0 + r])
            barrier

The epilogue is the integer one of `int8_schedules.INT_STEPS` (relu, rounding shift, clip, cast:
`int_epilogue`), on whole vectors; the output is int8, int32 or float32.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.conv import Geometry
from frittata.backends.llvm.int8pairs import (column_items, pack_weights, pairs, pairs_down, planes, reduction_pairs,
                                              row_items, split_last)
from frittata.backends.llvm.int8quads import FILL, QUAD, byte, compensated_bias, dot, pack_quads
from frittata.backends.llvm.int_epilogue import int_epilogue
from frittata.backends.llvm.irutil import I32, entry_alloca, for_range, i64, ltype
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.terms.ops import Op
from frittata.terms.term import Term

I16 = ir.IntType(16)


def geometry(term: Term, schedule: dict) -> Geometry:
    """The convolution's sizes and blocking (`c_block` unused: the whole reduction is one block)."""
    return Geometry.of(term, {**schedule, "c_block": 1, "parallel": "oc"})


def scratch_bytes(term: Term, schedule: dict) -> int:
    """The padded, packed input, with a row of slack past its end for the last tile's reads:
    room for either packing (pairs or quads; the machine picks at emission)."""
    g = geometry(term, schedule)
    return (max(planes(g, 2), planes(g, QUAD)) * g.channel_stride + g.wq + 2 * g.nr) * 4


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], schedule: dict) -> None:
    t, g = step.term, geometry(step.term, schedule)
    ptr, b = k.base, k.b
    assert step.scratch is not None
    xq, x, out = ptr(step.scratch), ptr(args[0].buf), ptr(step.out)
    width = QUAD if k.byte_quads else 2
    weights = t.args[1].attr("ref").data
    packed = pack_quads(weights, g.mr, pairs(g, width)) if k.byte_quads else pack_weights(weights, g.mr, pairs(g))
    w = ptr(plan.add_param(f"{k.function.name}.wpack", packed))
    bias = ptr(args[2].buf) if t.op == Op.FUSED_CONV2D else None
    if k.byte_quads:
        given = t.args[2].attr("ref").data if t.op == Op.FUSED_CONV2D else None
        bias = ptr(plan.add_param(f"{k.function.name}.bias", compensated_bias(weights, given)))
    steps = t.attr("epilogue") if t.op == Op.FUSED_CONV2D else ()
    blocks, columns = -(-g.o // g.mr), -(-g.ow // g.nr)
    bound = accumulator_bound(t, g)
    with k.repeat(g.n) as n:
        _emit_pack(k, g, _at(b, x, b.mul(n, i64(g.c * g.h * g.w)), ir.IntType(8)), xq, width)
        k.sync()
        element = ltype(t.dtype) if t.dtype != "float32" else ir.FloatType()
        image = _at(b, out, b.mul(n, i64(g.o * g.oh * g.ow)), element)
        with k.take(blocks * g.oh * columns) as tile:
            block = b.udiv(tile, i64(g.oh * columns))
            pixel = b.urem(tile, i64(g.oh * columns))
            tail = g.o % g.mr
            emit = lambda rows: _emit_tile(k, g, rows, block, pixel, columns, xq, w, bias, steps, image, element,  # noqa: E731
                                           bound, width)
            if not tail:
                emit(g.mr)
            else:
                with b.if_else(b.icmp_signed("==", block, i64(blocks - 1))) as (last, full):
                    with last:
                        emit(tail)
                    with full:
                        emit(g.mr)
        k.sync()


def accumulator_bound(t: Term, g: Geometry) -> int:
    """|acc + bias| at most: C x KH x KW products of at most 2^14 (int8 x int8) and the largest
    |bias| (the epilogue's rounding shifts fold when that leaves room, `int_epilogue`)."""
    bias = np.abs(t.args[2].attr("ref").data.astype(np.int64)).max(initial=0) if t.op == Op.FUSED_CONV2D else 0
    return g.c * g.kh * g.kw * (1 << 14) + int(bias)


def _at(b: ir.IRBuilder, base, offset, element: ir.Type = I32):
    return None if base is None else b.gep(base, [offset], source_etype=element)


def _emit_pack(k: Kernel, g: Geometry, x, xq, width: int) -> None:
    """xq[c2][ph][pw][i][j] = pair of x[2 c2], x[2 c2 + 1] at the padded position (zero outside);
    with `split_last`, a plane of the last channel's column pairs follows (`pairs_down`: and one of
    its row pairs). Quads alike: x[4 c4 .. 4 c4 + 3] as bytes (`int8quads`).

    Each stride phase's rows and columns split in Python into the padding before the input, the
    input's span and the padding after it, so no element tests a bound (`_phase_span`): rows
    outside the span are zero, a row inside it is zero, a copy of pairs, zero (`_emit_pair_row`).
    The copy's column loop is plain loads and stores, which LLVM vectorizes.
    """
    b, i8 = k.b, ir.IntType(8)
    with k.take(planes(g, width), name="c2") as c2:
        channel = _at(b, xq, b.mul(c2, i64(g.channel_stride)))
        first = b.mul(c2, i64(width))
        pair = [_at(b, x, b.mul(b.add(first, i64(j)), i64(g.h * g.w)), i8) for j in range(width)]
        if split_last(g, width):
            last = _at(b, x, i64((g.c - 1) * g.h * g.w), i8)
            with b.if_else(b.icmp_signed("<", c2, i64(pairs(g)))) as (channels, rest):
                with channels:
                    _emit_pair_planes(b, g, channel, pair)
                with rest:
                    if pairs_down(g.kh, g.kw):
                        with b.if_else(b.icmp_signed("==", c2, i64(pairs(g)))) as (columns, rows):
                            with columns:
                                _emit_column_pairs(b, g, channel, last)
                            with rows:
                                _emit_row_pairs(b, g, channel, last)
                    else:
                        _emit_column_pairs(b, g, channel, last)
        elif g.c % width:
            with b.if_else(b.icmp_signed("<", c2, i64(g.c // width))) as (both, alone):
                with both:
                    _emit_pair_planes(b, g, channel, pair)
                with alone:
                    _emit_pair_planes(b, g, channel, pair[:g.c % width] + [None] * (width - g.c % width))
        else:
            _emit_pair_planes(b, g, channel, pair)


def _emit_column_pairs(b: ir.IRBuilder, g: Geometry, plane, last) -> None:
    """The last channel's plane of column pairs (stride 1): (x[i][j], x[i][j + dw]), padded."""
    left = g.pads[1]
    _emit_plane(b, g, plane, 0, [(last, -left), (last, g.dilations[1] - left)])


def _emit_row_pairs(b: ir.IRBuilder, g: Geometry, plane, last) -> None:
    """The last channel's plane of row pairs (stride 1, `pairs_down`): (x[i][j], x[i + dh][j]),
    padded. Its rows split in Python where either half's rows enter or leave the input, as
    `_emit_pair_row` splits columns, so no element tests a bound."""
    top, left, dh = g.pads[0], g.pads[1], g.dilations[0]
    spans = [_phase_span(offset, 1, g.h) for offset in (-top, dh - top)]
    cuts = sorted({0, g.hq, *(q for span in spans for q in span)})
    for lo, hi in zip(cuts, cuts[1:]):
        inside = [start <= lo and hi <= stop for start, stop in spans]
        if not any(inside):
            _emit_zero(b, plane, lo * g.wq, hi * g.wq)
            continue
        with for_range(b, lo, hi, name="i") as i:
            rows = [(_at(b, last, b.mul(b.add(i, i64(offset)), i64(g.w)), ir.IntType(8)) if keep else None, -left)
                    for offset, keep in zip((-top, dh - top), inside)]
            _emit_pair_row(b, g, _at(b, plane, b.mul(i, i64(g.wq))), rows)


def _emit_pair_planes(b: ir.IRBuilder, g: Geometry, channel, sources: list) -> None:
    """A channel group's stride-phase planes of xq from its channels' input planes (None: a zero
    channel); two sources: int16 pairs, four: byte quads."""
    sh, sw = g.strides
    for ph in range(sh):
        for pw in range(sw):
            plane = _at(b, channel, i64((ph * sw + pw) * g.hq * g.wq))
            _emit_plane(b, g, plane, ph, [(source, pw - g.pads[1]) for source in sources])


def _emit_plane(b: ir.IRBuilder, g: Geometry, plane, ph: int, halves: list) -> None:
    """One hq x wq plane of pairs, row i from input row i * sh + ph - top of each half's source
    (zero outside the input), its columns by `_emit_pair_row`."""
    sh, top = g.strides[0], g.pads[0]
    ilo, ihi = _phase_span(ph - top, sh, g.h)
    fill = _packed_zero(len(halves))
    _emit_zero(b, plane, 0, ilo * g.wq, fill)
    with for_range(b, ilo, ihi, name="i") as i:
        at = b.mul(b.add(b.mul(i, i64(sh)), i64(ph - top)), i64(g.w))
        rows = [(None if source is None else _at(b, source, at, ir.IntType(8)), offset) for source, offset in halves]
        _emit_pair_row(b, g, _at(b, plane, b.mul(i, i64(g.wq))), rows)
    _emit_zero(b, plane, ihi * g.wq, g.hq * g.wq, fill)


def _emit_pair_row(b: ir.IRBuilder, g: Geometry, row, halves: list) -> None:
    """row[j] = (X0[j * sw + o0], X1[j * sw + o1]) as int16 halves for j < wq, from halves
    [(X0, o0), (X1, o1)]: X an input row (int8, w long, zero outside it; None: all zero); from
    four (X, o), the four as bytes x + 128 (`int8quads`).

    The row splits in Python wherever a half's span (`_phase_span`) starts or ends, so no
    element tests a bound and only the columns outside both spans are stored zero."""
    sw = g.strides[1]
    spans = [(0, 0) if source is None else _phase_span(offset, sw, g.w) for source, offset in halves]
    cuts = sorted({0, g.wq, *(q for span in spans for q in span)})
    for lo, hi in zip(cuts, cuts[1:]):
        inside = [start <= lo and hi <= stop for start, stop in spans]
        if not any(inside):
            _emit_zero(b, row, lo, hi, _packed_zero(len(halves)))
            continue
        with for_range(b, lo, hi, name="j") as j:
            parts = [_part(b, source, b.add(b.mul(j, i64(sw)), i64(offset)), len(halves)) if keep else None
                     for (source, offset), keep in zip(halves, inside)]
            b.store(_packed(b, parts), _at(b, row, j))


def _part(b: ir.IRBuilder, plane, at, width: int):
    """plane[at] (int8) as the low bits of an i32: an int16 of a pair, a byte x + 128 of a quad."""
    value = b.load(_at(b, plane, at, ir.IntType(8)), typ=ir.IntType(8))
    return b.zext(b.sext(value, I16), I32) if width == 2 else byte(b, value)


def _packed(b: ir.IRBuilder, parts: list):
    """The i32 of `parts` (`_part` values; None: a zero) in its 32 // len(parts)-bit fields."""
    bits = 32 // len(parts)
    zero = 0 if len(parts) == 2 else 0x80
    word = None
    for i, part in enumerate(parts):
        field = ir.Constant(I32, zero << (bits * i)) if part is None else (
            part if i == 0 else b.shl(part, ir.Constant(I32, bits * i)))
        word = field if word is None else b.or_(word, field)
    return word


def _packed_zero(width: int) -> int:
    """The i32 of `width` packed zeros: 0 for int16 pairs, `int8quads.FILL` for byte quads."""
    return 0 if width == 2 else FILL


def _phase_span(offset: int, stride: int, size: int) -> tuple[int, int]:
    """[lo, hi) of the indices q >= 0 whose input index q * stride + offset lies in [0, size)
    (lo == hi when none does). For a phase plane, offset = phase - pad; hi never passes the
    plane's ceil((size + pads) / stride) indices, so no clamp is needed."""
    lo = max(0, -(offset // stride))
    hi = max(lo, (size - 1 - offset) // stride + 1)
    return lo, hi


def _emit_zero(b: ir.IRBuilder, base, start: int, stop: int, fill: int = 0) -> None:
    """base[start:stop] = fill, packed zeros (i32 elements; no code when the range is empty)."""
    if stop > start:
        with for_range(b, start, stop, name="zero") as q:
            b.store(ir.Constant(I32, fill), _at(b, base, q))


def _emit_tile(k: Kernel, g: Geometry, rows: int, block, pixel, columns: int, xq, w, bias, steps, out, element,
               bound: int, width: int):
    """One tile of `rows` output channels (see the module docstring), of channel groups of
    `width`; |acc + bias| <= bound."""
    b = k.b
    lanes, nv = g.lanes, g.nv
    vec = ir.VectorType(I32, lanes)
    oh, ow0 = b.udiv(pixel, i64(columns)), b.mul(b.urem(pixel, i64(columns)), i64(g.nr))
    acc = [[entry_alloca(b, vec) for _ in range(nv)] for _ in range(rows)]
    for accumulators in acc:
        for slot in accumulators:
            b.store(ir.Constant(vec, [0] * lanes), slot)
    taps = g.kh * g.kw
    wblock = _at(b, w, b.mul(block, i64(reduction_pairs(g, width) * g.mr)))
    xrow = _at(b, xq, b.add(b.mul(oh, i64(g.wq)), ow0))
    with for_range(b, 0, pairs(g, width), name="c2") as c2:
        xc = _at(b, xrow, b.mul(c2, i64(g.channel_stride)))
        wc = _at(b, wblock, b.mul(c2, i64(taps * g.mr)))
        with for_range(b, 0, g.kh, name="kr") as r:
            xr = _at(b, xc, _row_offset(b, g, r))
            wr = _at(b, wc, b.mul(r, i64(g.kw * g.mr)))
            for s in range(g.kw):
                _accumulate(b, g, acc, _at(b, xr, i64(_column_offset(g, s))), _at(b, wr, i64(s * g.mr)), width)
    if split_last(g, width):
        items = row_items(g.kh, g.kw)
        xt, wt = _at(b, xrow, i64(pairs(g) * g.channel_stride)), _at(b, wblock, i64(pairs(g) * taps * g.mr))
        with for_range(b, 0, g.kh, name="kr") as r:
            xr = _at(b, xt, _row_offset(b, g, r))
            wr = _at(b, wt, b.mul(r, i64(len(items) * g.mr)))
            for item, s in enumerate(items):
                _accumulate(b, g, acc, _at(b, xr, i64(s * g.dilations[1])), _at(b, wr, i64(item * g.mr)))
        xd = _at(b, xt, i64(g.channel_stride + (g.kw - 1) * g.dilations[1]))
        wd = _at(b, wt, i64(g.kh * len(items) * g.mr))
        for item, r in enumerate(column_items(g.kh, g.kw)):
            _accumulate(b, g, acc, _at(b, xd, i64(r * g.dilations[0] * g.wq)), _at(b, wd, i64(item * g.mr)))
    o0 = b.mul(block, i64(g.mr))
    ncols = b.sub(i64(g.ow), ow0)
    last = g.ow - (columns - 1) * g.nr  # the columns of the row's last tile, the only partial one
    for i in range(rows):
        o = b.add(o0, i64(i))
        shift = None if bias is None else splat(b, b.load(_at(b, bias, o), typ=I32), lanes)
        at = b.add(b.mul(o, i64(g.oh * g.ow)), b.add(b.mul(oh, i64(g.ow)), ow0))
        values = []
        for v in range(nv):
            value = b.load(acc[i][v])
            value = value if shift is None else b.add(value, shift)
            values.append(int_epilogue(b, lanes, steps, value, bound))
        for first, value in _store_groups(b, values, element):
            width = value.type.count
            valid = None if columns == 1 else b.sub(ncols, i64(first))
            _store(b, _convert(b, value, element, width), _at(b, out, b.add(at, i64(first)), element), valid,
                   last - first)


def _store_groups(b: ir.IRBuilder, values: list, element: ir.Type) -> list[tuple[int, ir.Value]]:
    """A tile row's int32 vectors as (first column, vector) pairs to convert and store: all of
    them as one vector when the output is a narrower integer and they are a power of two, so
    that the narrowing packs the whole row at once (AVX2, 16 int8 outputs from 2 vectors: one
    256-bit pack of dwords, an extract and a pack of words, where each 8-lane vector took an
    extract and two packs); otherwise each vector alone (no pack to save). A partial tile's
    row stores in pieces (`_store`)."""
    lanes = values[0].type.count
    narrow = isinstance(element, ir.IntType) and element.width < 32
    if not narrow or len(values) & (len(values) - 1):
        return [(v * lanes, value) for v, value in enumerate(values)]
    while len(values) > 1:
        values = [_concat(b, first, second) for first, second in zip(values[0::2], values[1::2])]
    return [(0, values[0])]


def _concat(b: ir.IRBuilder, first, second):
    """The lanes of `first` then those of `second` (vectors of one type) as one vector."""
    n = first.type.count
    return b.shuffle_vector(first, second, ir.Constant(ir.VectorType(I32, 2 * n), list(range(2 * n))))


def _accumulate(b: ir.IRBuilder, g: Geometry, acc: list, xt, wt, width: int = 2) -> None:
    """acc[row][v] += pmaddwd(the v-th vector of pairs at xt, the pair wt[row] on every lane);
    of quads (`width` 4), vpdpbusd (`int8quads.dot`)."""
    vec = ir.VectorType(I32, g.lanes)
    xv = [b.load(_at(b, xt, i64(v * g.lanes)), typ=vec, align=4) for v in range(g.nv)]
    for row, slots in enumerate(acc):
        wv = splat(b, b.load(_at(b, wt, i64(row)), typ=I32), g.lanes)
        for v, slot in enumerate(slots):
            total = b.load(slot)
            b.store(b.add(total, madd(b, xv[v], wv, g.lanes)) if width == 2 else dot(b, total, xv[v], wv, g.lanes),
                    slot)


def _row_offset(b: ir.IRBuilder, g: Geometry, r):
    """Offset in xq of kernel row r's taps (the row's stride phase and its row in that phase)."""
    (sh, sw), dh = g.strides, g.dilations[0]
    row = b.mul(r, i64(dh))
    phase = b.mul(b.urem(row, i64(sh)), i64(sw * g.hq * g.wq))
    return b.add(phase, b.mul(b.udiv(row, i64(sh)), i64(g.wq)))


def _column_offset(g: Geometry, s: int) -> int:
    """Offset in xq of kernel column s's tap relative to its row's (`Geometry.tap` split in two)."""
    sw, dw = g.strides[1], g.dilations[1]
    col = s * dw
    return (col % sw) * g.hq * g.wq + col // sw


def madd(b: ir.IRBuilder, x, w, lanes: int):
    """pmaddwd: the L lanes' int16 pairs of x times those of w, each pair's two products summed."""
    halves, wide = ir.VectorType(I16, 2 * lanes), ir.VectorType(I32, 2 * lanes)
    products = b.mul(b.sext(b.bitcast(x, halves), wide), b.sext(b.bitcast(w, halves), wide))
    mask = ir.VectorType(I32, lanes)
    even = b.shuffle_vector(products, products, ir.Constant(mask, list(range(0, 2 * lanes, 2))))
    odd = b.shuffle_vector(products, products, ir.Constant(mask, list(range(1, 2 * lanes, 2))))
    return b.add(even, odd)


def _store(b: ir.IRBuilder, value, at, valid, last: int) -> None:
    """Store the vector at `at` if all its lanes are valid (`valid` of them are; None: the row
    is one tile), else its first `last` lanes: only the row's last tile is partial, and `last`
    is what is valid there (<= 0: none). The partial store goes in power-of-two pieces, largest
    first (`_store_pieces`)."""
    lanes, count = value.type.count, max(0, last)
    if last >= lanes:
        b.store(value, at, align=1)
        return
    if valid is None:
        _store_pieces(b, value, at, count)
        return
    with b.if_else(b.icmp_signed(">=", valid, i64(lanes))) as (whole, part):
        with whole:
            b.store(value, at, align=1)
        with part:
            _store_pieces(b, value, at, count)


def _store_pieces(b: ir.IRBuilder, value, at, count: int) -> None:
    """Store the first `count` lanes of `value` (fewer than its lanes) at `at` as vectors of the
    powers of two in `count`, largest first: 12 of 16 int8 lanes are an 8-byte and a 4-byte
    store, where lane by lane took 12 extracts and byte stores; a single lane is a scalar."""
    assert 0 <= count < value.type.count, f"_store_pieces: expected 0 <= count < {value.type.count}, got {count}"
    element = value.type.element
    first, width = 0, value.type.count // 2
    while width:
        if count & width:
            piece = _at(b, at, i64(first), element)
            if width == 1:
                b.store(b.extract_element(value, i64(first)), piece)
            else:
                mask = ir.Constant(ir.VectorType(I32, width), list(range(first, first + width)))
                b.store(b.shuffle_vector(value, value, mask), piece, align=1)
            first += width
        width //= 2


def _convert(b: ir.IRBuilder, value, element: ir.Type, lanes: int):
    """The int32 vector as the output's elements: itself, truncated (a cast to a narrower
    integer wraps, as numpy's astype), or converted to float."""
    if element == I32:
        return value
    if isinstance(element, ir.IntType):
        return b.trunc(value, ir.VectorType(element, lanes))
    return b.sitofp(value, ir.VectorType(element, lanes))
