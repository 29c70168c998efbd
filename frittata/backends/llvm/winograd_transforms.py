"""What both Winograd kernels share: the grid of m x m output tiles over the image and its padded
input (`WinogradGrid`), the transform arithmetic they emit (a matrix applied on both sides of a
tile of vectors) and a tile's origin in the output image.

The float kernel (`winograd`) and the exact integer one (`int8winograd`) differ only in the
instructions: float vectors use fmul / fadd / fsub / fneg, integer vectors wrapping mul / add /
sub / neg. A coefficient of 0 emits nothing and ±1 emits an add or a subtract, so the sandwich
costs only the transform's nonzero entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.conv_shape import ConvShape
from frittata.backends.llvm.irutil import i64
from frittata.terms.winograd import block_count, tile_count


@dataclass(frozen=True)
class WinogradGrid(ConvShape):
    """A 3x3 stride-1 convolution cut into m x m output tiles, `block` tiles to a block; each
    kernel adds its vector and GEMM blocking."""

    m: int
    block: int

    @property
    def side(self) -> int:
        """Input tile side m + 2."""
        return self.m + 2

    @property
    def positions(self) -> int:
        return self.side * self.side

    @property
    def th(self) -> int:
        return -(-self.oh // self.m)

    @property
    def tw(self) -> int:
        return -(-self.ow // self.m)

    @property
    def tiles(self) -> int:
        return tile_count(self.oh, self.ow, self.m)

    @property
    def blocks(self) -> int:
        return block_count(self.tiles, self.block)

    @property
    def hp(self) -> int:
        return self.th * self.m + 2

    @property
    def wp(self) -> int:
        return self.tw * self.m + 2


def combine(b: ir.IRBuilder, coefficients, values, vec: ir.VectorType):
    """Σ coefficients[i] * values[i] over the nonzero coefficients, in `vec`'s arithmetic."""
    is_float = isinstance(vec.element, ir.FloatType)
    total = None
    for coefficient, value in zip(coefficients, values):
        if coefficient == 0:
            continue
        if abs(coefficient) != 1:
            if is_float:
                value = b.fmul(value, ir.Constant(vec, [float(abs(coefficient))] * vec.count))
            else:
                value = b.mul(value, ir.Constant(vec, [int(abs(coefficient))] * vec.count))
        if total is None:
            total = value if coefficient > 0 else (b.fneg(value) if is_float else b.neg(value))
        elif is_float:
            total = b.fadd(total, value) if coefficient > 0 else b.fsub(total, value)
        else:
            total = b.add(total, value) if coefficient > 0 else b.sub(total, value)
    if total is not None:
        return total
    return ir.Constant(vec, [0.0 if is_float else 0] * vec.count)


def sandwich(b: ir.IRBuilder, left: np.ndarray, tile: list[list], vec: ir.VectorType) -> list[list]:
    """left · tile · leftᵀ on a grid of vectors: rows first, then columns."""
    rows = [[combine(b, coeffs, [tile[i][j] for i in range(len(tile))], vec) for j in range(len(tile[0]))]
            for coeffs in left]
    return [[combine(b, coeffs, row, vec) for coeffs in left] for row in rows]


def tile_origin(b: ir.IRBuilder, tiles_wide: int, m: int, tile):
    """(first output row, first output column) of tile `tile` of a grid `tiles_wide` tiles wide,
    each m x m outputs."""
    return b.mul(b.udiv(tile, i64(tiles_wide)), i64(m)), b.mul(b.urem(tile, i64(tiles_wide)), i64(m))
