"""The requantization of a bit-serial kernel's sums: a bias and the integer epilogue steps
(relu, clip, rounding shift, casts), applied to each channel block's vector of int32 sums before
it is stored, so the output is the requantized tensor itself. A cast wraps to its dtype and
extends back to int32. A bias that is a parameter is padded at compile time to whole tiles and
read as vectors; a computed one is read lane by lane at a clamped channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llvmlite import ir

from frittata.backends.llvm.irutil import I32, element_ptr, i64, ltype, smin
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View
from frittata.errors import LoweringError
from frittata.terms.bitserial import EPILOGUE_STEPS

if TYPE_CHECKING:
    from frittata.backends.llvm.bitserial_emitter import Geometry


@dataclass(frozen=True)
class Epilogue:
    """What is applied to the sums before they are stored: a bias (a padded parameter's address
    or a computed operand's view) and the integer epilogue steps."""

    bias: ir.Value | View | None
    steps: tuple


SIGNED = {"int8": True, "uint8": False, "int16": True, "uint16": False, "int32": True}
"""The dtypes an epilogue casts to, and whether each is signed."""


def requantize(k: Kernel, g: Geometry, epilogue: Epilogue | None, acc: ir.Value, block: ir.Value) -> ir.Value:
    """`epilogue` on channel block `block`'s sums (a vector of g.v int32: the corrected sums of
    an int32 output): plus the bias, then each step."""
    b = k.b
    assert epilogue is not None
    vec = ir.VectorType(I32, g.v)
    assert acc.type == vec, f"requantize: expected int32 sums {vec}, got {acc.type}"

    def splat_int(n: int) -> ir.Constant:
        return ir.Constant(vec, [n] * g.v)

    value = acc
    if isinstance(epilogue.bias, View):
        last = i64(g.o - 1)
        for v in range(g.v):
            channel = smin(b, b.add(b.mul(block, i64(g.v)), i64(v)), last)
            lane = b.load(k.address(epilogue.bias, [channel]), typ=I32)
            value = b.add(value, b.insert_element(ir.Constant(vec, None), lane, ir.Constant(I32, v)))
    elif epilogue.bias is not None:
        at = element_ptr(b, epilogue.bias, "int32", b.mul(block, i64(g.v)))
        value = b.add(value, b.load(at, typ=vec, align=4))
    for step in epilogue.steps:
        match step:
            case ("relu",):
                value = b.select(b.icmp_signed(">", value, splat_int(0)), value, splat_int(0))
            case ("clip", lo, hi):
                if lo is not None:
                    bound = splat_int(max(int(lo), -2**31))
                    value = b.select(b.icmp_signed("<", value, bound), bound, value)
                if hi is not None:
                    bound = splat_int(min(int(hi), 2**31 - 1))
                    value = b.select(b.icmp_signed(">", value, bound), bound, value)
            case ("shift", s) if s > 0:
                half = b.and_(b.ashr(value, splat_int(s - 1)), splat_int(1))
                value = b.add(b.ashr(value, splat_int(s)), half)
            case ("cast", dtype) if dtype != "int32":
                narrow = b.trunc(value, ir.VectorType(ltype(dtype), g.v))
                value = b.sext(narrow, vec) if SIGNED[dtype] else b.zext(narrow, vec)
            case ("shift", 0) | ("cast", "int32"):
                continue  # no-ops on the int32 accumulator
            case _:
                raise LoweringError(f"bitserial_conv2d epilogue: expected a step of {EPILOGUE_STEPS}, got {step}")
    return value
