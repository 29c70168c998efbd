"""Blocked float32 GEMM drivers around the micro-kernel (GotoBLAS loop structure).

C[M, N] = A[M, K] · B[K, N], B in panels of NR columns ([N/NR][K][NR], zero-padded), packed at
compile time when B is a parameter and at run time otherwise. With split "n" the threads first
pack B (chunks of panels taken from the team's work counter, `Kernel.chunks`; a barrier), then
take the items (`cpu_geometry.gemm_items`: groups of row blocks times groups of panels, numbered
panel group by panel group, so a thread taking the front or the back items of the counter reads
mostly the panels it packed) from the counter;
with "m" (B packed at compile time) each thread runs a static share of the row blocks of MR
rows; with "serial" the calling thread runs the whole GEMM (a kernel whose threads already
split an outer loop). Per item or share:

    for pc < K step KC:  for ic in its rows step MC:  for p in its panels:  for ir in ic..ic+MC step MR:
        micro(A[ir, pc], panel p at pc, C[ir, p*NR], first = pc == 0, last = pc + KC >= K)
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from frittata.backends.llvm.irutil import F32, I32, for_range, i64, smax, smin, thread_range
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.micro import MicroSpec, micro_function
from frittata.terms.cpu_geometry import gemm_items, gemm_mc


@dataclass(frozen=True)
class Gemm:
    """One GEMM call: sizes, bias kind and epilogue, and the blocking its schedule names: the
    vector width, MR rows by NV vectors per register block, KC reduction depth per cache block,
    and the loop the threads split (`split`: column panels "n", row blocks "m", or none: "serial")."""

    m: int
    n: int
    k: int
    bias: str | None
    steps: tuple
    lanes: int
    mr: int
    nv: int
    kc: int
    split: str

    @classmethod
    def of(cls, m: int, n: int, k: int, schedule: dict, bias: str | None = None, steps: tuple = ()) -> Gemm:
        """The GEMM that runs with a dense schedule (the tiled_dense vocabulary)."""
        vec = schedule["vec"]
        return cls(m, n, k, bias, steps, vec, schedule["m_block"], schedule["n_block"] // vec,
                   schedule["k_block"], schedule["parallel"])

    @property
    def nr(self) -> int:
        return self.lanes * self.nv

    @property
    def mc(self) -> int:
        """Rows per cache block of A (`cpu_geometry.gemm_mc`)."""
        return gemm_mc(self.mr)

    @property
    def panels(self) -> int:
        return -(-self.n // self.nr)

    def micro(self, k: Kernel, rows: int) -> ir.Function:
        spec = MicroSpec(rows, self.lanes, self.nv, self.bias, self.steps)
        return micro_function(k, spec, f"{k.function.name}.micro{rows}")


def emit_blocked(k: Kernel, g: Gemm, a, lda: int, panels, c, ldc: int, bias, residual, pack=None) -> None:
    """The threaded, cache-blocked loop nest over micro-kernel calls (see the module docstring)."""
    assert pack is None or g.split == "n", "run-time packing needs the threads to split the panels"
    operands = (a, lda, panels, c, ldc, bias, residual)
    if g.split != "n":
        _emit_nest(k, g, operands, _shares(k, g))
        return
    if pack is not None:
        with k.chunks(g.panels) as (p0, p1):
            pack(p0, p1)
        k.sync()
    b = k.b
    blocks = -(-g.m // g.mc)
    row_groups, panel_groups = gemm_items(g.m, g.panels, g.mr)
    with k.take(row_groups * panel_groups) as item:  # the bounds cpu_geometry.gemm_item_sizes prices
        rows, cols = b.urem(item, i64(row_groups)), b.udiv(item, i64(row_groups))
        b0, b1 = (b.udiv(b.mul(x, i64(blocks)), i64(row_groups)) for x in (rows, b.add(rows, i64(1))))
        p0, p1 = (b.udiv(b.mul(x, i64(g.panels)), i64(panel_groups)) for x in (cols, b.add(cols, i64(1))))
        r0, r1 = b.mul(b0, i64(g.mc)), smin(b, b.mul(b1, i64(g.mc)), i64(g.m))
        _emit_nest(k, g, operands, (p0, p1, r0, r1))


def _emit_nest(k: Kernel, g: Gemm, operands: tuple, share: tuple) -> None:
    """The loop nest over panels [p0, p1) and rows [r0, r1) (`share`)."""
    b = k.b
    p0, p1, r0, r1 = share
    full, tail = g.m // g.mr * g.mr, g.m % g.mr
    kernels = {g.mr: g.micro(k, g.mr)}
    if tail:
        kernels[tail] = g.micro(k, tail)
    mc = g.mc
    with for_range(b, 0, g.k, g.kc, name="pc") as pc:
        kc = smin(b, i64(g.kc), b.sub(i64(g.k), pc))
        flags = (b.zext(b.icmp_signed("==", pc, i64(0)), I32),
                 b.zext(b.icmp_signed(">=", b.add(pc, i64(g.kc)), i64(g.k)), I32))
        with for_range(b, r0, r1, mc, name="ic") as ic:
            end = smin(b, b.add(ic, i64(mc)), r1)
            with for_range(b, p0, p1, name="p") as p:
                call = _caller(k, g, operands, pc, kc, p, flags)
                with for_range(b, ic, smin(b, end, i64(full)), g.mr, name="ir") as ir_:
                    call(kernels[g.mr], ir_)
                if tail:
                    _tail(b, ic, end, full, lambda: call(kernels[tail], i64(full)))


def _shares(k: Kernel, g: Gemm) -> tuple:
    """(first panel, end panel, first row, end row) of this thread: everything (serial), or all
    panels and its static share of the MR-row blocks ("m"). "m" stays static: it is the tuner's
    candidate priced as an even split of the row blocks over the threads (`tuning.model`'s
    `pixel_parallel`); the candidate that takes items from the work counter is "n"."""
    b = k.b
    if g.split == "serial":
        return i64(0), i64(g.panels), i64(0), i64(g.m)
    b0, b1 = thread_range(b, -(-g.m // g.mr), k.tid, k.nthreads)
    return i64(0), i64(g.panels), b.mul(b0, i64(g.mr)), smin(b, b.mul(b1, i64(g.mr)), i64(g.m))


def _tail(b: ir.IRBuilder, ic, end, full: int, emit) -> None:
    """The last rows (M % MR) run once, in the row block [ic, end) that contains them."""
    inside = b.and_(b.icmp_signed("<=", ic, i64(full)), b.icmp_signed(">", end, i64(full)))
    with b.if_then(inside):
        emit()


def _caller(k: Kernel, g: Gemm, operands: tuple, pc, kc, p, flags):
    """A function emitting one micro-kernel call for panel `p` at depth `pc` (`operands`: A, its
    row stride, the panels, C, its row stride, the bias, the residual)."""
    a, lda, panels, c, ldc, bias, residual = operands
    b = k.b
    col = b.mul(p, i64(g.nr))
    ncols = smin(b, i64(g.nr), b.sub(i64(g.n), col))
    panel = b.gep(panels, [b.add(b.mul(p, i64(g.k * g.nr)), b.mul(pc, i64(g.nr)))], source_etype=F32)

    def call(fn: ir.Function, row) -> None:
        a_ptr = b.gep(a, [b.add(b.mul(row, i64(lda)), pc)], source_etype=F32)
        at = b.add(b.mul(row, i64(ldc)), col)
        c_ptr = b.gep(c, [at], source_etype=F32)
        res_ptr = b.gep(residual, [at], source_etype=F32) if residual is not None else c_ptr
        bias_ptr = (c_ptr if bias is None else
                    b.gep(bias, [row if g.bias == "row" else col], source_etype=F32))
        b.call(fn, [a_ptr, i64(lda), panel, kc, c_ptr, i64(ldc), ncols, flags[0], flags[1], bias_ptr, res_ptr])

    return call


def emit_pack_runtime(k: Kernel, g: Gemm, src, ld: int, scratch, p0, p1, transposed: bool = False) -> None:
    """Pack this thread's panels [p0, p1) of a row-major [K, N] matrix into `scratch` (zero-padded);
    `transposed`: `src` is the row-major [N, K] matrix (dense's weights), read down its columns.
    A whole panel of the row-major matrix is NV vector copies per k; a partial one (the last,
    when NR does not divide N) and the transposed matrix go element by element. (Element by
    element, the copy took 2 of matmul 1024's 27 ms on one thread, AMD EPYC znver3.)"""
    b = k.b
    whole = 0 if transposed else g.n // g.nr
    if whole:
        vec = ir.VectorType(F32, g.lanes)
        with for_range(b, p0, smin(b, p1, i64(whole)), name="pv") as p:
            with for_range(b, 0, g.k, name="pvk") as kk:
                row = b.gep(src, [b.add(b.mul(kk, i64(ld)), b.mul(p, i64(g.nr)))], source_etype=F32)
                dst = _panel_row(b, g, scratch, p, kk)
                for v in range(g.nv):
                    value = b.load(b.gep(row, [i64(v * g.lanes)], source_etype=F32), typ=vec, align=4)
                    b.store(value, b.gep(dst, [i64(v * g.lanes)], source_etype=F32), align=4)
    start = smax(b, p0, i64(whole)) if whole else p0
    with for_range(b, start, p1, name="pp") as p:
        with for_range(b, 0, g.k, name="pk") as kk:
            row = b.gep(src, [kk if transposed else b.mul(kk, i64(ld))], source_etype=F32)
            dst = _panel_row(b, g, scratch, p, kk)
            with for_range(b, 0, g.nr, name="pj") as j:
                col = b.add(b.mul(p, i64(g.nr)), j)
                inside = b.icmp_signed("<", col, i64(g.n))
                safe = b.select(inside, col, i64(0))
                at = b.mul(safe, i64(ld)) if transposed else safe
                value = b.load(b.gep(row, [at], source_etype=F32), typ=F32)
                b.store(b.select(inside, value, ir.Constant(F32, 0.0)), b.gep(dst, [j], source_etype=F32))


def _panel_row(b: ir.IRBuilder, g: Gemm, scratch, p, kk) -> ir.Value:
    """The address of row `kk` of packed panel `p`."""
    return b.gep(scratch, [b.add(b.mul(p, i64(g.k * g.nr)), b.mul(kk, i64(g.nr)))], source_etype=F32)
