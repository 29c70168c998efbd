"""A hand-written blocked int8 matmul on VTA: C = requant(A @ B^T), A (M, K), B (N, K).

Packed layouts (VTA's): A as (M/BATCH, K/BLOCK_IN, BATCH, BLOCK_IN), B as
(N/BLOCK_OUT, K/BLOCK_IN, BLOCK_OUT, BLOCK_IN), C as (M/BATCH, N/BLOCK_OUT, BATCH, BLOCK_OUT).
Within an SRAM tile, INP row m*tk+k, WGT tile n*tk+k and ACC row m*tn+n; each step runs the
GEMMs of the dense lowering (`lower_dense.step_kernels`), so the two keep one rule against the
accumulator hazard: the widest window of any configuration (`MAX_HAZARD_WINDOW`), which makes
the stream the same at every GEMM pipeline depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram, DramBuffer
from frittata.backends.vta.hw.emitter import Emitter
from frittata.backends.vta.hw.isa import MemType, Uop
from frittata.backends.vta.hw.kernel import GemmKernel, UopLoop
from frittata.backends.vta.lower_dense import step_kernels
from frittata.backends.vta.matmul_pipeline import Requant, divisors, run_tiles
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.hw.timing import Report


def pack_matmul(a: np.ndarray, b: np.ndarray, cfg: VtaConfig) -> tuple[np.ndarray, np.ndarray]:
    (m, k), (n, _) = a.shape, b.shape
    bt, bi, bo = cfg.batch, cfg.block_in, cfg.block_out
    pa = a.reshape(m // bt, bt, k // bi, bi).transpose(0, 2, 1, 3)
    pb = b.reshape(n // bo, bo, k // bi, bi).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(pa), np.ascontiguousarray(pb)


def unpack_matmul(c: np.ndarray) -> np.ndarray:
    mb, nb, bt, bo = c.shape
    return c.transpose(0, 2, 1, 3).reshape(mb * bt, nb * bo)


@dataclass(frozen=True, slots=True)
class MatmulTiling:
    """Blocks per tile along M, N, K (in BATCH rows, BLOCK_OUT and BLOCK_IN blocks)."""

    tm: int
    tn: int
    tk: int


def choose_tiling(mb: int, nb: int, kb: int, cfg: VtaConfig) -> MatmulTiling:
    """The largest output tile (then deepest reduction) that fits half of each SRAM (a tile of
    one block of each always does)."""
    fits = [MatmulTiling(tm, tn, tk)
            for tm, tn, tk in product(divisors(mb), divisors(nb), divisors(kb))
            if tm * tk <= cfg.inp_depth // 2 and tn * tk <= cfg.wgt_depth // 2
            and tm * tn <= cfg.acc_depth // 2 and tm <= cfg.uop_depth // 8]
    return max(fits, key=lambda t: (t.tm * t.tn, t.tk))


@dataclass(slots=True)
class _MatmulOps:
    cfg: VtaConfig
    em: Emitter
    a: DramBuffer
    b: DramBuffer
    c: DramBuffer
    nb: int
    kb: int
    t: MatmulTiling

    def acc_rows(self, tile, half):
        return half * (self.cfg.acc_depth // 2), self.t.tm * self.t.tn

    def reset(self, tile, half):
        base, count = self.acc_rows(tile, half)
        self.em.gemm(GemmKernel((Uop(base, 0, 0),), (UopLoop(count, 1),), reset=True))

    def load(self, tile, k0, buf):
        (m0, n0), t, em = tile, self.t, self.em
        em.load_2d(MemType.INP, buf * (self.cfg.inp_depth // 2), self.a, m0 * self.kb + k0,
                   t.tm, t.tk, self.kb)
        em.load_2d(MemType.WGT, buf * (self.cfg.wgt_depth // 2), self.b, n0 * self.kb + k0,
                   t.tn, t.tk, self.kb)

    def gemm(self, tile, k0, buf, half):
        t, acc = self.t, half * (self.cfg.acc_depth // 2)
        inp, wgt = buf * (self.cfg.inp_depth // 2), buf * (self.cfg.wgt_depth // 2)
        for kernel in step_kernels(acc, inp, wgt, t.tm, t.tn, t.tk):
            self.em.gemm(kernel)

    def store(self, tile, half):
        (m0, n0), t = tile, self.t
        base, _ = self.acc_rows(tile, half)
        self.em.store_2d(base, self.c, m0 * self.nb + n0, t.tm, t.tn, self.nb)


def emit_matmul(em: Emitter, a: DramBuffer, b: DramBuffer, c: DramBuffer,
                requant: Requant = Requant(), tiling: MatmulTiling | None = None) -> None:
    """Emit C = requant(A @ B^T) for packed DRAM buffers (see the module docstring)."""
    cfg = em.cfg
    mb, kb, nb = a.shape[0], a.shape[1], b.shape[0]
    t = tiling or choose_tiling(mb, nb, kb, cfg)
    tiles = [((m0, n0), range(0, kb, t.tk))
             for m0 in range(0, mb, t.tm) for n0 in range(0, nb, t.tn)]
    run_tiles(em, tiles, _MatmulOps(cfg, em, a, b, c, nb, kb, t), requant)


def run_matmul(a: np.ndarray, b: np.ndarray, cfg: VtaConfig = VtaConfig(),
               requant: Requant = Requant(), sim: Simulator | None = None,
               ) -> tuple[np.ndarray, Report]:
    """Pack, emit, simulate and unpack requant(A @ B^T) for int8 A (M, K) and B (N, K)."""
    sim = sim or Simulator(cfg, Dram())
    dram = sim.machine.dram
    pa, pb = pack_matmul(a, b, cfg)
    shape = (pa.shape[0], pb.shape[0], cfg.batch, cfg.block_out)
    a_buf, b_buf = dram.put(pa), dram.put(pb)
    c_buf = dram.alloc(shape, np.int8)
    em = Emitter(cfg, dram)
    emit_matmul(em, a_buf, b_buf, c_buf, requant)
    report = sim.run(em.synchronize().image())
    return unpack_matmul(dram.get(c_buf)), report
