"""Winograd convolution: a 3x3 stride-1 `fused_conv2d` computed on m x m output tiles.

`winograd_conv2d(x, w, b, [r], ..., epilogue, tile=m)` has the operands, attributes and meaning
of `fused_conv2d` (its expansion is that op); `tile` says a CPU backend computes it with the
minimal filtering algorithm F(m x m, 3 x 3): per (m + 2) x (m + 2) input tile d and filter g,

    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A

so a tile costs (m + 2)² multiplies per input channel instead of 9 m². The kernel must be
3 x 3, strides and dilations 1, groups 1, float32; `tile` is 2 or 4.

The matrices are generated (`transforms`) from the interpolation points of `POINTS` plus the
point at infinity, by Toom-Cook: with Vandermonde matrices V_k (rows [1, p, ..., p^(k-1)] per
finite point, e_(k-1) for infinity) and n = m + 2 points, linear convolution is
s = V_n⁻¹ [(V_3 g) ⊙ (V_m h)]; correlation is its transpose, y = V_mᵀ [(V_3 g) ⊙ (V_n⁻ᵀ d)],
hence Aᵀ = V_mᵀ, G = V_3, Bᵀ = V_n⁻ᵀ. Each row i of Bᵀ is then scaled by the least common
multiple of its denominators (over the gcd of its numerators) and row i of G by the inverse,
which leaves the product unchanged and makes Bᵀ integer (the input transform's adds).

The CPU kernel's blocking is counted here once for the kernel, its cost and the tuner: an
image's `tile_count` tiles in `block_count` blocks of `tile_block` tiles, and `shares_v`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np

from frittata.terms.attr_forms import as_int
from frittata.terms.contractions import CONV_ATTRS
from frittata.terms.dtypes import TensorType
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.infer import fail
from frittata.terms.kernels import EPILOGUE, Epilogue, fused_conv2d
from frittata.terms.ops import Arity, Attr, Cost, Op, define
from frittata.terms.term import Term

__all__ = ["winograd_conv2d"]

KERNEL = 3
"""The filter size every Winograd form here computes (3 x 3)."""
POINTS: dict[int, tuple[Fraction, ...]] = {
    2: (Fraction(0), Fraction(1), Fraction(-1)),
    4: (Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-1, 2)),
}
"""The finite interpolation points of F(m, 3), by output tile m (infinity is the last point).
F(4, 3) takes ±1/2 rather than ±2: as many nonzero coefficients, and a smaller float32 error
(max error over max output of 1000 random 64-channel tiles: 5.1e-6 vs 6.5e-6)."""


def _vandermonde(points: tuple[Fraction, ...], columns: int) -> list[list[Fraction]]:
    """Rows [1, p, ..., p^(columns-1)] per finite point, then e_(columns-1) for infinity."""
    rows = [[p ** k for k in range(columns)] for p in points]
    return rows + [[Fraction(int(k == columns - 1)) for k in range(columns)]]


def _inverse(matrix: list[list[Fraction]]) -> list[list[Fraction]]:
    """Exact Gauss-Jordan inverse (the matrix is a Vandermonde one with distinct points: invertible)."""
    n = len(matrix)
    rows = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [row[n:] for row in rows]


def _row_scale(row: list[Fraction]) -> Fraction:
    """The factor that makes `row` integer with coprime entries."""
    denominators = math.lcm(*(v.denominator for v in row))
    numerators = math.gcd(*(int(v * denominators) for v in row))
    return Fraction(denominators, numerators or 1)


@cache
def transforms(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Aᵀ [m, n], G [n, 3], Bᵀ [n, n]) of F(m, 3) as float64, n = m + 2 (module docstring)."""
    points = POINTS[m]
    n = m + KERNEL - 1
    g = _vandermonde(points, KERNEL)
    vm = _vandermonde(points, m)
    inverse = _inverse(_vandermonde(points, n))
    bt = [[inverse[j][i] for j in range(n)] for i in range(n)]
    for i in range(n):
        scale = _row_scale(bt[i])
        bt[i] = [v * scale for v in bt[i]]
        g[i] = [v / scale for v in g[i]]
    at = [[vm[j][i] for j in range(n)] for i in range(m)]
    return tuple(np.array([[float(v) for v in row] for row in mat]) for mat in (at, g, bt))  # type: ignore[return-value]


def tile_count(oh: int, ow: int, m: int) -> int:
    """The m x m output tiles of an OH x OW image: ceil(OH/m) x ceil(OW/m) (the last row and
    column of tiles may cross the image's edge)."""
    return math.ceil(oh / m) * math.ceil(ow / m)


def block_count(tiles: int, tile_block: int) -> int:
    """Blocks of `tile_block` tiles covering `tiles` (the last may be partial)."""
    return math.ceil(tiles / tile_block)


def shares_v(blocks: int, groups: int) -> bool:
    """Whether the CPU kernel computes an image's transformed input V once for the team: a single
    block of several output-channel groups, the threads sharing its (tile, vector) pairs before
    the items, where each (block, group) item would recompute the whole block's V."""
    return blocks == 1 and groups > 1


def winograd_conv2d(x: Term, w: Term, bias: Term, *residual: Term, pads=(0, 0, 0, 0), epilogue: Epilogue = (),
                    tile: int, strides=(1, 1), dilations=(1, 1), groups: int = 1) -> Term:
    """`fused_conv2d` computed with Winograd F(tile x tile, 3 x 3) (see the module docstring); same type."""
    plain = fused_conv2d(x, w, bias, *residual, strides=strides, pads=pads, dilations=dilations, groups=groups,
                         epilogue=epilogue)
    return Term.make(WINOGRAD_CONV2D, plain.args, plain.attrs + (("tile", as_int(tile, None)),))


def _plain(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    conv = {k: v for k, v in attrs.items() if k != "tile"}
    return fused_conv2d(*args, **conv)


def _check(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    """The Winograd form's own conditions (the fused op checks the rest)."""
    if attrs["tile"] not in POINTS:
        raise fail(op, f"tile in {tuple(POINTS)}", attrs["tile"])
    if len(types) > 1 and types[1].rank == 4 and types[1].shape[2:] != (KERNEL, KERNEL):
        raise fail(op, f"a {KERNEL}x{KERNEL} kernel", types[1])
    for name, want in (("strides", (1, 1)), ("dilations", (1, 1)), ("groups", 1)):
        if attrs[name] != want:
            raise fail(op, f"{name} {want}", attrs[name])
    if any(t.dtype != "float32" for t in types):
        raise fail(op, "float32 operands", tuple(t.dtype for t in types))


TILE = Attr("tile", int, normalize=as_int, choices=lambda x: sorted(POINTS))
WINOGRAD_CONV2D = define("winograd_conv2d", Arity(3, 4), infer_by_expansion(_check), classes=("kernel",),
                         attrs=CONV_ATTRS + (EPILOGUE, TILE), expand=_plain, cost=Cost.CONTRACTION)
