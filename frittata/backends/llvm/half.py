"""float16 in the LLVM backend: stored as its 16 bits (an i16), computed in float32.

LLVM's own `half` conversions become calls into compiler-rt (`__truncsfhf2`, ...) on x86
targets without F16C, and the JIT resolves no such symbol, so both directions are integer
code here: widening is exact, narrowing rounds to nearest even as numpy's `astype` does, with
overflow to infinity, gradual underflow to subnormals and zero, and NaN kept a (quiet) NaN.
"""

from __future__ import annotations

from llvmlite import ir

from frittata.backends.llvm.irutil import F32, F64, I16, I32

HALF_MANTISSA, HALF_BIAS = 10, 15
FORMATS = {F32: (32, 8, 23), F64: (64, 11, 52)}
"""Each float type's (width, exponent bits, mantissa bits)."""


def widen(b: ir.IRBuilder, bits: ir.Value) -> ir.Value:
    """The float32 value of float16 `bits` (exact): the magnitude's bits moved into float32's
    places and scaled by 2^112 (normal and subnormal halves alike), infinities and NaNs given
    float32's all-ones exponent, then the sign."""
    h = b.zext(bits, I32)
    moved = b.shl(b.and_(h, ir.Constant(I32, 0x7FFF)), ir.Constant(I32, 13))
    scaled = b.bitcast(b.fmul(b.bitcast(moved, F32), ir.Constant(F32, 2.0 ** 112)), I32)
    special = b.icmp_unsigned("==", b.and_(h, ir.Constant(I32, 0x7C00)), ir.Constant(I32, 0x7C00))
    magnitude = b.select(special, b.or_(moved, ir.Constant(I32, 0x7F800000)), scaled)
    sign = b.shl(b.and_(h, ir.Constant(I32, 0x8000)), ir.Constant(I32, 16))
    return b.bitcast(b.or_(magnitude, sign), F32)


def narrow(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """float16 bits of the float32 or float64 `x`, rounded to nearest even in one step."""
    width, exponent_bits, mantissa_bits = FORMATS[x.type]
    it = ir.IntType(width)

    def c(value: int) -> ir.Constant:
        return ir.Constant(it, value)

    bits = b.bitcast(x, it)
    magnitude = b.and_(bits, c((1 << (width - 1)) - 1))
    top = (1 << exponent_bits) - 1
    exponent = b.lshr(magnitude, c(mantissa_bits))
    mantissa = b.and_(magnitude, c((1 << mantissa_bits) - 1))
    half_exponent = b.sub(exponent, c(top // 2 - HALF_BIAS))
    drop = mantissa_bits - HALF_MANTISSA
    normal = _round(b, b.or_(b.shl(half_exponent, c(HALF_MANTISSA)), b.lshr(mantissa, c(drop))),
                    b.and_(mantissa, c((1 << drop) - 1)), c(1 << (drop - 1)), c)
    shift = b.sub(c(drop + 1), half_exponent)
    shift = b.select(b.icmp_signed(">", shift, c(mantissa_bits + 2)), c(mantissa_bits + 2), shift)
    full = b.or_(mantissa, c(1 << mantissa_bits))
    subnormal = _round(b, b.lshr(full, shift), b.and_(full, b.sub(b.shl(c(1), shift), c(1))),
                       b.shl(c(1), b.sub(shift, c(1))), c)
    value = b.select(b.icmp_signed(">=", half_exponent, c(1)), normal, subnormal)
    value = b.select(b.icmp_signed(">=", half_exponent, c(31)), c(0x7C00), value)
    nan = b.and_(b.icmp_unsigned("==", exponent, c(top)), b.icmp_unsigned("!=", mantissa, c(0)))
    value = b.select(nan, c(0x7E00), value)
    sign = b.lshr(b.and_(bits, c(1 << (width - 1))), c(width - 16))
    return b.trunc(b.or_(value, sign), I16)


def _round(b: ir.IRBuilder, value: ir.Value, rest: ir.Value, halfway: ir.Value, c) -> ir.Value:
    """value + 1 when the dropped bits `rest` are past halfway, or at it with value odd (a carry
    into the exponent is the right result, up to infinity)."""
    odd = b.icmp_unsigned("!=", b.and_(value, c(1)), c(0))
    up = b.or_(b.icmp_unsigned(">", rest, halfway), b.and_(b.icmp_unsigned("==", rest, halfway), odd))
    return b.add(value, b.zext(up, value.type))
