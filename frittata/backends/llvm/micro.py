"""The register-blocked float32 GEMM micro-kernel: an mr x NR block of C held in vector registers.

    void micro(ptr a, i64 lda, ptr bp, i64 kc, ptr c, i64 ldc, i64 ncols, i32 first, i32 last,
               ptr bias, ptr residual)
      acc[r][v] = 0;  prefetch the tile's rows of C (and, if last, of the residual)
      for k < kc:  b_v = bp[k*NR + v*L ...];  acc[r][v] = fma(splat(a[r*lda + k]), b_v, acc[r][v])
      if !first: acc += C[r, v*L : v*L+L]       (the earlier k blocks' partial sums)
      if last: acc = epilogue(acc + bias)       (bias per row or per column, residual, relu, clip)
      C[r, :ncols] = acc                         (a partial tile goes through a stack tile)

`bp` is a packed panel of B: NR consecutive columns per k. L is the host's fp32 lane count.
The function is never inlined into its caller: inlined where a convolution's partial tiles make
`ncols` a constant below NR, LLVM narrowed the last k step to the stored lanes (`<7 x float>`
for a 7-pixel row) and kept that step's broadcasts live across the loop, spilling accumulators
(1x1 convolution 160 -> 960 at 7x7, AMD EPYC znver3: 0.45 ms inlined, 0.29 ms not, 0.23 ms
with no loop unrolling either, `jit.optimize`); a call costs nothing measurable beside a
tile's kc x mr x NV FMAs.
C is read after the k loop, not before it, with its lines prefetched at the start: read first, a
tile of C that missed the caches stalled the first FMAs (one Zen 3 core, CPU time, one process,
interleaved, loaded: dense 1024^3 1.02-1.06x, matmul 1024 1.01-1.03x faster; the residual's
prefetch made the 1x1 convolution 256 -> 1024 at 14x14 with a residual 1.06x faster).
"""

from __future__ import annotations

import struct
from collections.abc import Hashable
from dataclasses import dataclass, fields, is_dataclass
from typing import Protocol

from llvmlite import ir

from frittata.backends.llvm import vmath
from frittata.backends.llvm.irutil import F32, I32, I64, PTR, VOID, for_range, i64, if_then, intrinsic
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.scalar import float_clip
from frittata.terms.kernels import Epilogue

ARGS = [PTR, I64, PTR, I64, PTR, I64, I64, I32, I32, PTR, PTR]
PLACEHOLDER = "micro"
_TEXTS: dict[tuple, tuple[str, tuple[ir.Function, ...]]] = {}
"""A memo of `_micro_text`, under `_exact` keys: the text is a pure function of the key."""


@dataclass(frozen=True)
class MicroSpec:
    """What a micro-kernel is specialized on: rows, lanes, vectors per row, and the epilogue."""

    mr: int
    lanes: int
    nv: int
    bias: str | None  # "row", "col" or None
    steps: Epilogue = ()

    @property
    def nr(self) -> int:
        return self.lanes * self.nv


class KLoop(Protocol):
    """A micro-kernel's accumulation over k: a frozen dataclass whose fields are everything its
    `emit` depends on besides the spec (it is part of the text's memo key)."""

    def emit(self, b: ir.IRBuilder, spec: MicroSpec, acc, a, lda, bp, kc) -> None:
        """Add the kc steps' products into the accumulators `acc` (see the module docstring)."""


@dataclass(frozen=True)
class PanelLoop:
    """The packed-panel GEMM loop: acc[r][v] += a[r*lda + k] * bp[k*NR + v*L ...]."""

    def emit(self, b: ir.IRBuilder, spec: MicroSpec, acc, a, lda, bp, kc) -> None:
        vec = ir.VectorType(F32, spec.lanes)
        fma = intrinsic(b.module, f"llvm.fmuladd.v{spec.lanes}f32", vec, [vec, vec, vec])
        rows = [b.gep(a, [b.mul(lda, i64(r))], source_etype=F32) for r in range(spec.mr)]
        with for_range(b, 0, kc, name="k") as k:
            panel = b.gep(bp, [b.mul(k, i64(spec.nr))], source_etype=F32)
            bv = [b.load(b.gep(panel, [i64(v * spec.lanes)], source_etype=F32), typ=vec, align=4)
                  for v in range(spec.nv)]
            for r, row in enumerate(rows):
                av = splat(b, b.load(b.gep(row, [k], source_etype=F32), typ=F32), spec.lanes)
                for v in range(spec.nv):
                    b.store(b.call(fma, [av, bv[v], b.load(acc[r][v])]), acc[r][v])


PANEL_LOOP = PanelLoop()


def micro_function(k: Kernel, spec: MicroSpec, name: str, loop: KLoop = PANEL_LOOP) -> ir.Function:
    """The micro-kernel `name` in `k`'s unit, accumulating with `loop`. Its text is built once per
    process for each (spec, loop, triple) and spliced into every unit that calls it
    (`Kernel.splice`): the builder and the printer took half of a Winograd unit's emission time,
    for a function that ResNet-18's 13 Winograd steps share a few specs of."""
    text, declared = _micro_text(spec, loop, k.module.triple)
    for callee in declared:
        intrinsic(k.module, callee.name, callee.ftype.return_type, callee.ftype.args)
    return k.splice(ir.FunctionType(VOID, ARGS), name, text.replace(f'@"{PLACEHOLDER}"', f'@"{name}"', 1))


