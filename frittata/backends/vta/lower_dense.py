"""Lowering of `vta_dense` to an instruction stream: tiles, GEMM kernels, bias and epilogue.

Packed operands (VTA's layouts): x (NB, KB, BATCH, BLOCK_IN), w (OB, KB, BLOCK_OUT, BLOCK_IN),
out (NB, OB, BATCH, BLOCK_OUT).  A tile is `tm` batch blocks x `tn` output blocks reduced over
steps of `tk` input blocks; INP row m*tk+k, WGT tile n*tk+k, ACC row m*tn+n.  One GEMM per
step runs uops over m inside loops over k (outer) and n (inner), so a row is written again
only after every other row of the tile; a tile of at most `MAX_HAZARD_WINDOW` ACC rows gets one
GEMM per k instead, which never writes a row twice: the accumulator hazard (a row written
again within the pipeline's hazard window reads a stale value) is avoided for every pipeline
depth, so the stream is the same whatever the configuration's GEMM stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from frittata.backends.vta.hw.config import MAX_HAZARD_WINDOW, VtaConfig
from frittata.backends.vta.hw.dram import DramBuffer
from frittata.backends.vta.hw.emitter import Emitter
from frittata.backends.vta.hw.isa import MemType, Uop
from frittata.backends.vta.hw.kernel import GemmKernel, UopLoop
from frittata.backends.vta.lower_pipeline import AccLayout, bias_kernel, divisors, run_pipeline
from frittata.errors import LoweringError


@dataclass(frozen=True, slots=True)
class DenseTiling:
    """Blocks per tile along the batch, output and reduction axes."""

    tm: int
    tn: int
    tk: int


def choose_dense_tiling(nb: int, ob: int, kb: int, cfg: VtaConfig, acc: AccLayout) -> DenseTiling:
    """The largest output tile (then the deepest reduction) fitting one buffer of each SRAM."""
    th = acc.threads
    fits = [DenseTiling(tm, tn, tk)
            for tm, tn, tk in product(divisors(nb), divisors(ob), divisors(kb))
            if tm * tk <= cfg.inp_depth // th and tn * tk <= cfg.wgt_depth // th
            and tm * tn <= acc.capacity((nb // tm) * (ob // tn)) and tm <= cfg.uop_depth // 8]
    if not fits:
        raise LoweringError(f"vta_dense blocks (NB {nb}, OB {ob}, KB {kb}): expected a tile "
                            f"fitting the buffers of {cfg.name}; none does")
    return max(fits, key=lambda t: (t.tm * t.tn, t.tk))


def step_kernels(acc: int, inp: int, wgt: int, tm: int, tn: int, tk: int) -> list[GemmKernel]:
    """The GEMMs of one reduction step of a `tm` x `tn` tile over `tk` input blocks (INP row
    inp + m*tk + k, WGT tile wgt + n*tk + k, ACC row acc + m*tn + n): one GEMM over k (outer)
    and n (inner) loops when the tile has more than `MAX_HAZARD_WINDOW` rows, else one GEMM per
    k, which writes each row once (see the module docstring)."""
    uops = tuple(Uop(acc + m * tn, inp + m * tk, wgt) for m in range(tm))
    if tm * tn > MAX_HAZARD_WINDOW:
        return [GemmKernel(uops, (UopLoop(tk, 0, 1, 1), UopLoop(tn, 1, 0, tk)))]
    return [GemmKernel(tuple(Uop(u.dst, u.src + k, u.wgt + k) for u in uops), (UopLoop(tn, 1, 0, tk),))
            for k in range(tk)]


@dataclass(slots=True)
class DenseOps:
    """The `TileOps` of a dense layer (tile = (m0, n0), step = k0)."""

    cfg: VtaConfig
    em: Emitter
    x: DramBuffer
    w: DramBuffer
    outs: tuple[DramBuffer, ...]
    ob: int
    kb: int
    t: DenseTiling
    acc: AccLayout

    def _buffers(self, buf: int) -> tuple[int, int]:
        th = self.acc.threads
        return buf * (self.cfg.inp_depth // th), buf * (self.cfg.wgt_depth // th)

    def acc_rows(self, tile, half):
        return self.acc.base(half), self.t.tm * self.t.tn

    def reset(self, tile, half):
        base, count = self.acc_rows(tile, half)
        self.em.gemm(GemmKernel((Uop(base, 0, 0),), (UopLoop(count, 1),), reset=True))

    def load(self, tile, k0, buf):
        (m0, n0), t = tile, self.t
        inp, wgt = self._buffers(buf)
        self.em.load_2d(MemType.INP, inp, self.x, m0 * self.kb + k0, t.tm, t.tk, self.kb)
        self.em.load_2d(MemType.WGT, wgt, self.w, n0 * self.kb + k0, t.tn, t.tk, self.kb)

    def gemm(self, tile, k0, buf, half):
        for kernel in step_kernels(self.acc.base(half), *self._buffers(buf), self.t.tm, self.t.tn, self.t.tk):
            self.em.gemm(kernel)

    def bias(self, tile, half):
        (_, n0), t = tile, self.t
        return bias_kernel(self.acc.base(half), n0, UopLoop(t.tm, t.tn, 0), UopLoop(t.tn, 1, 1))

    def units(self, tile):
        return self.t.tm

    def store(self, tile, half, plane, first, count):
        (m0, n0), t = tile, self.t
        self.em.store_2d(self.acc.base(half) + first * t.tn, self.outs[plane], (m0 + first) * self.ob + n0,
                         count, t.tn, self.ob)


def emit_dense(em: Emitter, x: DramBuffer, w: DramBuffer, bias: DramBuffer,
               outs: tuple[DramBuffer, ...], epilogue: tuple, threads: int = 2) -> DenseTiling:
    """Emit outs = epilogue(dense(x, w) + bias) for packed DRAM buffers, in byte planes `outs`
    (one for int8, four for int32); `bias` holds one ACC element per output block.  Returns
    the tiling used."""
    cfg = em.cfg
    nb, kb, ob = x.shape[0], x.shape[1], w.shape[0]
    acc = AccLayout(ob, threads, cfg.acc_depth, len(outs))
    t = choose_dense_tiling(nb, ob, kb, cfg, acc)
    em.load_2d(MemType.ACC, 0, bias, 0, 1, ob, ob)
    tiles = [((m0, n0), range(0, kb, t.tk)) for m0 in range(0, nb, t.tm) for n0 in range(0, ob, t.tn)]
    run_pipeline(em, tiles, DenseOps(cfg, em, x, w, outs, ob, kb, t, acc), epilogue, acc)
    return t
