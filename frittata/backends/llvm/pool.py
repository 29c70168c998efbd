"""max_pool2d without a branch per tap: clamped window indices and a vectorizable interior loop.

A max is idempotent, so a tap that falls in the padding can read the nearest edge cell of
its own window instead (clamping the index into [0, size)); that cell is in the window
whenever the window meets the image, which padding smaller than the kernel guarantees. Each thread takes
a share of the flat (n, c, oh) output rows and makes

    rows[r] = clamp(oh * sh + r - top)                              once per output row
    for ow in left edge and right edge:  out = max over taps at clamped columns
    for ow in interior (no clamping):    out = max over the kh * kw taps, straight-line

so the interior loop is innermost, branch-free and vectorized along the output width. The
float max propagates NaN, as numpy's `max` does in the interpreter.

A float32 pool of row-major tensors runs on explicit vectors of L lanes instead, in two passes
per output row through a row of the thread's stack (`_emit_float_rows`; an output row whose stack
row would pass STACK_ROW_FLOATS takes the scalar loop):

    vertical:    row[left + j] = max over the kh clamped input rows of x[.., row_r, j]   (L at a time)
                 row[0 .. left) = row[left];  row[left + w ..] = row[left + w - 1]      (the clamp)
    horizontal:  out[ow .. ow + L) = max over s < kw of row[ow*sw + s + lane*sw]
                 (tap s = t*sw + q is phase q of the sw*L floats at (ow + t)*sw: ceil(kw / sw)
                 loads, lanes q, q + sw, ... shuffled out; the last vector stored under a mask)

so each input float is loaded once per output row that reads it, not once per window, and the
stride costs a shuffle instead of scalar loads (ResNet's 3x3 stride-2 pool of 64 x 112x112 ran
1.4-1.7x onnxruntime's time on the scalar-indexed loop).

Small planes (rows of at most REGISTER_ROW_VECTORS vectors, planes of at most
REGISTER_PLANE_VECTORS) skip the stack: each thread takes whole (n, c) planes, each unrolled with
every row, column and clamp known here (`_emit_register_planes`):

    v[r]   = input row r as V vectors (the last under a mask), each read once per plane
    col    = max over the kh clamped rows of the output row of v[row]           (in registers)
    out[ow .. ow + L) = max over s < kw of shuffle(col, lanes clamp(ow*sw + s - left))

so a row costs no index arithmetic, stack traffic or loop (the stack-row pass took 85 us on
GoogLeNet's 3x3 stride-1 pool of 832 7x7 planes on one Zen 4 core, this 16 us).
"""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm import scalar
from frittata.backends.llvm.expr import load
from frittata.backends.llvm.irutil import F32, I32, entry_alloca, for_range, i64, unflatten
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.masked import load_partial, phase, store_partial
from frittata.backends.llvm.pool_bytes import emit_byte_pool, pools_byte_rows
from frittata.backends.llvm.views import View, row_major
from frittata.terms.cpu_geometry import row_lanes
from frittata.terms.ops import Op