def _micro_text(spec: MicroSpec, loop: KLoop, triple: str) -> tuple[str, tuple[ir.Function, ...]]:
    """The micro-kernel's definition text under the name PLACEHOLDER, and the functions it calls."""
    key = _exact((spec, loop, triple))
    if key not in _TEXTS:
        module = ir.Module(name=PLACEHOLDER)
        module.triple = triple
        fn = emit_micro(module, spec, PLACEHOLDER, loop)
        _TEXTS[key] = str(fn), tuple(f for f in module.functions if f is not fn)
    return _TEXTS[key]


def _exact(value: object) -> tuple:
    """`value` as a key equal only where the emitted text is: a float by its bits (-0.0 == 0.0,
    and they hash alike, yet a clip bound of either emits its own constant; a NaN is unequal to
    itself, so a key holding one would never be found again), anything else by its type and
    value, a frozen (hashable) dataclass by its type and fields, a tuple item by item. Anything
    else is refused (a list, a dataclass that is not frozen): a key that changes after it is
    stored is missed, or found by another value."""
    match value:
        case float():
            return float, struct.pack("<d", value)
        case tuple():
            return tuple, tuple(_exact(item) for item in value)
        case None | bool() | int() | str():
            return type(value), value
        case _ if is_dataclass(value) and not isinstance(value, type) and isinstance(value, Hashable):
            return type(value), tuple(_exact(getattr(value, f.name)) for f in fields(value))
        case _:
            raise TypeError(f"micro-kernel memo key: expected numbers, strings, tuples or frozen dataclasses, "
                            f"got {value!r}")


def emit_micro(module: ir.Module, spec: MicroSpec, name: str, loop: KLoop) -> ir.Function:
    """The micro-kernel function; `loop` emits the accumulation (the packed-panel GEMM loop,
    `PanelLoop`; convolutions pass their own)."""
    fn = ir.Function(module, ir.FunctionType(VOID, ARGS), name=name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    for arg in (fn.args[0], fn.args[2], fn.args[4]):
        arg.add_attribute("noalias")
    a, lda, bp, kc, c, ldc, ncols, first, last, bias, residual = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    vec = ir.VectorType(F32, spec.lanes)
    acc = [[b.alloca(vec, name=f"acc{r}_{v}") for v in range(spec.nv)] for r in range(spec.mr)]
    tile = b.alloca(F32, size=i64(spec.mr * spec.nr), name="tile")
    for row in acc:
        for slot in row:
            b.store(ir.Constant(vec, [0.0] * spec.lanes), slot)
    _prefetch_block(b, spec, c, ldc, write=True)
    if ("add",) in spec.steps:  # only the last k block's epilogue reads the residual
        with if_then(b, b.icmp_signed("!=", last, ir.Constant(I32, 0)), "prefetch_residual"):
            _prefetch_block(b, spec, residual, ldc, write=False)
    loop.emit(b, spec, acc, a, lda, bp, kc)
    with if_then(b, b.icmp_signed("==", first, ir.Constant(I32, 0)), "accumulate"):
        _add_block(b, spec, acc, c, ldc, ncols, tile)
    with if_then(b, b.icmp_signed("!=", last, ir.Constant(I32, 0)), "epilogue"):
        _epilogue(b, spec, acc, bias, residual, ldc, ncols, tile)
    _store_block(b, spec, acc, c, ldc, ncols, tile)
    b.ret_void()
    return fn


def splat(b: ir.IRBuilder, value: ir.Value, lanes: int) -> ir.Value:
    vec = ir.VectorType(value.type, lanes)
    one = b.insert_element(ir.Constant(vec, ir.Undefined), value, ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(vec, ir.Undefined), ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))


def _full(b: ir.IRBuilder, spec: MicroSpec, ncols) -> ir.Value:
    return b.icmp_signed("==", ncols, i64(spec.nr))


def _rows_of(b: ir.IRBuilder, spec: MicroSpec, base, ld, ncols, tile, into_tile: bool):
    """Pointers to each row's NR floats: `base` rows if the tile is full, else the stack tile
    (copying the `ncols` valid columns in first when `into_tile`)."""
    full = _full(b, spec, ncols)
    with if_then(b, b.not_(full), "partial"):
        if into_tile:
            _copy_cols(b, spec, base, ld, tile, ncols, to_tile=True)
    rows = []
    for r in range(spec.mr):
        direct = b.gep(base, [b.mul(ld, i64(r))], source_etype=F32)
        staged = b.gep(tile, [i64(r * spec.nr)], source_etype=F32)
        rows.append(b.select(full, direct, staged))
    return rows


