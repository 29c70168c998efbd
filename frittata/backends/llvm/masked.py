"""Float32 vectors read and written under a lane mask, and split into their stride phases: the
row tails and strided columns of the depthwise, direct-convolution pad and max-pool kernels."""

from __future__ import annotations

from llvmlite import ir

from frittata.backends.llvm.irutil import F32, I1, I32, PTR, VOID, for_range, i64, intrinsic
from frittata.backends.llvm.micro import splat


def load_partial(b: ir.IRBuilder, at, lanes: int, valid: int | ir.Value) -> ir.Value:
    """A vector of `lanes` floats whose first `valid` are read from `at` (the rest zero, not read);
    `valid` is a count known here or an i64 computed at run time (below `lanes`)."""
    vec = ir.VectorType(F32, lanes)
    if valid == lanes:
        return b.load(at, typ=vec, align=4)
    load = intrinsic(b.module, f"llvm.masked.load.v{lanes}f32.p0", vec, [PTR, I32, ir.VectorType(I1, lanes), vec])
    return b.call(load, [at, ir.Constant(I32, 4), _mask(b, lanes, valid), ir.Constant(vec, [0.0] * lanes)])


def store_partial(b: ir.IRBuilder, value: ir.Value, at, valid: int | ir.Value) -> None:
    """Store the first `valid` lanes of `value` at `at` (a whole vector when all are); `valid` as
    `load_partial`'s."""
    lanes = value.type.count
    if valid == lanes:
        b.store(value, at, align=4)
        return
    store = intrinsic(b.module, f"llvm.masked.store.v{lanes}f32.p0", VOID,
                      [value.type, PTR, I32, ir.VectorType(I1, lanes)])
    b.call(store, [value, at, ir.Constant(I32, 4), _mask(b, lanes, valid)])


def phase(b: ir.IRBuilder, block: ir.Value, q: int, sw: int) -> ir.Value:
    """Lanes q, q + sw, q + 2*sw, ... of `block` (sw x L floats): the L columns of stride phase q
    (`block` itself when sw = 1)."""
    if sw == 1:
        return block
    lanes = block.type.count // sw
    keep = ir.Constant(ir.VectorType(I32, lanes), list(range(q, sw * lanes, sw)))
    return b.shuffle_vector(block, ir.Constant(block.type, ir.Undefined), keep)


def split_row_phases(b: ir.IRBuilder, src, dst, width: int, sw: int, left: int, lanes: int, phase_floats: int,
                     whole_stores: bool) -> None:
    """Image row `src` (`width` floats) into the column phases of padded row `dst`, sw x L floats
    at a time, the last chunk read under a mask: lanes q, q + sw, ... of chunk m are padded
    columns (q + left) // sw + m L, ... of phase (q + left) % sw, whose floats start
    `phase_floats` apart. `whole_stores`: every phase stores a whole vector (the lanes past the
    image are zero, and the caller writes the edges after); else each stores only its lanes of
    the image. The floats of `dst` outside the image are the caller's to write."""
    chunks, rest = divmod(width, sw * lanes)

    def chunk(m, valid: int) -> None:
        block = load_partial(b, b.gep(src, [b.mul(m, i64(sw * lanes))], source_etype=F32), sw * lanes, valid)
        for q in range(sw if whole_stores else min(sw, valid)):
            index = b.add(b.mul(m, i64(lanes)), i64((q + left) % sw * phase_floats + (q + left) // sw))
            at = b.gep(dst, [index], source_etype=F32)
            if whole_stores:
                b.store(phase(b, block, q, sw), at, align=4)
            else:
                store_partial(b, phase(b, block, q, sw), at, len(range(q, valid, sw)))

    if chunks:
        with for_range(b, 0, chunks, name="chunk") as m:
            chunk(m, sw * lanes)
    if rest:
        chunk(i64(chunks), rest)


def _mask(b: ir.IRBuilder, lanes: int, valid: int | ir.Value) -> ir.Value:
    """The first `valid` of `lanes` lanes: a constant, or lane < valid compared at run time."""
    if isinstance(valid, int):
        return ir.Constant(ir.VectorType(I1, lanes), [int(lane < valid) for lane in range(lanes)])
    count = splat(b, b.trunc(valid, I32), lanes)
    return b.icmp_unsigned("<", ir.Constant(ir.VectorType(I32, lanes), list(range(lanes))), count)
