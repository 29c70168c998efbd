"""The output layout of an accelerator call: one int8 plane per byte of the output dtype.

An int8 result is one plane; an int32 result is four planes, plane k holding byte k (the k-th
STORE after k ALU shifts right by 8), reassembled as little-endian two's complement. Lowering
writes this layout and a built or loaded module reads it back.
"""

from __future__ import annotations

import numpy as np

from frittata.backends.vta.hw.dram import Dram, DramBuffer


def plane_buffers(out: DramBuffer) -> tuple[DramBuffer, ...]:
    """The planes of an output buffer [planes, *shape] as separate int8 buffers."""
    shape = out.shape[1:]
    size = int(np.prod(shape, dtype=np.int64))
    return tuple(DramBuffer(out.addr + k * size, shape, np.dtype(np.int8)) for k in range(out.shape[0]))


def join_bytes(planes: np.ndarray) -> np.ndarray:
    """int32 from its four byte planes (byte 0 first), two's complement."""
    b = planes.view(np.uint8).astype(np.uint32)
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)).view(np.int32)


def read_planes(dram: Dram, out: DramBuffer, dtype: str) -> np.ndarray:
    """The result in `out` as `dtype` (int8 or int32), reassembled from its byte planes."""
    planes = dram.get(out)
    return planes[0] if dtype == "int8" else join_bytes(planes)
