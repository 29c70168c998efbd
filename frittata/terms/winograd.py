"""Winograd convolution: a 3x3 stride-1 `fused_conv2d` computed on m x m output tiles.

`winograd_conv2d(x, w, b, [r], ..., epilogue, tile=m)` has the operands, attributes and meaning
of `fused_conv2d` (its expansion is that op); `tile` says a CPU backend computes it with the
minimal filtering algorithm F(m x m, 3 x 3): per (m + 2) x (m + 2) input tile d and filter g,

    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A

so a tile costs (m + 2)² multiplies per input channel instead of 9 m². The kernel must be
3 x 3, strides and dilations 1, groups 1; float32 (`tile` 2 or 4), or int8 x and w with an int32
bias (`tile` 2 or 3, computed exactly in integers: `integer_transforms`).

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
from dataclasses import dataclass
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
    3: (Fraction(0), Fraction(1), Fraction(-1), Fraction(2)),
    4: (Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-1, 2)),
}
"""The finite interpolation points of F(m, 3), by output tile m (infinity is the last point).
F(4, 3) takes ±1/2 rather than ±2: as many nonzero coefficients, and a smaller float32 error
(max error over max output of 1000 random 64-channel tiles: 5.1e-6 vs 6.5e-6). F(3, 3) is one
of the exact integer forms (`INTEGER_TILES`)."""
FLOAT_TILES = (2, 4)
"""The tiles of the float32 form."""
INTEGER_TILES = (2, 3)
"""The tiles of the exact int8 form (`integer_transforms`): their output transform divides by
4 x an odd number, so an int32 result is exact up to |y| < 2^29; F(4, 3) divides by 576 = 2^6 x
9, exact only up to |y| < 2^25, which 227 input channels of int8 can pass."""
INT8_PRODUCT = 1 << 14
"""|x w| at most for int8 x and w (-128 x -128)."""


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


@dataclass(frozen=True)
class IntegerTransforms:
    """F(m, 3) in integers, for int8 data: y = ((E M Eᵀ) * odd⁻¹ mod 2^32) >> shift, with
    M = Σ_c (Gi g Giᵀ) ⊙ (Bᵀ d B) over the input channels (int16 operands, int32 sums).

    Gi is G with each row scaled to coprime integers (row i by d_i), and E = s Aᵀ D⁻¹ with s the
    least common multiple of its denominators, so E M Eᵀ = s² y. Every step is a ring
    operation, so int32 arithmetic that wraps computes s² y mod 2^32 exactly; s² = 2^shift x odd,
    and multiplying by odd's inverse mod 2^32 leaves 2^shift y mod 2^32, which is 2^shift y
    itself, and an arithmetic shift then y, while |y| < 2^(31 - shift) (`exact_channels`)."""

    e: np.ndarray
    g: np.ndarray
    bt: np.ndarray
    shift: int
    inverse: int
    """odd⁻¹ mod 2^32, as a signed int32."""

    def v_bound(self) -> int:
        """|Bᵀ d B| at most for int8 d: the largest row's absolute sum, squared, times 128."""
        return int(np.abs(self.bt).sum(1).max()) ** 2 * 128

    def u_bound(self) -> int:
        """|Gi g Giᵀ| at most for int8 g."""
        return int(np.abs(self.g).sum(1).max()) ** 2 * 128


@cache
def integer_transforms(m: int) -> IntegerTransforms:
    """The exact integer F(m, 3) (`IntegerTransforms`) from `POINTS[m]`."""
    points, n = POINTS[m], m + KERNEL - 1
    vm, inverse = _vandermonde(points, m), _inverse(_vandermonde(points, n))
    bt = [[inverse[j][i] for j in range(n)] for i in range(n)]
    scales = [_row_scale(row) for row in bt]
    bt = [[v * scale for v in row] for row, scale in zip(bt, scales)]
    g = [[v / scale for v in row] for row, scale in zip(_vandermonde(points, KERNEL), scales)]
    d = [_row_scale(row) for row in g]
    at = [[vm[j][i] for j in range(n)] for i in range(m)]
    e = [[at[r][i] / d[i] for i in range(n)] for r in range(m)]
    s = math.lcm(*(v.denominator for row in e for v in row))
    square, shift = s * s, 0
    while square % 2 == 0:
        square, shift = square // 2, shift + 1
    odd_inverse = pow(square, -1, 1 << 32)
    as_int = lambda rows, k: np.array([[int(v * k) for v in row] for row in rows], np.int64)  # noqa: E731
    gi = np.array([[int(v * d[i]) for v in row] for i, row in enumerate(g)], np.int64)
    t = IntegerTransforms(as_int(e, s), gi, as_int(bt, 1), shift, odd_inverse - (1 << 32) * (odd_inverse >= 1 << 31))
    assert t.v_bound() < 1 << 15 and t.u_bound() < 1 << 15 and 2 * t.v_bound() * t.u_bound() < 1 << 31
    return t


def exact_channels(m: int) -> int:
    """Input channels the integer F(m, 3) is exact for, at most: |y| <= C x 9 x 2^14 must stay
    below 2^(31 - shift)."""
    return ((1 << (31 - integer_transforms(m).shift)) - 1) // (KERNEL * KERNEL * INT8_PRODUCT)


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
    if types and types[0].dtype == "int8":
        _check_integer(op, types, attrs)
    elif any(t.dtype != "float32" for t in types):
        raise fail(op, "float32 operands, or int8 x and w", tuple(t.dtype for t in types))
    elif attrs["tile"] not in FLOAT_TILES:
        raise fail(op, f"a float32 tile in {FLOAT_TILES}", attrs["tile"])


def _check_integer(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    """The exact int8 form: int8 x and w, no residual, a tile of `INTEGER_TILES` and few enough
    channels (`exact_channels`)."""
    if [t.dtype for t in types] != ["int8", "int8", "int32"]:
        raise fail(op, "int8 x and w and an int32 bias, no residual", tuple(t.dtype for t in types))
    if attrs["tile"] not in INTEGER_TILES:
        raise fail(op, f"an int8 tile in {INTEGER_TILES}", attrs["tile"])
    if types[0].rank == 4 and types[0].shape[1] > exact_channels(attrs["tile"]):
        raise fail(op, f"at most {exact_channels(attrs['tile'])} input channels (exact int8 form)", types[0].shape[1])


TILE = Attr("tile", int, normalize=as_int, choices=lambda x: sorted(POINTS))
WINOGRAD_CONV2D = define("winograd_conv2d", Arity(3, 4), infer_by_expansion(_check), classes=("kernel",),
                         attrs=CONV_ATTRS + (EPILOGUE, TILE), expand=_plain, cost=Cost.CONTRACTION)
