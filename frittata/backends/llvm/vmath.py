"""Branch-free float32 exp, tanh, erf and sigmoid in LLVM IR, so loops of them vectorize.

Each takes a float32 value or a vector of them (the blocked kernels' epilogues call them on
whole registers) and builds its constants and intrinsics at that type.

libm calls (`expf`, `tanhf`, `erf`) stop LLVM's loop vectorizer; these are straight-line
polynomials with selects instead of branches, so the vectorizer turns a loop over them into
<8 x float> (AVX2) or <16 x float> (AVX-512) code. Accuracy: a few ulp (relative ~1e-6 or
better) on the whole float range, checked against the interpreter in tests.

  exp:   x = n ln2 + r, |r| <= ln2/2 (Cody-Waite, two-part ln2); e^r by a degree-6 polynomial
         (Cephes expf); 2^n as two factors built in the exponent bits (subnormal results round
         gradually). Clamped to [-104, 88.72], +inf above.
  tanh:  |x| < 0.625: x + x^3 P(x^2) (Cephes tanhf); else sign(x) (1 - 2 / (e^(2|x|) + 1)).
  erf:   x clamped to [-4, 4]; x P(x^2) / Q(x^2), a rational minimax fit (Eigen's float erf).
  sigmoid: 1 / (1 + e^(-x)), 0 below x = -88 and x clamped to at most 88, so e^(-x) needs one
         exponent factor; n = round(-x / ln2) by adding 1.5 * 2^23 + 127, whose low bits are
         then the exponent bits of 2^n (no float-to-int conversion, so a NaN stays a NaN);
         e^(-x - n ln2) by a degree-6 minimax polynomial in s = x + n ln2 (no negation);
         1 + e^(-x) by one FMA. The divide may become a reciprocal estimate refined by one Newton
         step (`arcp`: vrcpps on AVX2, vrcp14ps on AVX-512; x86 keeps a true divide for
         scalars), within a few ulp as well.
"""

from __future__ import annotations

import math

from llvmlite import ir

from frittata.backends.llvm.irutil import F32, I32, intrinsic
from frittata.terms.activations import HARD_SWISH_ALPHA, HARD_SWISH_BETA

EXP_P = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)
TANH_P = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1)
ERF_ALPHA = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
             -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
ERF_BETA = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
            -1.42647390514189e-02)
SIGMOID_EXP_P = (0.49999994, 0.16666521, 0.04166839, 0.00836871, 0.00138146)
"""c_2 .. c_6 of e^r ~ 1 + r + c_2 r^2 + ... + c_6 r^6 on |r| <= ln2 / 2: a minimax fit of the
relative error with 1 + r fixed (Lawson's iteratively reweighted least squares on 20001 points,
then rounded to float32); relative error 3.8e-9 in exact arithmetic, against 2.7e-9 for EXP_P's
degree 7 (Cephes), both far below float32 rounding (6e-8). Degree 5 (1.1e-7) took SiLU past
4 ulp."""
LN2_HI, LN2_LO = 0.693359375, -2.12194440e-4
SIGMOID_SATURATES = 88.0
"""Where sigmoid saturates: sigmoid(88) rounds to 1, and below -88 it is 0 (the true value is
below the smallest normal float, 2^-126; x * sigmoid(x) must stay 0 there). e^88 ~ 1.7e38 keeps
1 + e^88 finite and needs one exponent factor, 2^127."""
ROUNDING_SHIFT = 1.5 * 2**23
"""Adding it to a float of magnitude below 2^22 rounds it to an integer (ties to even), which the
sum's low mantissa bits then hold as two's complement."""


def _c(like: ir.Value, value: float) -> ir.Constant:
    """`value` as a float32 constant of `like`'s type (a scalar, or a vector of them)."""
    if isinstance(like.type, ir.VectorType):
        return ir.Constant(like.type, [value] * like.type.count)
    return ir.Constant(F32, value)


def _int_like(like: ir.Value) -> ir.Type:
    """i32, or a vector of i32 as wide as `like`."""
    return ir.VectorType(I32, like.type.count) if isinstance(like.type, ir.VectorType) else I32


def _i(like: ir.Value, value: int) -> ir.Constant:
    kind = _int_like(like)
    return ir.Constant(kind, [value] * kind.count if isinstance(kind, ir.VectorType) else value)


