"""The byte-quad form of the int8 convolution kernel (`int8conv`) on CPUs with AVX-512 VNNI
(`cpu_geometry.byte_quads`): 4 channels in each int32 lane, one vpdpbusd a multiply-add of 4.

vpdpbusd multiplies unsigned bytes by signed ones, so the packed input holds x + 128 (x xor
0x80: 0..255) and the weights stay signed; then acc = Σ (x + 128) w = Σ x w + 128 Σ w, and the
constant 128 Σ w of each output channel (over all its taps, the padding's included: a pad is
x = 0, packed as 0x80) comes off with the bias, folded into one `compensated_bias` at compile
time. A channel past C (a partial last quad) has zero weights. No product or sum saturates
(|(x + 128) w| <= 2^15; vpdpbusd adds the four into the lane without saturation, wrapping), and
the wrapped sum less the wrapped compensation is the exact int32 result wherever that fits, as
with int16 pairs."""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.irutil import I32, intrinsic

QUAD = 4
"""Channels per int32 lane."""
FILL = 0x80808080 - (1 << 32)
"""An int32 of four packed zeros (x = 0 is the byte 0x80), as LLVM's signed constant."""


def pack_quads(w: np.ndarray, mr: int, quads: int) -> np.ndarray:
    """[O, C, KH, KW] int8 -> [ceil(O/mr), quads x KH x KW, mr] int32 of 4 signed bytes, channel
    4q + j in byte j (zero past C and past O), quad index major, then the taps."""
    o, c, kh, kw = w.shape
    blocks = -(-o // mr)
    wide = np.zeros((blocks * mr, QUAD * quads, kh * kw), np.int8)
    wide[:o, :c] = w.reshape(o, c, kh * kw)
    grouped = wide.reshape(blocks * mr, quads, QUAD, kh * kw).transpose(0, 1, 3, 2)  # [o][q][tap][byte]
    words = np.ascontiguousarray(grouped).view(np.int32).reshape(blocks, mr, quads * kh * kw)
    return np.ascontiguousarray(words.transpose(0, 2, 1))


def compensated_bias(w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """bias - 128 Σ w per output channel (taps and channels summed), wrapped to int32."""
    total = -128 * w.astype(np.int64).reshape(w.shape[0], -1).sum(1)
    if bias is not None:
        total += bias.astype(np.int64)
    return ((total + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def byte(b: ir.IRBuilder, value):
    """An int8 x as the unsigned byte x + 128 in the low 8 bits of an i32."""
    return b.zext(b.xor(value, ir.Constant(ir.IntType(8), 0x80)), I32)


def dot(b: ir.IRBuilder, acc, x, w, lanes: int):
    """vpdpbusd: acc + the sum of each lane's 4 products of x's unsigned bytes by w's signed ones
    (16 int32 lanes: a zmm register; 8: a ymm one, AVX512-VL)."""
    assert lanes in (8, 16), f"int8quads.dot: expected 8 or 16 int32 lanes, got {lanes}"
    quads = ir.VectorType(ir.IntType(8), 4 * lanes)
    vec = ir.VectorType(I32, lanes)
    fn = intrinsic(b.module, f"llvm.x86.avx512.vpdpbusd.{32 * lanes}", vec, [vec, quads, quads])
    return b.call(fn, [acc, b.bitcast(x, quads), b.bitcast(w, quads)])
