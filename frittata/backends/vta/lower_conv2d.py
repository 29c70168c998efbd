"""Lowering of `vta_conv2d` to an instruction stream: tiles, GEMM kernels, bias and epilogue.

Packed operands (VTA's layouts): x (NB, CB, H, W, BATCH, BLOCK_IN), w (OB, CB, KH, KW,
BLOCK_OUT, BLOCK_IN), out (NB, OB, OH, OW, BATCH, BLOCK_OUT).  A tile is `th` output rows x
`tw` output columns x `tco` output-channel blocks, reduced over steps of `tci` input-channel
blocks.  The tile's input window (its rows and columns plus the kernel's halo) is loaded with the
spatial zero padding done by the DMA: a window reaching past an image border gets zero rows /
columns there, so edge tiles need no special code (INP element c*rows*cols + r*cols + col, cols
the window width).  A one-row kernel keeps only the rows its taps read (every stride-th row,
loaded with a DRAM row pitch of stride rows), so a 1x1 stride-2 conv moves half the input.
One GEMM per (c, kh, kw) runs uops over the tile's output columns inside
loops over output-channel blocks (outer) and output rows (inner), so it writes each of the
tile's ACC rows once: no tile, down to one pixel of one output block (a 1x1 output), meets the
accumulator hazard, whatever the pipeline depth.  Whole-row tiles (`tw` = OW) are preferred; narrower ones
are used only when no whole-row tile fits the buffers (a 224x224 stem, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import DramBuffer
from frittata.backends.vta.hw.emitter import Emitter
from frittata.backends.vta.hw.isa import MemType, Uop
from frittata.backends.vta.hw.kernel import GemmKernel, UopLoop
from frittata.backends.vta.lower_pipeline import AccLayout, bias_kernel, divisors, run_pipeline
from frittata.errors import LoweringError

MAX_PAD = 15
"""The LOAD instruction's pad fields are 4 bits wide."""