def _call(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """The float intrinsic `name` ("llvm.fabs", say) at the type of `args[0]` (.f32 or .vNf32)."""
    kind = args[0].type
    suffix = f"v{kind.count}f32" if isinstance(kind, ir.VectorType) else "f32"
    return b.call(intrinsic(b.module, f"{name}.{suffix}", kind, [kind] * len(args)), list(args))


def _fma(b: ir.IRBuilder, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
    """x * y + z, fused where the target has an FMA instruction (x86 FMA3, NEON) and a multiply
    and an add elsewhere (wasm32): `llvm.fmuladd` never becomes a libm call, `llvm.fma` would."""
    return _call(b, "llvm.fmuladd", x, y, z)


def _poly(b: ir.IRBuilder, x: ir.Value, coefficients: tuple[float, ...]) -> ir.Value:
    """Horner's scheme, highest degree first."""
    acc = _c(x, coefficients[0])
    for c in coefficients[1:]:
        acc = _fma(b, acc, x, _c(x, c))
    return acc


def exp(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """e^x for float32 x (NaN propagates; overflow gives +inf, underflow subnormals then 0)."""
    clamped = _call(b, "llvm.minnum", _call(b, "llvm.maxnum", x, _c(x, -104.0)), _c(x, 88.72283))
    n = _call(b, "llvm.roundeven", b.fmul(clamped, _c(x, 1 / math.log(2))))
    p = _exp_reduced(b, clamped, n)
    whole = b.fptosi(n, _int_like(x))
    half = b.ashr(whole, _i(x, 1))
    scaled = b.fmul(b.fmul(p, _pow2(b, half)), _pow2(b, b.sub(whole, half)))
    big = b.select(b.fcmp_ordered(">", x, _c(x, 88.72283)), _c(x, math.inf), scaled)
    return b.select(b.fcmp_unordered("uno", x, x), x, big)


EXP_FLUSH_BELOW = -104.0
"""`exp_nonpositive` returns 0 below this, where float32 e^x rounds to 0 anyway (below
ln 2^-150 ~ -103.97); a flushed lane computes on x = 0 instead, so a -inf (or -1e9) mask makes
no subnormal (each costs a microcode assist on x86: a causally masked attention row, half of
whose scores are -inf, ran its softmax at 0.6x the speed of an unmasked one on AMD EPYC Zen 3
when those lanes went through the subnormal range)."""
EXP_BIAS = 2.0**-64
"""`exp_nonpositive` builds 2^(n + 64) in the exponent bits, always inside them for n in [-150, 0],
and scales the polynomial's coefficients by 2^-64 (exact) to make up for it: e^x = (2^-64 e^s) 2^(n + 64)
rounds once, into the subnormals below e^-87 as the interpreter's float32 exp does."""


def exp_nonpositive(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """e^x for float32 x <= 0 (a softmax's x - max of its row), subnormal results included, 0
    below `EXP_FLUSH_BELOW`; a NaN propagates through every operation (no compare decides it).
    As `sigmoid`: n = round(x / ln2) by adding 1.5 * 2^23 + 127 + 64, whose low bits are then the
    exponent bits of 2^(n + 64) (`EXP_BIAS`); 2^-64 e^(x - n ln2) by the degree-6 minimax
    polynomial (`SIGMOID_EXP_P`) with its coefficients times 2^-64. A positive x above 63 ln 2 is
    outside the domain (n + 191 would leave the exponent)."""
    dead = b.fcmp_ordered("<", x, _c(x, EXP_FLUSH_BELOW))
    limited = b.select(dead, _c(x, 0.0), x)
    shift = _c(x, ROUNDING_SHIFT + 127 + 64)
    shifted = _fma(b, limited, _c(x, 1 / math.log(2)), shift)
    n = b.fsub(shifted, shift)
    scale = b.bitcast(b.shl(b.bitcast(shifted, _int_like(x)), _i(x, 23)), x.type)
    s = _fma(b, n, _c(x, -LN2_LO), _fma(b, n, _c(x, -LN2_HI), limited))
    poly = _poly(b, s, tuple(c * EXP_BIAS for c in SIGMOID_EXP_P[::-1]))
    e_s = _fma(b, b.fmul(s, s), poly, _fma(b, s, _c(x, EXP_BIAS), _c(x, EXP_BIAS)))
    return b.select(dead, _c(x, 0.0), b.fmul(e_s, scale))


def _exp_reduced(b: ir.IRBuilder, x: ir.Value, n: ir.Value) -> ir.Value:
    """e^(x - n ln2) for n the integer nearest x / ln2 (Cody-Waite reduction, then the polynomial)."""
    r = _fma(b, n, _c(x, -LN2_LO), _fma(b, n, _c(x, -LN2_HI), x))
    return _fma(b, b.fmul(_poly(b, r, EXP_P), r), r, b.fadd(r, _c(x, 1.0)))


def _pow2(b: ir.IRBuilder, n: ir.Value) -> ir.Value:
    """2^n for an i32 n (or vector of them) in the normal exponent range, built in the exponent bits."""
    kind = ir.VectorType(F32, n.type.count) if isinstance(n.type, ir.VectorType) else F32
    return b.bitcast(b.shl(b.add(n, _i(n, 127)), _i(n, 23)), kind)


def tanh(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """tanh(x) for float32 x."""
    ax = _call(b, "llvm.fabs", x)
    x2 = b.fmul(x, x)
    small = _fma(b, b.fmul(_poly(b, x2, TANH_P), x2), x, x)
    e = exp(b, b.fmul(_call(b, "llvm.minnum", ax, _c(x, 20.0)), _c(x, 2.0)))
    large = b.fsub(_c(x, 1.0), b.fdiv(_c(x, 2.0), b.fadd(e, _c(x, 1.0))))
    signed = _call(b, "llvm.copysign", large, x)
    return b.select(b.fcmp_unordered("<", ax, _c(x, 0.625)), small, signed)


def erf(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """erf(x) for float32 x."""
    clamped = _call(b, "llvm.minnum", _call(b, "llvm.maxnum", x, _c(x, -4.0)), _c(x, 4.0))
    x2 = b.fmul(clamped, clamped)
    p = b.fmul(clamped, _poly(b, x2, ERF_ALPHA))
    return b.select(b.fcmp_unordered("uno", x, x), x, b.fdiv(p, _poly(b, x2, ERF_BETA)))


def sigmoid(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """1 / (1 + e^(-x)) for float32 x (NaN propagates). x is clamped above only (a compare and
    select: one vminps, which keeps a NaN), so n + 127 >= 0: above x = 87.68, n = -127 makes the
    scale +0 and the result 1, as it rounds. Below x = -88 the last select gives 0 whatever the
    arithmetic made of x (an infinite denominator, which `ninf` makes poison, is only ever in the
    arm it drops)."""
    limited = b.select(b.fcmp_ordered(">", x, _c(x, SIGMOID_SATURATES)), _c(x, SIGMOID_SATURATES), x)
    shift = _c(x, ROUNDING_SHIFT + 127)
    shifted = _fma(b, limited, _c(x, -1 / math.log(2)), shift)
    n = b.fsub(shifted, shift)
    scale = b.bitcast(b.shl(b.bitcast(shifted, _int_like(x)), _i(x, 23)), x.type)
    s = _fma(b, n, _c(x, LN2_LO), _fma(b, n, _c(x, LN2_HI), limited))
    one = _c(x, 1.0)
    denominator = _fma(b, _poly(b, s, _exp_of_negated(SIGMOID_EXP_P)), scale, one)
    reciprocal = b.fdiv(one, denominator, flags=("arcp", "ninf", "contract"))
    return b.select(b.fcmp_ordered("<", x, _c(x, -SIGMOID_SATURATES)), _c(x, 0.0), reciprocal)


def _exp_of_negated(tail: tuple[float, ...]) -> tuple[float, ...]:
    """Horner coefficients (highest degree first) of e^(-s) from e^r's c_2, c_3, ...: the odd
    powers change sign."""
    series = (1.0, 1.0, *tail)
    return tuple(c if k % 2 == 0 else -c for k, c in enumerate(series))[::-1]


def hard_swish(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """x * clip(x * alpha + beta, 0, 1) for float32 x (the hard_swish op's alpha and beta),
    rounded as the interpreter rounds it (a multiply, then an add: no fused multiply-add)."""
    gate = b.fadd(b.fmul(x, _c(x, HARD_SWISH_ALPHA)), _c(x, HARD_SWISH_BETA))
    return b.fmul(x, _call(b, "llvm.minimum", _call(b, "llvm.maximum", gate, _c(x, 0.0)), _c(x, 1.0)))
