"""Vectorised GEMM micro-op execution: many (BATCH x BLOCK_IN) @ (BLOCK_IN x BLOCK_OUT) products
accumulated into the int32 accumulator with 32-bit wrap-around.

Each product row is a sum of BLOCK_IN int8 x int8 terms (|term| <= 2^14), so it is exact in
float32 while BLOCK_IN <= 2^10, and sums of such rows are exact in float64 below 2^53; the final
accumulation is done in int64 and wrapped.  Exact integer results, BLAS speed.
"""

from __future__ import annotations

import numpy as np

_FLOAT32_EXACT_BLOCK_IN = 1 << 10
_GROUPED_MIN_RUN = 8
"""Multiply per weight tile when tiles are reused this many times on average; else gather."""


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Indices where a run of equal keys begins in a sorted array (non-empty)."""
    changes = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate((np.zeros(1, dtype=changes.dtype), changes))


def gemm_products(inp: np.ndarray, wgt: np.ndarray, src: np.ndarray,
                  widx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(products, order): products[k] = INP[src[order[k]]] @ WGT[widx[order[k]]]^T as exact
    floats, shape (n, BATCH, BLOCK_OUT).  Executions sharing a weight tile are multiplied
    together in one BLAS call."""
    ftype = np.float32 if inp.shape[2] <= _FLOAT32_EXACT_BLOCK_IN else np.float64
    order = np.argsort(widx, kind="stable")
    sorted_w = widx[order]
    starts = _run_starts(sorted_w) if widx.size else np.zeros(0, dtype=np.int64)
    xs = inp[src[order]].astype(ftype)
    if starts.size * _GROUPED_MIN_RUN > widx.size:
        ws = wgt[sorted_w].astype(ftype)
        return np.matmul(xs, ws.transpose(0, 2, 1)), order
    bounds = np.append(starts, widx.size)
    if starts.size and (np.diff(bounds) == bounds[1]).all():  # every tile used equally often: one batched product
        tiles = wgt[sorted_w[starts]].astype(ftype)
        rows = xs.reshape(starts.size, -1, inp.shape[2])
        return np.matmul(rows, tiles.transpose(0, 2, 1)).reshape(widx.size, inp.shape[1], wgt.shape[1]), order
    products = np.empty((widx.size, inp.shape[1], wgt.shape[1]), dtype=ftype)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        tile = wgt[sorted_w[lo]].astype(ftype)
        products[lo:hi] = xs[lo:hi] @ tile.T
    return products, order


def scatter_add(acc: np.ndarray, dst: np.ndarray, products: np.ndarray) -> np.ndarray:
    """acc[dst[k]] += products[k] for every k, wrapping at 32 bits; returns the rows written."""
    order = np.argsort(dst, kind="stable")
    sorted_dst = dst[order]
    starts = _run_starts(sorted_dst)
    rows = sorted_dst[starts]
    if starts.size == dst.size:
        sums = products[order].astype(np.int64)
    else:
        sums = np.add.reduceat(products[order], starts, axis=0, dtype=np.float64)
        sums = sums.astype(np.int64)
    acc[rows] = (acc[rows].astype(np.int64) + sums).astype(np.int32)
    return rows


def gemm_accumulate(acc: np.ndarray, inp: np.ndarray, wgt: np.ndarray, dst: np.ndarray,
                    src: np.ndarray, widx: np.ndarray) -> np.ndarray:
    """Execute the GEMM micro-op stream (dst, src, widx); returns the ACC rows written."""
    if dst.size == 0:
        return dst
    products, order = gemm_products(inp, wgt, src, widx)
    return scatter_add(acc, dst[order], products)
