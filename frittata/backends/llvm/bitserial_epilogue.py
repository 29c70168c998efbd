"""The requantization of a bit-serial kernel's sums: a bias and the integer epilogue steps
(relu, clip, rounding shift, casts), applied to each channel block's vector of int32 sums before
it is stored, so the output is the requantized tensor itself. A cast wraps to its dtype and
extends back to int32. A bias that is a parameter is padded at compile time to whole tiles and
read as vectors; a computed one is read lane by lane at a clamped channel.

Where the epilogue maps the kernel's range of sums onto a few levels 0..L, monotonically (a
low-bit layer's requantization: a rounding shift, then a clip to the next layer's codes), it
is the same as counting per channel how many of L thresholds the sum passes
(`level_thresholds`, computed at compile time with the bias folded in): the table kernel then
compares its 16-bit sums instead of widening them and running the steps on int32 vectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.irutil import I32, element_ptr, i64, ltype, smin
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.views import View
from frittata.errors import LoweringError
from frittata.terms.bitserial import EPILOGUE_STEPS
from frittata.terms.interp import evaluate
from frittata.terms.kernels import epilogue_terms
from frittata.terms.leaves import var

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
INT16 = (-(1 << 15), (1 << 15) - 1)
"""int16's least and greatest values: the table kernel's 16-bit sums and thresholds."""
INT32 = (-(1 << 31), (1 << 31) - 1)
"""int32's least and greatest values: the epilogue's sums plus bias, and a clip's bounds."""


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
                    bound = splat_int(max(int(lo), INT32[0]))
                    value = b.select(b.icmp_signed("<", value, bound), bound, value)
                if hi is not None:
                    bound = splat_int(min(int(hi), INT32[1]))
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


MAX_LEVELS = 3
"""Output levels above 0 that `level_thresholds` turns into compares at most (two activation
bits: 0..3); past them the epilogue runs step by step."""


def epilogue_values(value: np.ndarray, steps: tuple) -> np.ndarray:
    """The interpreter's `steps` (`epilogue_terms`) on int32 values of sums plus bias."""
    return evaluate(epilogue_terms(var("v", value.shape, "int32"), (), steps), {"v": value.astype(np.int32)})


def casts_wrap(value: np.ndarray, steps: tuple) -> bool:
    """Whether a cast among `steps` wraps one of `value`'s (int32 sums plus bias) on its way."""
    for at, step in enumerate(steps):
        if step[0] == "cast":
            info, before = np.iinfo(step[1]), epilogue_values(value, steps[:at])
            if before.min() < info.min or before.max() > info.max:
                return True
    return False


def least_reaching(values: Callable[[np.ndarray], np.ndarray], lo: int, hi: int, levels: int,
                   shape: tuple[int, ...] = ()) -> np.ndarray:
    """The thresholds of a map onto levels, the one convention of the level compares: for
    `values`, non-decreasing in v on [lo, hi] and taking an int64 array of `shape` (one v per
    entry: per channel, say), T int64 [levels, *shape] with T[k-1] the least v in [lo, hi] where
    values(v) >= k (hi + 1 where there is none), found by bisection; so that
    out = Σ_{k=1..levels} [v >= T[k-1]] wherever the map's values lie in 0..levels."""
    table = np.empty((levels, *shape), np.int64)
    for k in range(1, levels + 1):
        first, last = np.full(shape, lo, np.int64), np.full(shape, hi + 1, np.int64)
        while (first < last).any():
            middle, open_ = (first + last) // 2, first < last
            reached = values(np.minimum(middle, hi)) >= k
            last, first = np.where(open_ & reached, middle, last), np.where(open_ & ~reached, middle + 1, first)
        table[k - 1] = first
    return table


def level_thresholds(bias: np.ndarray, steps: tuple, lo: int, hi: int) -> np.ndarray | None:
    """The epilogue as compares: for sums v in [lo, hi] (before the bias) and each channel c,
    out = Σ_{k=1..L} [v >= T[k-1, c]] with T int16 [L, C] (`least_reaching`), L <= MAX_LEVELS --
    or None when that does not hold exactly: v or T leaving int16, a bias add that could wrap
    int32, a cast that could wrap (each other step is monotone non-decreasing, so then is the
    whole epilogue, and its values over [lo, hi] lie between its values at lo and hi), or values
    outside [0, L]. T lies in [lo, hi + 1], and T - 1 in int16 too (lo > the int16 minimum)."""
    if lo <= INT16[0] or hi >= INT16[1]:
        return None
    bias = bias.astype(np.int64)
    if bias.size and (bias.min() + lo < INT32[0] or bias.max() + hi > INT32[1]):
        return None
    ends = [np.full(bias.shape, v, np.int64) + bias for v in (lo, hi)]
    if any(casts_wrap(end, steps) for end in ends):
        return None
    least, most = (epilogue_values(end, steps) for end in ends)
    if least.min(initial=0) < 0 or most.max(initial=0) > MAX_LEVELS:
        return None
    levels = int(most.max(initial=0))
    return least_reaching(lambda v: epilogue_values(v + bias, steps), lo, hi, levels, bias.shape).astype(np.int16)