def _interior(n_out: int, size: int, kernel: int, stride: int, before: int) -> tuple[int, int]:
    """The output positions [lo, hi) whose whole window lies inside [0, size)."""
    lo = min(n_out, -(-before // stride))
    hi = max(lo, min(n_out, (size - kernel + before) // stride + 1))
    return lo, hi


def emit_max_pool(k: Kernel, x: View, node_attr, out: View) -> None:
    """max_pool2d over clamped windows (type inference keeps padding below the kernel, so every
    window meets the image); 8-bit 2x2 pools by whole rows (`pool_bytes`); row-major float32
    pools of small planes unrolled in registers (`_emit_register_planes`), larger ones whose stack row
    fits STACK_ROW_FLOATS on vectors through the stack (`_emit_float_rows`)."""
    if pools_byte_rows(x, node_attr, out):
        emit_byte_pool(k, x, out)
        return
    if x.dtype == "float32" and k.lanes >= 4 and all(_row_major(v) for v in (x, out)):
        if _fits_registers(k.lanes, x, out):
            _emit_register_planes(k, x, node_attr, out)
            return
        if _stack_row_floats(k.lanes, node_attr, out) <= STACK_ROW_FLOATS:
            _emit_float_rows(k, x, node_attr, out)
            return
    (kh, kw), (sh, sw), (top, left, _, _) = node_attr("kernel"), node_attr("strides"), node_attr("pads")
    assert top < kh and left < kw, f"max_pool2d: padding {(top, left)} not below the kernel {(kh, kw)}"
    h, w = x.shape[2:]
    oh_n, ow_n = out.shape[2:]
    b = k.b
    with k.take(math.prod(out.shape[:3]), name="row") as row:
        n, c, oh = unflatten(b, row, out.shape[:3])
        base = b.sub(b.mul(oh, i64(sh)), i64(top))
        rows = [_clamp(b, b.add(base, i64(r)), h) for r in range(kh)]
        tap = _Taps(k, x, node_attr, n, c, rows)
        first, last = _interior(ow_n, w, kw, sw, left)
        for start, stop, clamp in ((0, first, True), (first, last, False), (last, ow_n, True)):
            if start < stop:
                with for_range(b, start, stop, name="ow") as ow:
                    b.store(tap.window_max(ow, clamp), k.address(out, [n, c, oh, ow]))


class _Taps:
    """Loads and maxes one window's kh * kw taps, given the output column."""

    def __init__(self, k: Kernel, x: View, node_attr, n, c, rows: list) -> None:
        self.k, self.x, self.n, self.c, self.rows = k, x, n, c, rows
        (_, self.kw), (_, self.sw), (_, self.left, _, _) = (node_attr("kernel"), node_attr("strides"),
                                                             node_attr("pads"))

    def window_max(self, ow: ir.Value, clamp: bool) -> ir.Value:
        b, width = self.k.b, self.x.shape[3]
        base = b.sub(b.mul(ow, i64(self.sw)), i64(self.left))
        cols = [b.add(base, i64(s)) for s in range(self.kw)]
        cols = [_clamp(b, col, width) for col in cols] if clamp else cols
        values = [load(self.k, self.x, [self.n, self.c, r, col]) for r in self.rows for col in cols]
        return _float_max(b, values) if self.x.dtype == "float32" else _int_max(b, self.x.dtype, values)


def _int_max(b: ir.IRBuilder, dtype: str, values: list[ir.Value]) -> ir.Value:
    result = values[0]
    for value in values[1:]:
        result = scalar.binary(b, Op.MAXIMUM, dtype, result, value)
    return result


def _float_max(b: ir.IRBuilder, values: list[ir.Value]) -> ir.Value:
    """The max of `values`, NaN if any is NaN: compare-and-select (one `maxps` per tap) plus
    one unordered compare per pair of taps to catch a NaN."""
    result, nan = values[0], b.fcmp_unordered("uno", values[0], values[-1])
    for i, value in enumerate(values[1:], 1):
        result = b.select(b.fcmp_ordered(">", result, value), result, value)
        if i % 2:
            nan = b.or_(nan, b.fcmp_unordered("uno", values[i - 1], value))
    return b.select(nan, ir.Constant(F32, float("nan")), result)


def _clamp(b: ir.IRBuilder, index: ir.Value, size: int) -> ir.Value:
    """min(max(index, 0), size - 1) as selects."""
    low = b.select(b.icmp_signed("<", index, i64(0)), i64(0), index)
    return b.select(b.icmp_signed(">", low, i64(size - 1)), i64(size - 1), low)


STACK_ROW_FLOATS = 16384
"""The largest stack row (64 KiB) the vector pool takes; a wider row (an image millions of
floats wide) would overflow a thread's stack, so its pool takes the scalar loop instead."""


def _stack_row_floats(lanes: int, node_attr, out: View) -> int:
    """Floats of `_emit_float_rows`' stack row: every output vector's sw * L floats, the window's
    overhang and one spare block for the last vector's load."""
    (_, kw), (_, sw) = node_attr("kernel"), node_attr("strides")
    vectors = -(-out.shape[3] // lanes)
    return vectors * lanes * sw + kw + sw * lanes


def _row_major(v: View) -> bool:
    """Whether `v` reads its buffer as a contiguous row-major array (from its offset)."""
    return v.bounds is None and v.strides == row_major(v.shape)


REGISTER_PLANE_VECTORS = 128
"""The largest input plane, in vectors (rows of at most REGISTER_ROW_VECTORS vectors each), that
`_emit_register_planes` unrolls: its code grows with the vectors of a plane."""
REGISTER_ROW_VECTORS = 4
"""The widest input or output row, in vectors, that `_emit_register_planes` takes: each output
vector's tap is one shuffle of the row's vectors it spans (a concatenation past two)."""


def _fits_registers(lanes: int, x: View, out: View) -> bool:
    """Whether `_emit_register_planes` takes this pool: rows of at most REGISTER_ROW_VECTORS
    vectors, planes of at most REGISTER_PLANE_VECTORS."""
    (h, w), ow_n = x.shape[2:], out.shape[3]
    return max(w, ow_n) <= REGISTER_ROW_VECTORS * lanes and h * -(-w // lanes) <= REGISTER_PLANE_VECTORS


def _emit_register_planes(k: Kernel, x: View, node_attr, out: View) -> None:
    """The float32 pool of small planes, one (n, c) plane per step, unrolled, in registers: each
    input row read once (V vectors, the last under a mask); per output row the max of its kh
    clamped rows (clamped here: constant rows), then each output vector's tap s is one shuffle
    of those V vectors with the clamped columns (ow*sw + s - left) as constant lane indices."""
    (kh, kw), (sh, sw), (top, left, _, _) = node_attr("kernel"), node_attr("strides"), node_attr("pads")
    assert top < kh and left < kw, f"max_pool2d: padding {(top, left)} not below the kernel {(kh, kw)}"
    b, lanes = k.b, row_lanes(max(x.shape[3], out.shape[3]), k.lanes)
    h, w = x.shape[2:]
    oh_n, ow_n = out.shape[2:]
    x0, out0 = (b.gep(k.base(v.buf), [i64(v.offset)], source_etype=F32) for v in (x, out))
    with k.take(math.prod(out.shape[:2]), name="plane") as flat:
        src = b.gep(x0, [b.mul(flat, i64(h * w))], source_etype=F32)
        dst = b.gep(out0, [b.mul(flat, i64(oh_n * ow_n))], source_etype=F32)
        loaded: dict[int, list[ir.Value]] = {}

        def row(r: int) -> list[ir.Value]:
            if r not in loaded:
                loaded[r] = [load_partial(b, b.gep(src, [i64(r * w + at)], source_etype=F32), lanes,
                                          min(lanes, w - at)) for at in range(0, w, lanes)]
            return loaded[r]

        for oh in range(oh_n):
            window = sorted({min(max(oh * sh + r - top, 0), h - 1) for r in range(kh)})
            columns = [_nan_max(b, list(vectors)) for vectors in zip(*(row(r) for r in window))]
            for at in range(0, ow_n, lanes):
                taps = {tuple(min(max((at + i) * sw + s - left, 0), w - 1) for i in range(lanes)) for s in range(kw)}
                value = _nan_max(b, [_gather(b, columns, list(tap)) for tap in sorted(taps)])
                store_partial(b, value, b.gep(dst, [i64(oh * ow_n + at)], source_etype=F32), min(lanes, ow_n - at))


def _gather(b: ir.IRBuilder, vectors: list[ir.Value], indices: list[int]) -> ir.Value:
    """Lanes `indices` of the concatenation of `vectors` (each of L lanes) as one vector: a shuffle
    of the one or two vectors they fall in (none for the identity), or of the concatenation of
    the vectors they span."""
    lanes = vectors[0].type.count
    first, last = min(indices) // lanes, max(indices) // lanes
    sources, relative = vectors[first:last + 1], [i - first * lanes for i in indices]
    if len(sources) == 1 and relative == list(range(lanes)):
        return sources[0]
    if len(sources) > 2:
        sources = [_concat(b, sources)]
    second = sources[1] if len(sources) == 2 else ir.Constant(sources[0].type, ir.Undefined)
    return b.shuffle_vector(sources[0], second, ir.Constant(ir.VectorType(I32, lanes), relative))


def _concat(b: ir.IRBuilder, vectors: list[ir.Value]) -> ir.Value:
    """One vector of `vectors` end to end (then undefined lanes up to a power of two vectors)."""
    while len(vectors) > 1:
        if len(vectors) % 2:
            vectors = [*vectors, ir.Constant(vectors[0].type, ir.Undefined)]
        both = ir.Constant(ir.VectorType(I32, 2 * vectors[0].type.count), list(range(2 * vectors[0].type.count)))
        vectors = [b.shuffle_vector(p, q, both) for p, q in zip(vectors[::2], vectors[1::2])]
    return vectors[0]


def _emit_float_rows(k: Kernel, x: View, node_attr, out: View) -> None:
    """The float32 pool on vectors, one output row per step (see the module docstring)."""
    (kh, kw), (sh, sw), (top, left, _, _) = node_attr("kernel"), node_attr("strides"), node_attr("pads")
    assert top < kh and left < kw, f"max_pool2d: padding {(top, left)} not below the kernel {(kh, kw)}"
    b, lanes = k.b, k.lanes
    h, w = x.shape[2:]
    oh_n, ow_n = out.shape[2:]
    row = entry_alloca(b, F32, name="pool_row", count=_stack_row_floats(lanes, node_attr, out))
    x0, out0 = (b.gep(k.base(v.buf), [i64(v.offset)], source_etype=F32) for v in (x, out))
    with k.take(math.prod(out.shape[:3]), name="row") as flat:
        plane = b.gep(x0, [b.mul(b.udiv(flat, i64(oh_n)), i64(h * w))], source_etype=F32)
        base = b.sub(b.mul(b.urem(flat, i64(oh_n)), i64(sh)), i64(top))
        rows = [b.gep(plane, [b.mul(_clamp(b, b.add(base, i64(r)), h), i64(w))], source_etype=F32)
                for r in range(kh)]
        _emit_vertical(b, lanes, rows, b.gep(row, [i64(left)], source_etype=F32), w)
        edge = [(0, left, left), (left + w, max(left + w, (ow_n - 1) * sw + kw), left + w - 1)]
        for start, stop, source in edge:
            value = b.load(b.gep(row, [i64(source)], source_etype=F32), typ=F32)
            for j in range(start, stop):
                b.store(value, b.gep(row, [i64(j)], source_etype=F32))
        _emit_horizontal(b, lanes, row, b.gep(out0, [b.mul(flat, i64(ow_n))], source_etype=F32), kw, sw, ow_n)


def _emit_vertical(b: ir.IRBuilder, lanes: int, rows: list, dst, w: int) -> None:
    """dst[j] = max over `rows` of rows[r][j], j < w, L at a time (the last vector read under a
    mask and stored whole: the stack row has room, and the edge columns are written after)."""
    whole, rest = divmod(w, lanes)
    vec = ir.VectorType(F32, lanes)

    def chunk(at, valid: int) -> None:
        values = [load_partial(b, b.gep(r, [at], source_etype=F32), lanes, valid) for r in rows]
        b.store(_nan_max(b, values), b.bitcast(b.gep(dst, [at], source_etype=F32), vec.as_pointer()), align=4)

    if whole:
        with for_range(b, 0, whole * lanes, lanes, name="j") as j:
            chunk(j, lanes)
    if rest:
        chunk(i64(whole * lanes), rest)


def _emit_horizontal(b: ir.IRBuilder, lanes: int, row, dst, kw: int, sw: int, ow_n: int) -> None:
    """dst[ow] = max over s < kw of row[ow*sw + s], L outputs at a time (the last masked): tap
    s = t*sw + q is phase q of the sw*L floats at (ow + t)*sw, so ceil(kw / sw) loads serve
    every tap."""
    wide = ir.VectorType(F32, sw * lanes)
    whole, rest = divmod(ow_n, lanes)

    def chunk(ow, valid: int) -> None:
        taps = []
        for t in range(-(-kw // sw)):
            at = b.gep(row, [b.mul(b.add(ow, i64(t)), i64(sw))], source_etype=F32)
            block = b.load(b.bitcast(at, wide.as_pointer()), align=4)
            taps += [phase(b, block, q, sw) for q in range(min(sw, kw - t * sw))]
        store_partial(b, _nan_max(b, taps), b.gep(dst, [ow], source_etype=F32), valid)

    if whole:
        with for_range(b, 0, whole * lanes, lanes, name="ow") as ow:
            chunk(ow, lanes)
    if rest:
        chunk(i64(whole * lanes), rest)


def _nan_max(b: ir.IRBuilder, values: list[ir.Value]) -> ir.Value:
    """The lane-wise max of float vectors, NaN where any is NaN: per value one compare-and-select
    (`maxps`) and, for the running max, one unordered self-compare that keeps a NaN it holds."""
    result = values[0]
    for value in values[1:]:
        larger = b.select(b.fcmp_ordered(">", result, value), result, value)
        result = b.select(b.fcmp_unordered("uno", result, result), result, larger)
    return result