@dataclass(frozen=True, slots=True)
class ConvGeom:
    """Blocked conv2d geometry: blocks of batch / in / out channels, image, kernel, strides
    (sh, sw) and pads (top, left, bottom, right)."""

    nb: int
    cb: int
    ob: int
    h: int
    w: int
    kh: int
    kw: int
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]

    @property
    def oh(self) -> int:
        return (self.h + self.pads[0] + self.pads[2] - self.kh) // self.strides[0] + 1

    @property
    def ow(self) -> int:
        return (self.w + self.pads[1] + self.pads[3] - self.kw) // self.strides[1] + 1

    @property
    def wp(self) -> int:
        return self.w + self.pads[1] + self.pads[3]

    def in_rows(self, th: int) -> int:
        """Input rows (with padding) that `th` output rows read."""
        return (th - 1) * self.strides[0] + self.kh

    @property
    def row_pitch(self) -> int:
        """Image rows from one kept INP row to the next: the stride for a one-row kernel, whose
        taps never read the rows between (a 1x1 stride-2 conv reads every other row), else 1."""
        return self.strides[0] if self.kh == 1 else 1

    def kept_rows(self, th: int) -> int:
        """INP rows per input-channel block that a tile of `th` output rows keeps."""
        return th if self.kh == 1 else self.in_rows(th)

    def row_window(self, oh0: int, th: int) -> tuple[int, int, int]:
        """The kept input rows of output rows [oh0, oh0 + th): the first image row among them
        and the zero rows the DMA adds before / after the image's rows."""
        ih0, pitch, kept = oh0 * self.strides[0] - self.pads[0], self.row_pitch, self.kept_rows(th)
        top = min(kept, max(0, -(ih0 // pitch)))
        bottom = max(0, kept - max(0, -((ih0 - self.h) // pitch)))
        return ih0 + top * pitch, top, bottom

    def in_cols(self, tw: int) -> int:
        """Input columns (with padding) that `tw` output columns read."""
        return (tw - 1) * self.strides[1] + self.kw

    def col_window(self, ow0: int, tw: int) -> tuple[int, int, int]:
        """The input window of output columns [ow0, ow0 + tw): its first image column and the
        zero columns the DMA adds before / after it."""
        iw0 = ow0 * self.strides[1] - self.pads[1]
        return max(iw0, 0), max(0, -iw0), max(0, iw0 + self.in_cols(tw) - self.w)

    def touches_image(self, tw: int) -> bool:
        """Whether every column tile of width `tw` reads at least one image column."""
        return all(sum(self.col_window(ow0, tw)[1:]) < self.in_cols(tw) for ow0 in range(0, self.ow, tw))


@dataclass(frozen=True, slots=True)
class ConvTiling:
    th: int
    tw: int
    tco: int
    tci: int


def fitting_tilings(s: ConvGeom, cfg: VtaConfig, acc: AccLayout) -> list[ConvTiling]:
    """Every tiling fitting one buffer of each SRAM; LoweringError when none does."""
    kk, n = s.kh * s.kw, acc.threads
    widths = [tw for tw in divisors(s.ow) if tw <= cfg.uop_depth // 8 and s.touches_image(tw)]
    fits = [ConvTiling(th, tw, tco, tci)
            for th, tw, tco, tci in product(divisors(s.oh), widths, divisors(s.ob), divisors(s.cb))
            if tci * s.kept_rows(th) * s.in_cols(tw) <= cfg.inp_depth // n
            and tco * tci * kk <= cfg.wgt_depth // n
            and tco * th * tw <= acc.capacity(s.nb * (s.oh // th) * (s.ow // tw) * (s.ob // tco))]
    if max(s.pads) > MAX_PAD or not fits:
        raise LoweringError(f"vta_conv2d {s}: expected pads <= {MAX_PAD} and a tile fitting the "
                            f"buffers of {cfg.name}; none does")
    return fits


def _rank(s: ConvGeom, cfg: VtaConfig, t: ConvTiling) -> tuple[bool, float, int]:
    """The traffic model's order: whole-row tiles before narrower ones, then the fewest elements
    moved (inputs re-read per output-channel tile and in the halos, weights per spatial tile),
    then shallower reduction steps (the first load, which nothing overlaps, is the shortest, and
    loads overlap compute step by step: the cycle model's search found one input block per
    step fastest on every ResNet-18 layer)."""
    kk = s.kh * s.kw
    rows = s.kept_rows(t.th) / (t.th * s.strides[0])
    cols = s.in_cols(t.tw) * (s.ow / t.tw) / s.in_cols(s.ow)  # halo columns re-read: 1 for whole rows
    inputs = s.cb * s.h * s.w * (s.ob / t.tco) * rows * cols
    weights = s.ob * s.cb * kk * cfg.wgt_elem_bytes / cfg.inp_elem_bytes * (s.oh / t.th) * (s.ow / t.tw)
    return t.tw != s.ow, inputs + weights, t.tci


def conv_tilings(s: ConvGeom, cfg: VtaConfig, acc: AccLayout) -> list[ConvTiling]:
    """Every fitting tiling, best first by the traffic model (`choose_conv_tiling` first)."""
    return sorted(fitting_tilings(s, cfg, acc), key=lambda t: _rank(s, cfg, t))


def choose_conv_tiling(s: ConvGeom, cfg: VtaConfig, acc: AccLayout) -> ConvTiling:
    """The traffic model's best tiling, `conv_tilings`' first without ranking them all: whole-row
    tiles win whenever one fits."""
    return min(fitting_tilings(s, cfg, acc), key=lambda t: _rank(s, cfg, t))


@dataclass(slots=True)
class ConvOps:
    """The `TileOps` of a conv2d layer (tile = (n, oh0, ow0, oc0), step = c0)."""

    cfg: VtaConfig
    em: Emitter
    x: DramBuffer
    w: DramBuffer
    outs: tuple[DramBuffer, ...]
    s: ConvGeom
    t: ConvTiling
    acc: AccLayout
    zeros: DramBuffer
    kernels: dict[tuple[int, int, int], GemmKernel] = field(default_factory=dict)

    def _buffers(self, buf: int) -> tuple[int, int]:
        n = self.acc.threads
        return buf * (self.cfg.inp_depth // n), buf * (self.cfg.wgt_depth // n)

    def acc_rows(self, tile, half):
        return self.acc.base(half), self.t.tco * self.t.th * self.t.tw

    def reset(self, tile, half):
        base, count = self.acc_rows(tile, half)
        self.em.gemm(GemmKernel((Uop(base, 0, 0),), (UopLoop(count, 1),), reset=True))

    def load(self, tile, c0, buf):
        (n, oh0, ow0, oc0), s, t = tile, self.s, self.t
        inp, wgt = self._buffers(buf)
        rows, cols = s.kept_rows(t.th), s.in_cols(t.tw)
        ih0, top, bottom = s.row_window(oh0, t.th)
        iw0, left, right = s.col_window(ow0, t.tw)
        for c in range(t.tci):
            offset = ((n * s.cb + c0 + c) * s.h + ih0) * s.w + iw0
            if rows > top + bottom:
                load = (self.x, offset, rows - top - bottom, (top, bottom))
            else:  # the window lies in the padding, so rows <= pad <= 15: one zero row, padded
                load = (self.zeros, 0, 1, (rows - 1, 0))
            src, offset, valid, y_pad = load
            self.em.load_2d(MemType.INP, inp + c * rows * cols, src, offset,
                            valid, cols - left - right, s.row_pitch * s.w, y_pad, (left, right))
        kk = s.kh * s.kw
        self.em.load_2d(MemType.WGT, wgt, self.w, (oc0 * s.cb + c0) * kk, t.tco, t.tci * kk, s.cb * kk)

    def gemm(self, tile, c0, buf, half):
        s, t = self.s, self.t
        inp, wgt = self._buffers(buf)
        acc = self.acc.base(half)
        rows, cols, kk = s.kept_rows(t.th), s.in_cols(t.tw), s.kh * s.kw
        step = s.strides[0] // s.row_pitch * cols
        loops = (UopLoop(t.tco, t.th * t.tw, 0, t.tci * kk), UopLoop(t.th, t.tw, step))
        for c, kh, kw in product(range(t.tci), range(s.kh), range(s.kw)):
            src = inp + c * rows * cols + kh * cols + kw
            self.em.gemm(self._kernel(acc, src, wgt + c * kk + kh * s.kw + kw, loops))

    def _kernel(self, acc: int, src: int, wgt: int, loops: tuple[UopLoop, ...]) -> GemmKernel:
        """Uops over a tile's output columns; built once per distinct (acc, src, wgt) base."""
        key = (acc, src, wgt)
        if key not in self.kernels:
            uops = tuple(Uop(acc + ow, src + ow * self.s.strides[1], wgt) for ow in range(self.t.tw))
            self.kernels[key] = GemmKernel(uops, loops)
        return self.kernels[key]

    def bias(self, tile, half):
        oc0, rows = tile[3], self.t.th * self.t.tw
        return bias_kernel(self.acc.base(half), oc0, UopLoop(self.t.tco, rows, 1), UopLoop(rows, 1, 0))

    def units(self, tile):
        return self.t.tco

    def store(self, tile, half, plane, first, count):
        (n, oh0, ow0, oc0), s, t = tile, self.s, self.t
        base = self.acc.base(half) + first * t.th * t.tw
        offset, plane_size = ((n * s.ob + oc0 + first) * s.oh + oh0) * s.ow + ow0, s.oh * s.ow
        if t.tw == s.ow:  # whole rows: each channel block's rows are contiguous in DRAM
            self.em.store_2d(base, self.outs[plane], offset, count, t.th * s.ow, plane_size)
            return
        for co in range(count):
            self.em.store_2d(base + co * t.th * t.tw, self.outs[plane], offset + co * plane_size,
                             t.th, t.tw, s.ow)


def emit_conv2d(em: Emitter, x: DramBuffer, w: DramBuffer, bias: DramBuffer,
                outs: tuple[DramBuffer, ...], geom: ConvGeom, epilogue: tuple,
                threads: int = 2, tiling: ConvTiling | None = None) -> ConvTiling:
    """Emit outs = epilogue(conv2d(x, w) + bias) for packed DRAM buffers, in byte planes `outs`
    (one for int8, four for int32); `bias` holds one ACC element per output block.  `tiling`
    is one of `conv_tilings` (a searched schedule), by default the traffic model's best.
    Returns the tiling used."""
    s, cfg = geom, em.cfg
    acc = AccLayout(s.ob, threads, cfg.acc_depth, len(outs))
    if tiling is None:
        t = choose_conv_tiling(s, cfg, acc)
    elif tiling in fitting_tilings(s, cfg, acc):
        t = tiling
    else:
        raise LoweringError(f"vta_conv2d {s}: tiling {tiling} does not fit the buffers of {cfg.name} "
                            f"with {threads} virtual thread(s)")
    em.load_2d(MemType.ACC, 0, bias, 0, 1, s.ob, s.ob)
    tiles = [((n, oh0, ow0, oc0), range(0, s.cb, t.tci)) for n in range(s.nb)
             for oh0 in range(0, s.oh, t.th) for ow0 in range(0, s.ow, t.tw)
             for oc0 in range(0, s.ob, t.tco)]
    zeros = em.dram.alloc((s.w, cfg.batch, cfg.block_in), np.int8)
    run_pipeline(em, tiles, ConvOps(cfg, em, x, w, outs, s, t, acc, zeros), epilogue, acc)
    return t
