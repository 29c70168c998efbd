"""Device DRAM: a growable byte array with a bump allocator, shared by host code and simulator.

VTA instructions address DRAM in elements of their memory type (`byte address / elem bytes`),
so buffers are aligned to 4 KiB pages (larger when an element is larger), as the VTA driver does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frittata.backends.vta.hw.errors import AddressError

PAGE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DramBuffer:
    """A numpy array's image in DRAM: byte address, shape and dtype."""

    addr: int
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def elem_offset(self, elem_bytes: int) -> int:
        """The buffer's address in units of `elem_bytes` (what an instruction's dram_base holds)."""
        if self.addr % elem_bytes:
            raise AddressError(f"buffer at byte {self.addr:#x}: expected alignment to the "
                               f"{elem_bytes}-byte element, got remainder {self.addr % elem_bytes}")
        return self.addr // elem_bytes


class Dram:
    """Byte-addressed device memory.  `put` copies an array in, `get` copies it out."""

    def __init__(self, nbytes: int = 1 << 24) -> None:
        self.data = np.zeros(nbytes, dtype=np.uint8)
        self._top = 0

    @classmethod
    def restore(cls, image: np.ndarray) -> Dram:
        """A memory holding a copy of `image`, the bytes [0, top) of a saved one."""
        dram = cls(max(int(image.size), PAGE_BYTES))
        dram.data[:image.size] = image
        dram._top = int(image.size)
        return dram

    @property
    def top(self) -> int:
        """End of the allocated bytes."""
        return self._top

    def alloc(self, shape: tuple[int, ...], dtype, align: int = PAGE_BYTES) -> DramBuffer:
        """A zero-filled buffer aligned to `align` bytes (a power of two >= a page)."""
        align = max(align, PAGE_BYTES)
        addr = -(-self._top // align) * align
        buf = DramBuffer(addr, tuple(int(d) for d in shape), np.dtype(dtype))
        self._reserve(addr + buf.nbytes)
        self._top = addr + buf.nbytes
        self.data[addr:addr + buf.nbytes] = 0
        return buf

    def put(self, array: np.ndarray, align: int = PAGE_BYTES) -> DramBuffer:
        """Allocate a buffer holding a copy of `array`."""
        array = np.ascontiguousarray(array)
        buf = self.alloc(array.shape, array.dtype, align)
        self.data[buf.addr:buf.addr + buf.nbytes] = array.reshape(-1).view(np.uint8)
        return buf

    def get(self, buf: DramBuffer) -> np.ndarray:
        """A copy of the buffer's current contents as an array of its shape and dtype."""
        raw = self.data[buf.addr:buf.addr + buf.nbytes]
        return raw.view(buf.dtype).reshape(buf.shape).copy()

    def rows(self, byte_base: int, n_rows: int, row_bytes: int, pitch: int) -> np.ndarray:
        """A writable (n_rows, row_bytes) uint8 view of a strided 2-D DRAM region."""
        end = byte_base + (n_rows - 1) * pitch + row_bytes if n_rows else byte_base
        if byte_base < 0 or end > self._top:
            raise AddressError(f"DRAM access [{byte_base:#x}, {end:#x}): expected it inside "
                               f"the allocated [0, {self._top:#x})")
        return np.lib.stride_tricks.as_strided(
            self.data[byte_base:], shape=(n_rows, row_bytes), strides=(pitch, 1))

    def _reserve(self, nbytes: int) -> None:
        if nbytes > self.data.size:
            grown = np.zeros(max(nbytes, 2 * self.data.size), dtype=np.uint8)
            grown[:self.data.size] = self.data
            self.data = grown
