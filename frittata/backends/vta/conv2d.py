"""A hand-written int8 conv2d on VTA: out = requant(conv2d(x, w, stride, pad)), NCHW / OIHW.

Packed layouts (VTA_SPEC §3.5): x as (N/BATCH, C/BLOCK_IN, H, W, BATCH, BLOCK_IN), w as
(O/BLOCK_OUT, C/BLOCK_IN, KH, KW, BLOCK_OUT, BLOCK_IN), out as (N/BATCH, O/BLOCK_OUT, OH, OW,
BATCH, BLOCK_OUT).  A tile is `th` output rows x `tco` output-channel blocks, reduced over steps
of `tci` input-channel blocks.  Input rows are loaded with the spatial zero padding done by the
DMA (INP row c*IHt*Wp + r*Wp + col); one GEMM per (c, kh, kw) runs uops over output columns
inside loops over output-channel blocks (outer) and output rows (inner).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from frittata.backends.vta.config import VtaConfig
from frittata.backends.vta.dram import Dram, DramBuffer
from frittata.backends.vta.emitter import Emitter
from frittata.backends.vta.errors import EmitError
from frittata.backends.vta.isa import MemType, Uop
from frittata.backends.vta.kernel import GemmKernel, UopLoop
from frittata.backends.vta.schedule import Requant, divisors, run_tiles
from frittata.backends.vta.simulator import Simulator
from frittata.backends.vta.timing import Report


@dataclass(frozen=True, slots=True)
class ConvShape:
    """Blocked conv2d geometry: batch, channel and output-channel *blocks*, image size,
    kernel size, stride and symmetric padding."""

    nb: int
    cb: int
    ob: int
    h: int
    w: int
    kh: int
    kw: int
    stride: int
    pad: int

    @property
    def oh(self) -> int:
        return (self.h + 2 * self.pad - self.kh) // self.stride + 1

    @property
    def ow(self) -> int:
        return (self.w + 2 * self.pad - self.kw) // self.stride + 1

    @property
    def wp(self) -> int:
        return self.w + 2 * self.pad

    def in_rows(self, th: int) -> int:
        """Input rows (with padding) that `th` output rows read."""
        return (th - 1) * self.stride + self.kh


@dataclass(frozen=True, slots=True)
class ConvTiling:
    th: int
    tco: int
    tci: int


def pack_conv2d(x: np.ndarray, w: np.ndarray, cfg: VtaConfig) -> tuple[np.ndarray, np.ndarray]:
    (n, c, h, wd), (o, _, kh, kw) = x.shape, w.shape
    bt, bi, bo = cfg.batch, cfg.block_in, cfg.block_out
    px = x.reshape(n // bt, bt, c // bi, bi, h, wd).transpose(0, 2, 4, 5, 1, 3)
    pw = w.reshape(o // bo, bo, c // bi, bi, kh, kw).transpose(0, 2, 4, 5, 1, 3)
    return np.ascontiguousarray(px), np.ascontiguousarray(pw)


def unpack_conv2d(out: np.ndarray) -> np.ndarray:
    nb, ob, oh, ow, bt, bo = out.shape
    return out.transpose(0, 4, 1, 5, 2, 3).reshape(nb * bt, ob * bo, oh, ow)


def choose_tiling(s: ConvShape, cfg: VtaConfig) -> ConvTiling:
    """The tiling fitting half of each SRAM that moves the fewest bytes (inputs re-read per
    output-channel tile, weights per row tile)."""
    kk = s.kh * s.kw
    fits = [ConvTiling(th, tco, tci)
            for th, tco, tci in product(divisors(s.oh), divisors(s.ob), divisors(s.cb))
            if tci * s.in_rows(th) * s.wp <= cfg.inp_depth // 2
            and tco * tci * kk <= cfg.wgt_depth // 2 and tco * th * s.ow <= cfg.acc_depth // 2
            and s.ow <= cfg.uop_depth // 8]
    if not fits:
        raise EmitError(f"conv2d {s}: expected a tile fitting half of each buffer of "
                        f"{cfg.name}; none does")

    def traffic(t: ConvTiling) -> tuple[float, int]:
        """Elements moved, in INP-element units (a WGT tile is BLOCK_OUT/BATCH of them)."""
        inputs = s.cb * s.h * s.w * (s.ob / t.tco) * s.in_rows(t.th) / (t.th * s.stride)
        weights = s.ob * s.cb * kk * cfg.wgt_elem_bytes / cfg.inp_elem_bytes * (s.oh / t.th)
        return inputs + weights, -t.tci
    return min(fits, key=traffic)


@dataclass(slots=True)
class _ConvOps:
    cfg: VtaConfig
    em: Emitter
    x: DramBuffer
    w: DramBuffer
    out: DramBuffer
    s: ConvShape
    t: ConvTiling
    kernels: dict[tuple[int, int, int], GemmKernel] = field(default_factory=dict)

    def _bases(self, buf: int) -> tuple[int, int]:
        return buf * (self.cfg.inp_depth // 2), buf * (self.cfg.wgt_depth // 2)

    def acc_rows(self, tile, half):
        return half * (self.cfg.acc_depth // 2), self.t.tco * self.t.th * self.s.ow

    def reset(self, tile, half):
        base, count = self.acc_rows(tile, half)
        self.em.gemm(GemmKernel((Uop(base, 0, 0),), (UopLoop(count, 1),), reset=True))

    def load(self, tile, c0, buf):
        (n, oh0, oc0), s, t = tile, self.s, self.t
        inp, wgt = self._bases(buf)
        rows, ih0 = s.in_rows(t.th), oh0 * s.stride - s.pad
        top, bottom = max(0, -ih0), max(0, ih0 + rows - s.h)
        for c in range(t.tci):
            offset = ((n * s.cb + c0 + c) * s.h + max(ih0, 0)) * s.w
            self.em.load_2d(MemType.INP, inp + c * rows * s.wp, self.x, offset,
                            rows - top - bottom, s.w, s.w, (top, bottom), (s.pad, s.pad))
        kk = s.kh * s.kw
        self.em.load_2d(MemType.WGT, wgt, self.w, (oc0 * s.cb + c0) * kk, t.tco, t.tci * kk,
                        s.cb * kk)

    def gemm(self, tile, c0, buf, half):
        s, t = self.s, self.t
        inp, wgt = self._bases(buf)
        acc, _ = self.acc_rows(tile, half)
        rows, kk = s.in_rows(t.th), s.kh * s.kw
        loops = (UopLoop(t.tco, t.th * s.ow, 0, t.tci * kk), UopLoop(t.th, s.ow, s.stride * s.wp))
        for c, kh, kw in product(range(t.tci), range(s.kh), range(s.kw)):
            src = inp + c * rows * s.wp + kh * s.wp + kw
            self.em.gemm(self._kernel(acc, src, wgt + c * kk + kh * s.kw + kw, loops))

    def _kernel(self, acc: int, src: int, wgt: int, loops: tuple[UopLoop, ...]) -> GemmKernel:
        """Uops over output columns; built once per distinct (acc, src, wgt) base."""
        key = (acc, src, wgt)
        if key not in self.kernels:
            uops = tuple(Uop(acc + ow, src + ow * self.s.stride, wgt) for ow in range(self.s.ow))
            self.kernels[key] = GemmKernel(uops, loops)
        return self.kernels[key]

    def store(self, tile, half):
        (n, oh0, oc0), s, t = tile, self.s, self.t
        base, _ = self.acc_rows(tile, half)
        offset = ((n * s.ob + oc0) * s.oh + oh0) * s.ow
        self.em.store_2d(base, self.out, offset, t.tco, t.th * s.ow, s.oh * s.ow)


def emit_conv2d(em: Emitter, x: DramBuffer, w: DramBuffer, out: DramBuffer, shape: ConvShape,
                requant: Requant = Requant(), tiling: ConvTiling | None = None) -> None:
    """Emit out = requant(conv2d(x, w)) for packed DRAM buffers (see the module docstring)."""
    s = shape
    t = tiling or choose_tiling(s, em.cfg)
    tiles = [((n, oh0, oc0), range(0, s.cb, t.tci)) for n in range(s.nb)
             for oh0 in range(0, s.oh, t.th) for oc0 in range(0, s.ob, t.tco)]
    run_tiles(em, tiles, _ConvOps(em.cfg, em, x, w, out, s, t), requant)


def run_conv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int,
               cfg: VtaConfig = VtaConfig(), requant: Requant = Requant(),
               sim: Simulator | None = None) -> tuple[np.ndarray, Report]:
    """Pack, emit, simulate and unpack requant(conv2d(x, w)) for int8 NCHW x and OIHW w."""
    sim = sim or Simulator(cfg, Dram())
    dram = sim.machine.dram
    px, pw = pack_conv2d(x, w, cfg)
    s = ConvShape(px.shape[0], px.shape[1], pw.shape[0], x.shape[2], x.shape[3],
                  w.shape[2], w.shape[3], stride, pad)
    out = dram.alloc((s.nb, s.ob, s.oh, s.ow, cfg.batch, cfg.block_out), np.int8)
    em = Emitter(cfg, dram)
    emit_conv2d(em, dram.put(px), dram.put(pw), out, s, requant)
    report = sim.run(em.synchronize().image())
    return unpack_conv2d(dram.get(out)), report
