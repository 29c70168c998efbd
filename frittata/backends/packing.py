"""Weight layouts that kernels read, derived from a model's weights by named recipes.

A kernel may read its weights in a layout of its own (a Winograd kernel reads G g Gᵀ of every
filter, packed as GEMM panels: four times the bytes of the filters with F(4x4, 3x3); the int8
one int16 pairs of Gi g Giᵀ, 2 x 25 / 9 times the int8 filters' bytes with F(3x3, 3x3)). A module
file stores such a parameter as the model's weights and the recipe's name and arguments, and
the recipe runs again when the file is read; the recipes are pure numpy functions of their
source array, so compile and load derive the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from frittata.errors import ModuleFormatError
from frittata.terms.winograd import KERNEL, integer_transforms, transforms


ALIGN = 64
"""Bytes every array native code reads starts at a multiple of (a cache line, a zmm vector)."""


def aligned(nbytes: int, dtype: str = "uint8", shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A zeroed, ALIGN-aligned array of `nbytes` bytes (viewed as `dtype`, `shape`)."""
    raw = np.zeros(nbytes + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    array = raw[start:start + nbytes].view(dtype)
    return array.reshape(shape) if shape is not None else array


@dataclass(frozen=True)
class Derivation:
    """The parameter is `derive(recipe, source, args)`; `args` are ints (saved as JSON)."""

    recipe: str
    args: dict[str, int]
    source: np.ndarray


def panels(b_matrix: np.ndarray, nr: int) -> np.ndarray:
    """[..., K, N] -> [..., ceil(N/nr), K, nr] float32, zero-padded, ALIGN-aligned: a constant
    GEMM operand B packed in column panels of width nr."""
    *lead, k, n = b_matrix.shape
    count = -(-n // nr)
    padded = np.zeros((*lead, k, count * nr), np.float32)
    padded[..., :n] = b_matrix
    shape = (*lead, count, k, nr)
    out = aligned(int(np.prod(shape)) * 4, "float32", shape)
    out[...] = np.swapaxes(padded.reshape(*lead, k, count, nr), -3, -2)
    return out


def winograd_panels(w: np.ndarray, m: int, nr: int, c_pad: int) -> np.ndarray:
    """U = G g Gᵀ of every filter of `w` [O, C, 3, 3] for F(m x m, 3 x 3) as GEMM panels per
    transform position: [n², ceil(O/nr), c_pad, nr] float32 (C zero-padded to c_pad). The taps
    are packed first (the transform mixes taps, never filters, so it commutes with the packing),
    then two products write the panels, with no transposes of U: T = G g over the taps' rows
    ([n, 3] by [3, 3, ...]), then U = T Gᵀ over their columns straight into the aligned panels,
    162 multiply-adds per filter for F(4x4) (84 for F(2x2)) where one product with the 36 x 9 tap
    combination took 324. They are numpy's einsum loops in float32 (at most 3e-6 from the float64
    transform on normal(0, 1) filters, F(4x4)): a BLAS product's threads took two to ten times as
    long for these shapes on a busy 2-core machine."""
    o, c = w.shape[:2]
    o_pad = -(-o // nr) * nr
    filters = w.reshape(o, c, 9)
    if (o_pad, c_pad) != (o, c):
        filters = np.zeros((o_pad, c_pad, 9), np.float32)
        filters[:o, :c] = w.reshape(o, c, 9)
    packed = np.ascontiguousarray(filters.reshape(o_pad // nr, nr, c_pad, 9).transpose(3, 0, 2, 1))
    g = transforms(m)[1].astype(np.float32)
    n = g.shape[0]
    rows = np.einsum("ir,rsx->isx", g, packed.reshape(KERNEL, KERNEL, -1))
    out = aligned(n * n * packed[0].nbytes, "float32", (n * n, *packed.shape[1:]))
    np.einsum("js,isx->ijx", g, rows, out=out.reshape(n, n, -1))
    return out


def int8_winograd_panels(w: np.ndarray, m: int, nr: int, c_pad: int) -> np.ndarray:
    """[O, C, 3, 3] int8 -> U [O_pad / NR][n²][c_pad / 2][NR] int32 for the exact integer F(m x m,
    3 x 3) (`integer_transforms`), each the int16 pair (U[2p], U[2p + 1]) of Gi g Giᵀ at one
    position (zero-padded), computed in int64: exact."""
    t = integer_transforms(m)
    o, c = w.shape[:2]
    o_pad, n2 = -(-o // nr) * nr, (m + 2) ** 2
    u = np.zeros((o_pad, c_pad, n2), np.int64)
    u[:o, :c] = np.einsum("ik,ockl,jl->ocij", t.g, w.astype(np.int64), t.g).reshape(o, c, n2)
    wide = u.astype(np.int16).view(np.uint16).astype(np.uint32)
    pairs = wide[:, 0::2] | (wide[:, 1::2] << 16)  # [O_pad, c_pad / 2, n²]
    shape = (o_pad // nr, n2, c_pad // 2, nr)
    out = aligned(int(np.prod(shape)) * 4, "int32", shape)
    out[...] = pairs.reshape(o_pad // nr, nr, c_pad // 2, n2).transpose(0, 3, 2, 1).view(np.int32)
    return out


RECIPES: dict[str, Callable[..., np.ndarray]] = {"winograd-panels": winograd_panels,
                                                 "int8-winograd-panels": int8_winograd_panels}
"""Every recipe a module file may name. A recipe's meaning never changes under its name: a
changed layout gets a new name, so an older file still derives what its kernels read."""


def derive(recipe: str, source: np.ndarray, args: dict[str, int]) -> np.ndarray:
    """The parameter `recipe` makes of `source`; an unknown recipe (a file from a newer version)
    is a ModuleFormatError."""
    if recipe not in RECIPES:
        raise ModuleFormatError(f"module: expected a weight recipe in {sorted(RECIPES)}, got {recipe!r} "
                                f"(saved by a newer frittata?)")
    return RECIPES[recipe](source, **args)
