"""ONNX import of Mod, from division, rounding and selects (frittata has no remainder op).

    fmod=1 (C's fmod, the sign of the dividend):  r = a - b * trunc(a / b)
    fmod=0 (Python's %, the sign of the divisor):  r as above, plus b where r != 0 and the
                                                   signs of r and b differ

Integers use the truncating integer division (x / 0 = 0, so x mod 0 = x; ONNX leaves it
undefined). Floats compute in float64: for float32 operands whose quotient is below 2^28 the
truncated quotient is exact and so is the remainder, as C's fmod is; float64 operands lose bits
when the quotient is large. A zero quotient subtracts nothing, so a finite a mod an infinite b
is a (b * 0 would be NaN), as C and Python have it.
"""

from __future__ import annotations

import numpy as np

from frittata.terms import builders as tb
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term


def _mod(n: NodeView) -> Term:
    a, b = n.term(0), n.term(1)
    if a.dtype != b.dtype:
        raise unsupported(f"Mod of {a.type} and {b.type}; expected operands of one dtype")
    if a.dtype == "bool":
        raise unsupported(f"Mod of {a.type}; expected numeric operands")
    floored = int(n.attr("fmod", 0)) == 0
    if np.dtype(a.dtype).kind == "f":
        return float_mod(a, b, floored)
    remainder = tb.sub(a, tb.mul(b, tb.div(a, b)))
    return _floored(remainder, b) if floored and np.dtype(a.dtype).kind == "i" else remainder


def float_mod(a: Term, b: Term, floored: bool) -> Term:
    """C's fmod(a, b) (or, `floored`, Python's a % b), in float64, cast back to the operands' dtype."""
    wide_a, wide_b = tb.cast(a, "float64"), tb.cast(b, "float64")
    quotient = tb.div(wide_a, wide_b)
    truncated = tb.where(tb.less(quotient, 0.0), tb.ceil(quotient), tb.floor(quotient))
    multiple = tb.where(tb.equal(truncated, 0.0), truncated, tb.mul(wide_b, truncated))
    remainder = tb.sub(wide_a, multiple)
    if floored:
        remainder = _floored(remainder, wide_b)
    return remainder if a.dtype == "float64" else tb.cast(remainder, a.dtype)


def _floored(remainder: Term, b: Term) -> Term:
    """The remainder moved to the divisor's sign: plus b where it is non-zero and the signs differ."""
    signs_differ = tb.logical_xor(tb.less(remainder, 0), tb.less(b, 0))
    nonzero = tb.logical_not(tb.equal(remainder, 0))
    return tb.where(tb.logical_and(nonzero, signs_differ), tb.add(remainder, b), remainder)


MOD_CONVERTERS = {"Mod": _mod}
