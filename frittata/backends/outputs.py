"""The output arrays a module's runs return: ALIGN-aligned, and recycled once the caller drops them.

`run` returns fresh arrays the caller owns: the next run never writes into an array the caller
still holds (or any view of it). But fresh pages cost: a megabytes-large output allocated per
run is page-faulted anew each time (measured, on matmul 1024 and a 1x1 convolution at 56x56:
2.4-5.6% of the run's CPU time), and numpy aligns only to 16 bytes. So each output name keeps the
last `KEEP` arrays it handed out; a run takes one of them again when nothing outside the pool
refers to it any more: neither the array nor the buffer that owns its memory (every view of the
array, a memoryview or a ctypes object over it, holds one of the two). Under CPython's reference
counting that proves the caller can no longer reach the memory. A loop `out = mod.run(...)`
alternates between two arrays (the previous result is still bound while the next run executes);
a caller keeping every result gets a fresh array each time, as before.
"""

from __future__ import annotations

import sys

import numpy as np

from frittata.backends.packing import ALIGN
from frittata.terms.dtypes import TensorType

KEEP = 2
"""Arrays remembered per output: the ones handed out last, whether or not the caller holds them."""


def aligned_empty(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """An uninitialized ALIGN-aligned array: a view of a larger byte buffer that owns the memory."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


class _Kept:
    """One array handed out, and the buffer that owns its memory."""

    __slots__ = ("array", "owner")

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.owner = array.base

    def counts(self) -> tuple[int, int]:
        """Reference counts of the array and its owner (the pool's own references included)."""
        return sys.getrefcount(self.array), sys.getrefcount(self.owner)


class OutputPool:
    """`take(name)`: an array for output `name` that no caller can reach (see the module docstring)."""

    def __init__(self, outputs: dict[str, TensorType]) -> None:
        self._types = outputs
        self._kept: dict[str, list[_Kept]] = {name: [] for name in outputs}
        self._probe = _Kept(aligned_empty((1,), "uint8"))
        """Never handed out: its counts are those of an array only the pool refers to, taken by
        the same code (no interpreter's own count of a call's references is assumed)."""

    def take(self, name: str) -> np.ndarray:
        kept, alone = self._kept[name], self._probe.counts()
        for i, entry in enumerate(kept):
            if entry.counts() == alone:
                kept.append(kept.pop(i))
                return entry.array
        ttype = self._types[name]
        array = aligned_empty(ttype.shape, ttype.dtype)
        kept.append(_Kept(array))
        del kept[:-KEEP]
        return array