def _copy_cols(b: ir.IRBuilder, spec: MicroSpec, base, ld, tile, ncols, to_tile: bool) -> None:
    for r in range(spec.mr):
        row = b.gep(base, [b.mul(ld, i64(r))], source_etype=F32)
        staged = b.gep(tile, [i64(r * spec.nr)], source_etype=F32)
        with for_range(b, 0, ncols, name="col") as j:
            src, dst = (row, staged) if to_tile else (staged, row)
            b.store(b.load(b.gep(src, [j], source_etype=F32), typ=F32), b.gep(dst, [j], source_etype=F32))


def _prefetch_block(b: ir.IRBuilder, spec: MicroSpec, base, ld, write: bool) -> None:
    """Prefetch the cache lines of a tile's rows of NR floats, `ld` apart (the first and last
    float of each 64 bytes: a row need not start on a line), for writing (C) or reading (the
    residual). Issued before the k loop, for the lines the block reads after it: their misses
    overlap the FMAs instead of stalling the epilogue (a prefetch never faults, so a partial
    tile's rows may run past the matrix)."""
    prefetch = intrinsic(b.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
    offsets = sorted({*range(0, spec.nr * 4, 64), spec.nr * 4 - 4})
    for r in range(spec.mr):
        row = b.gep(base, [b.mul(ld, i64(r))], source_etype=F32)
        for offset in offsets:
            line = b.gep(row, [i64(offset // 4)], source_etype=F32)
            b.call(prefetch, [line, ir.Constant(I32, int(write)), ir.Constant(I32, 3), ir.Constant(I32, 1)])


def _add_block(b: ir.IRBuilder, spec: MicroSpec, acc, c, ldc, ncols, tile) -> None:
    """acc += C: the partial sums of the earlier k blocks."""
    vec = ir.VectorType(F32, spec.lanes)
    for r, row in enumerate(_rows_of(b, spec, c, ldc, ncols, tile, into_tile=True)):
        for v in range(spec.nv):
            partial = b.load(b.gep(row, [i64(v * spec.lanes)], source_etype=F32), typ=vec, align=4)
            b.store(b.fadd(b.load(acc[r][v]), partial), acc[r][v])


def _store_block(b: ir.IRBuilder, spec: MicroSpec, acc, c, ldc, ncols, tile) -> None:
    for r, row in enumerate(_rows_of(b, spec, c, ldc, ncols, tile, into_tile=False)):
        for v in range(spec.nv):
            b.store(b.load(acc[r][v]), b.gep(row, [i64(v * spec.lanes)], source_etype=F32), align=4)
    with if_then(b, b.not_(_full(b, spec, ncols)), "partial.out"):
        _copy_cols(b, spec, c, ldc, tile, ncols, to_tile=False)


def _epilogue(b: ir.IRBuilder, spec: MicroSpec, acc, bias, residual, ldc, ncols, tile) -> None:
    """acc += bias (per row: a splat; per column: a vector), then the steps, on whole vectors."""
    vec = ir.VectorType(F32, spec.lanes)
    res_rows = (_rows_of(b, spec, residual, ldc, ncols, tile, into_tile=True)
                if ("add",) in spec.steps else None)
    for r in range(spec.mr):
        for v in range(spec.nv):
            value = b.load(acc[r][v])
            if spec.bias == "row":
                value = b.fadd(value, splat(b, b.load(b.gep(bias, [i64(r)], source_etype=F32), typ=F32), spec.lanes))
            elif spec.bias == "col":
                col = b.gep(bias, [i64(v * spec.lanes)], source_etype=F32)
                value = b.fadd(value, b.load(col, typ=vec, align=4))
            for step in spec.steps:
                value = _step(b, spec, step, value, res_rows, r, v)
            b.store(value, acc[r][v])


def _step(b: ir.IRBuilder, spec: MicroSpec, step: tuple, value, res_rows, r: int, v: int):
    residual = None
    if step == ("add",):
        vec = ir.VectorType(F32, spec.lanes)
        residual = b.load(b.gep(res_rows[r], [i64(v * spec.lanes)], source_etype=F32), typ=vec, align=4)
    return vector_step(b, spec.lanes, step, value, residual)


def vector_step(b: ir.IRBuilder, lanes: int, step: tuple, value, residual=None):
    """One float epilogue step on a vector of `lanes` floats (`residual`: the "add" operand)."""
    vec = ir.VectorType(F32, lanes)

    def edge(limit: float | None) -> ir.Constant | None:
        return None if limit is None else ir.Constant(vec, [float(limit)] * lanes)

    match step:
        case ("add",):
            assert residual is not None
            return b.fadd(value, residual)
        case ("relu",):
            return float_clip(b, value, edge(0.0), None)
        case ("clip", lo, hi):
            return float_clip(b, value, edge(lo), edge(hi))
        case ("sigmoid",):
            return vmath.sigmoid(b, value)
        case ("silu",):
            return b.fmul(value, vmath.sigmoid(b, value))
        case ("hard_swish",):
            return vmath.hard_swish(b, value)
        case _:
            raise AssertionError(f"the float32 vector epilogue has no step {step}")
