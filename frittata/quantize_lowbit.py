"""Low-bit quantization: `quantize(program, calibration, bits={"weights": W, "activations": A})`.

Every conv / dense layer except the first and the last (which stay int8, as Riptide and TVM's
low-precision work keep them) gets W-bit bipolar weights and A-bit unsigned activations, with
power-of-two scales so that all glue between layers is integer (shift, clip, cast; no float):

  weights      w ≈ (2c - (2^W - 1)) * 2^e_w with codes c in [0, 2^W) (1 bit: sign(w) * 2^e_w,
               2^e_w the power of two nearest mean |w|, as XNOR-Net scales by mean |w|);
               stored as bitunpack(bitpack(codes)): the packing of the parameter is folded at
               compile time, the unpacking is what the contraction sees
  activations  a = cast(clip(v, 0, 2^A - 1), int8) standing for a * 2^e (a uniform quantizer
               over [0, peak]); from float, v = round(x * 2^-e); from an int8 or other low-bit
               tensor q at exponent e_q <= e, v = right_shift(q, e - e_q)
  layer        [relu] -> cast(clip(right_shift(contraction(a, w) + bq, k), 0, 2^A - 1), int8)
               (the clip at 0 is the relu); a layer without relu gives signed int8 as before.

That activation form is exactly what the `lowbit` rules look for: such a conv2d / dense becomes
bitserial_conv2d / bitserial_dense over the packed words. Max pools (and reshapes) of a
quantized tensor stay integer; residual adds are the int8 path's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from frittata.errors import FrittataError
from frittata.terms.ops import Op

WEIGHT_BITS = (1, 2)
ACTIVATION_BITS = (1, 2, 3, 4)
INTEGER_PASS = (Op.MAX_POOL2D, Op.RESHAPE)
"""Ops applied to a quantized tensor as they are (max commutes with the quantizer)."""


def check_bits(bits: Mapping[str, int]) -> tuple[int, int]:
    """(weight bits, activation bits) of a `bits` dict, or FrittataError naming the valid ones."""
    if set(bits) != {"weights", "activations"}:
        raise FrittataError(f"quantize: expected bits with keys 'weights' and 'activations', got {sorted(bits)}")
    w, a = bits["weights"], bits["activations"]
    if w not in WEIGHT_BITS or a not in ACTIVATION_BITS:
        raise FrittataError(f"quantize: expected weight bits in {WEIGHT_BITS} and activation bits in "
                            f"{ACTIVATION_BITS}, got weights={w!r}, activations={a!r}")
    return w, a


def weight_codes(weight: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """(codes in [0, 2^bits), e_w): w ≈ (2c - (2^bits - 1)) * 2^e_w, 2^e_w near mean |w| / 2^(bits-1)."""
    levels = (1 << bits) - 1
    mean = float(np.abs(weight).mean()) if weight.size else 1.0
    e_w = round(math.log2(max(mean, 1e-30) / (1 << (bits - 1))))
    codes = np.clip(np.rint((weight * 2.0 ** -e_w + levels) / 2), 0, levels)
    return codes.astype(np.int8), e_w


def unsigned_exponent(peak: float, hi: int) -> int:
    """The smallest e with peak <= hi * 2^e."""
    return math.ceil(math.log2(max(peak, 1e-30) / hi))
