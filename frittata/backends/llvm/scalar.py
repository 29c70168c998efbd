"""The primitive scalar operations in LLVM IR, and elementwise operators through them.

Every elementwise operator of the table expands into the primitives of `frittata.terms.prims`
(its `Op.scalar`); `LLVMPrims` implements them once, so `elementwise` emits any elementwise op
without a case of its own. Semantics match the reference interpreter: values are in their
storage type (`irutil.ltype`); integers wrap like numpy; integer division truncates and gives 0
on a zero divisor; right shifts round half up; casts follow numpy `astype` on x86 (out-of-range
float -> int gives the minimum integer); float max/min propagate NaN and settle ties (+0.0 against
-0.0) as numpy does, whose float16 loops settle them otherwise than its float32 / float64 ones
(`float_extreme`, `float_clip`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llvmlite import ir

from frittata.backends.llvm import half, vmath
from frittata.backends.llvm.irutil import F32, F64, FLOAT_SUFFIX, I8, I32, I64, intrinsic, ltype
from frittata.backends.llvm.irutil import const as llconst
from frittata.terms.dtypes import is_float
from frittata.terms.ops import Op

SIGNED = frozenset({"int8", "int16", "int32", "int64"})
WIDTH = {F32: 32, F64: 64}


def fcall(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """Call an intrinsic or libm function `name` (e.g. "llvm.exp.f32", "erf" on f64)."""
    ty = args[0].type
    return b.call(intrinsic(b.module, name, ty, [a.type for a in args]), list(args))


def fintrinsic(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """The float intrinsic `llvm.<name>` overloaded on the operands' type (f32 or f64)."""
    return fcall(b, f"llvm.{name}.{FLOAT_SUFFIX[args[0].type]}", *args)


def through_f32(b: ir.IRBuilder, f, libm: str, x: ir.Value) -> ir.Value:
    """f (one of vmath's float32 routines) at x; on a double, the libm function `libm` instead,
    for double's precision."""
    return f(b, x) if x.type == F32 else fcall(b, libm, x)


def widen(b: ir.IRBuilder, x: ir.Value, dtype: str) -> ir.Value:
    """An integer (or bool) value as i64, sign- or zero-extended per its dtype."""
    if x.type == I64:
        return x
    return b.sext(x, I64) if dtype in SIGNED else b.zext(x, I64)


def binary(b: ir.IRBuilder, op: Op, dtype: str, x: ir.Value, y: ir.Value) -> ir.Value:
    if dtype == "float16":
        return half.narrow(b, _float_binary(b, op, half.widen(b, x), half.widen(b, y), first_wins=True))
    if is_float(dtype):
        return _float_binary(b, op, x, y)
    match op:
        case Op.ADD:
            return b.add(x, y)
        case Op.SUB:
            return b.sub(x, y)
        case Op.MUL:
            return b.mul(x, y)
        case Op.DIV:
            return _int_div(b, dtype, x, y)
        case Op.MAXIMUM | Op.MINIMUM:
            cmp = _int_cmp(b, dtype, ">" if op == Op.MAXIMUM else "<", x, y)
            return b.select(cmp, x, y)
        case _:
            raise AssertionError(f"{op} has no integer form")


def _float_binary(b: ir.IRBuilder, op: Op, x: ir.Value, y: ir.Value, first_wins: bool = False) -> ir.Value:
    match op:
        case Op.ADD:
            return b.fadd(x, y)
        case Op.SUB:
            return b.fsub(x, y)
        case Op.MUL:
            return b.fmul(x, y)
        case Op.DIV:
            return b.fdiv(x, y)
        case Op.POW:
            return fintrinsic(b, "pow", x, y)
        case Op.MAXIMUM:
            return float_extreme(b, ">", x, y, first_wins)
        case Op.MINIMUM:
            return float_extreme(b, "<", x, y, first_wins)
        case _:
            raise AssertionError(f"{op} is not binary")


def float_extreme(b: ir.IRBuilder, pred: str, x: ir.Value, y: ir.Value, first_wins: bool = False) -> ir.Value:
    """np.maximum (`pred` ">") or np.minimum ("<") of floats (scalars or vectors): x where x
    pred y or x is NaN, else y, so a NaN of either is kept. numpy's float32 / float64 loops give
    y on a tie (np.maximum(+0.0, -0.0) is -0.0, where llvm.maximum orders -0.0 below +0.0); its
    float16 loops compare `>=` / `<=` and give x (`first_wins`, for float16 values widened to
    float32: np.maximum(f16 -0.0, +0.0) is -0.0). Both the same for scalars and arrays of any
    length and stride (numpy 2.4.6)."""
    if first_wins:
        pred += "="
    picked = b.select(b.fcmp_ordered(pred, x, y), x, y)
    return b.select(b.fcmp_unordered("!=", x, x), x, picked)


def reduce_extreme(b: ir.IRBuilder, op: Op, dtype: str, acc: ir.Value, x: ir.Value) -> ir.Value:
    """A max / min reduction's step (`op` MAXIMUM or MINIMUM): on floats llvm.maximum /
    llvm.minimum (NaN kept, -0.0 below +0.0). numpy's reductions settle a tie of signed zeros by
    the order they visit the items in, which no rule of the elementwise op's matches, so the
    reductions keep the intrinsic."""
    if dtype == "float16":
        return half.narrow(b, reduce_extreme(b, op, "float32", half.widen(b, acc), half.widen(b, x)))
    if is_float(dtype):
        return fintrinsic(b, "maximum" if op == Op.MAXIMUM else "minimum", acc, x)
    return binary(b, op, dtype, acc, x)


def float_clip(b: ir.IRBuilder, x: ir.Value, lo: ir.Constant | None, hi: ir.Constant | None,
               first_wins: bool = False) -> ir.Value:
    """np.clip(x, lo, hi) of floats (scalars or vectors; bounds of x's type, None absent). In
    float32 / float64 one bound alone is np.maximum / np.minimum, where a bound equal to x wins
    (-0.0 against a lower bound of 0 gives +0.0: ReLU); with both, np.clip compares strictly and
    x wins (-0.0 stays -0.0). numpy's float16 loops keep x on every tie, one bound or two
    (`first_wins`, for float16 values widened to float32: a float16 ReLU of -0.0 is -0.0). A NaN
    x stays NaN (an ordered compare is false); a NaN bound makes every result NaN, as in numpy."""
    nan = next((edge for edge in (lo, hi) if edge is not None and _is_nan(edge)), None)
    if nan is not None:
        return b.fadd(x, nan)
    strict = first_wins or (lo is not None and hi is not None)

    def bound(value: ir.Value, pred: str, edge: ir.Constant) -> ir.Value:
        return b.select(b.fcmp_ordered(pred if strict else pred + "=", value, edge), edge, value)

    if lo is not None:
        x = bound(x, "<", lo)
    if hi is not None:
        x = bound(x, ">", hi)
    return x


def _is_nan(edge: ir.Constant) -> bool:
    """Whether a bound constant (a float, or a splat vector of one) is NaN."""
    value = edge.constant[0] if isinstance(edge.constant, list) else edge.constant
    value = value.constant if isinstance(value, ir.Constant) else value
    return isinstance(value, float) and math.isnan(value)


def _int_cmp(b: ir.IRBuilder, dtype: str, pred: str, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.icmp_signed(pred, x, y) if dtype in SIGNED else b.icmp_unsigned(pred, x, y)


def _int_div(b: ir.IRBuilder, dtype: str, x: ir.Value, y: ir.Value) -> ir.Value:
    """Truncating division in i64, 0 on a zero divisor, wrapped back to the dtype."""
    wx, wy = widen(b, x, dtype), widen(b, y, dtype)
    zero = b.icmp_signed("==", wy, ir.Constant(I64, 0))
    overflow = b.and_(b.icmp_signed("==", wy, ir.Constant(I64, -1)),
                      b.icmp_signed("==", wx, ir.Constant(I64, -(1 << 63))))
    bad = b.or_(zero, overflow)
    quotient = b.sdiv(wx, b.select(bad, ir.Constant(I64, 1), wy))
    fixed = b.select(zero, ir.Constant(I64, 0), b.select(overflow, wx, quotient))
    return b.trunc(fixed, x.type) if x.type != I64 else fixed


def _abs(b: ir.IRBuilder, dtype: str, x: ir.Value) -> ir.Value:
    if is_float(dtype):
        return fintrinsic(b, "fabs", x)
    if dtype not in SIGNED:
        return x
    negative = b.icmp_signed("<", x, ir.Constant(x.type, 0))
    return b.select(negative, b.sub(ir.Constant(x.type, 0), x), x)


def clip(b: ir.IRBuilder, dtype: str, x: ir.Value, lo, hi, first_wins: bool = False) -> ir.Value:
    """min(max(x, lo), hi); a bound of None is absent. Floats as np.clip (`float_clip`, whose
    `first_wins` is float16's tie rule); integers clamp in i64 then wrap."""
    if is_float(dtype):
        low, high = (None if v is None else llconst(dtype, v) for v in (lo, hi))
        return float_clip(b, x, low, high, first_wins)
    wide = widen(b, x, dtype)
    if lo is not None:
        bound = ir.Constant(I64, int(lo))
        wide = b.select(b.icmp_signed("<", wide, bound), bound, wide)
    if hi is not None:
        bound = ir.Constant(I64, int(hi))
        wide = b.select(b.icmp_signed(">", wide, bound), bound, wide)
    return wide if x.type == I64 else b.trunc(wide, x.type)


def right_shift(b: ir.IRBuilder, dtype: str, x: ir.Value, shift: int) -> ir.Value:
    """(x + 2^(shift-1)) >> shift in i64, wrapped back to the dtype; x >> 0 = x."""
    if shift == 0:
        return x
    wide = b.add(widen(b, x, dtype), ir.Constant(I64, 1 << (shift - 1)))
    shifted = b.ashr(wide, ir.Constant(I64, shift))
    return shifted if x.type == I64 else b.trunc(shifted, x.type)


def cast(b: ir.IRBuilder, x: ir.Value, src: str, dst: str) -> ir.Value:
    """numpy `astype` from `src` to `dst`."""
    if src == dst:
        return x
    if src == "float16":
        return cast(b, half.widen(b, x), "float32", dst)
    if dst == "float16":
        return half.narrow(b, x if is_float(src) else cast(b, x, src, "float64"))
    to = ltype(dst)
    if dst == "bool":
        nonzero = (b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0)) if is_float(src)
                   else b.icmp_signed("!=", x, ir.Constant(x.type, 0)))
        return b.zext(nonzero, I8)
    if is_float(src) and is_float(dst):
        return b.fpext(x, to) if WIDTH[to] > WIDTH[x.type] else b.fptrunc(x, to)
    if is_float(src):
        return _float_to_int(b, x, dst)
    if is_float(dst):
        return b.sitofp(x, to) if src in SIGNED else b.uitofp(x, to)
    return _int_resize(b, x, src, to)


def _int_resize(b: ir.IRBuilder, x: ir.Value, src: str, to: ir.IntType) -> ir.Value:
    if x.type.width == to.width:
        return x
    if x.type.width > to.width:
        return b.trunc(x, to)
    return b.sext(x, to) if src in SIGNED else b.zext(x, to)


def _float_to_int(b: ir.IRBuilder, x: ir.Value, dst: str) -> ir.Value:
    """Truncation toward zero through i32 (i64 for the 64-bit dtypes and uint32, as numpy
    converts them); out of range gives the minimum, as x86 does; uint64 takes [2^63, 2^64) too."""
    wide = I64 if dst in ("int64", "uint64", "uint32") else I32
    limit = float(1 << (wide.width - 1))
    in_range = b.and_(b.fcmp_ordered(">=", x, ir.Constant(x.type, -limit)),
                      b.fcmp_ordered("<", x, ir.Constant(x.type, limit)))
    safe = b.select(in_range, x, ir.Constant(x.type, 0.0))
    value = b.select(in_range, b.fptosi(safe, wide), ir.Constant(wide, -(1 << (wide.width - 1))))
    if dst == "uint64":
        high = b.and_(b.fcmp_ordered(">=", x, ir.Constant(x.type, limit)),
                      b.fcmp_ordered("<", x, ir.Constant(x.type, 2 * limit)))
        value = b.select(high, b.fptoui(b.select(high, x, ir.Constant(x.type, 0.0)), wide), value)
    return value if wide == ltype(dst) else b.trunc(value, ltype(dst))


def truth(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """A stored bool byte as an i1."""
    return b.icmp_signed("!=", x, ir.Constant(x.type, 0))


@dataclass(frozen=True, slots=True)
class Val:
    """An LLVM value in its storage type, with its dtype."""

    value: ir.Value
    dtype: str


class LLVMPrims:
    """`frittata.terms.prims.Prims` over `Val`s: each primitive emitted at the builder's position.
    `half`: the float32 values stand for float16 ones (`elementwise` widens them), so maximum,
    minimum and clip settle ties by numpy's float16 rule (`float_extreme`). The interpreter
    computes parts of a few float16 ops in float32 (hard_sigmoid's clip, which has both bounds,
    where the two rules agree; CELU's minimum against a tail that is +0.0 at a zero x, checked
    bit-exact against the interpreter)."""

    def __init__(self, b: ir.IRBuilder, half: bool = False) -> None:
        self.b, self.half = b, half

    def dtype(self, x: Val) -> str:
        return x.dtype

    def const(self, value: Any, like: Val) -> Val:
        return Val(llconst(like.dtype, value), like.dtype)

    def _binary(self, op: Op, x: Val, y: Val) -> Val:
        return Val(binary(self.b, op, x.dtype, x.value, y.value), x.dtype)

    def _extreme(self, op: Op, x: Val, y: Val) -> Val:
        if self.half and x.dtype == "float32":
            return Val(_float_binary(self.b, op, x.value, y.value, first_wins=True), x.dtype)
        return self._binary(op, x, y)

    def add(self, x: Val, y: Val) -> Val:
        return self._binary(Op.ADD, x, y)

    def sub(self, x: Val, y: Val) -> Val:
        return self._binary(Op.SUB, x, y)

    def mul(self, x: Val, y: Val) -> Val:
        return self._binary(Op.MUL, x, y)

    def div(self, x: Val, y: Val) -> Val:
        return self._binary(Op.DIV, x, y)

    def pow(self, x: Val, y: Val) -> Val:
        return self._binary(Op.POW, x, y)

    def maximum(self, x: Val, y: Val) -> Val:
        return self._extreme(Op.MAXIMUM, x, y)

    def minimum(self, x: Val, y: Val) -> Val:
        return self._extreme(Op.MINIMUM, x, y)

    def neg(self, x: Val) -> Val:
        b = self.b
        return Val(b.fneg(x.value) if is_float(x.dtype) else b.sub(ir.Constant(x.value.type, 0), x.value), x.dtype)

    def abs(self, x: Val) -> Val:
        return Val(_abs(self.b, x.dtype, x.value), x.dtype)

    def exp(self, x: Val) -> Val:
        return Val(through_f32(self.b, vmath.exp, "exp", x.value), x.dtype)

    def log(self, x: Val) -> Val:
        return Val(fintrinsic(self.b, "log", x.value), x.dtype)

    def sqrt(self, x: Val) -> Val:
        return Val(fintrinsic(self.b, "sqrt", x.value), x.dtype)

    def erf(self, x: Val) -> Val:
        return Val(through_f32(self.b, vmath.erf, "erf", x.value), x.dtype)

    def tanh(self, x: Val) -> Val:
        return Val(through_f32(self.b, vmath.tanh, "tanh", x.value), x.dtype)

    def round(self, x: Val) -> Val:
        return Val(fintrinsic(self.b, "roundeven", x.value), x.dtype)

    def clip(self, x: Val, lo: Any, hi: Any) -> Val:
        first_wins = self.half and x.dtype == "float32"
        return Val(clip(self.b, x.dtype, x.value, lo, hi, first_wins), x.dtype)

    def right_shift(self, x: Val, shift: int) -> Val:
        return Val(right_shift(self.b, x.dtype, x.value, shift), x.dtype)

    def cast(self, x: Val, dtype: str) -> Val:
        return Val(cast(self.b, x.value, x.dtype, dtype), dtype)

    def floor(self, x: Val) -> Val:
        return Val(fintrinsic(self.b, "floor", x.value), x.dtype)

    def ceil(self, x: Val) -> Val:
        return Val(fintrinsic(self.b, "ceil", x.value), x.dtype)

    def compare(self, pred: str, x: Val, y: Val) -> Val:
        """x pred y as a bool byte; on floats an ordered comparison except `!=` (true on NaN)."""
        b = self.b
        if is_float(x.dtype):
            flag = (b.fcmp_unordered if pred == "!=" else b.fcmp_ordered)(pred, x.value, y.value)
        else:
            flag = _int_cmp(b, x.dtype, pred, x.value, y.value)
        return Val(b.zext(flag, I8), "bool")

    def logical_and(self, x: Val, y: Val) -> Val:
        return Val(self.b.and_(x.value, y.value), "bool")

    def logical_or(self, x: Val, y: Val) -> Val:
        return Val(self.b.or_(x.value, y.value), "bool")

    def logical_xor(self, x: Val, y: Val) -> Val:
        return Val(self.b.xor(x.value, y.value), "bool")

    def logical_not(self, x: Val) -> Val:
        return Val(self.b.xor(x.value, ir.Constant(I8, 1)), "bool")

    def ge(self, x: Val, y: Val) -> Val:
        b = self.b
        if is_float(x.dtype):
            flag = b.fcmp_ordered(">=", x.value, y.value)
        else:
            flag = _int_cmp(b, x.dtype, ">=", x.value, y.value)
        return Val(b.zext(flag, I8), "bool")

    def select(self, cond: Val, a: Val, b: Val) -> Val:
        return Val(self.b.select(truth(self.b, cond.value), a.value, b.value), a.dtype)


def elementwise(b: ir.IRBuilder, op: Op, attrs: tuple, dtypes: list[str], xs: list[ir.Value]) -> ir.Value:
    """One elementwise operator on scalar operands of the given dtypes, through its expansion."""
    assert op.scalar is not None, f"{op} is not elementwise (it has no scalar expansion)"
    halves = op != Op.CAST and "float16" in dtypes
    if halves:
        xs = [half.widen(b, x) if d == "float16" else x for x, d in zip(xs, dtypes)]
        dtypes = [_computed_in(d) for d in dtypes]
    result = op.scalar(LLVMPrims(b, halves), *(Val(x, d) for x, d in zip(xs, dtypes)), **dict(attrs)).value
    return half.narrow(b, result) if halves and result.type == F32 else result


def _computed_in(dtype: str) -> str:
    """float16 operands are computed in float32 and each op's result rounded back (as
    onnxruntime's CPU provider does); the op's float32 result then stands for a float16 one."""
    return "float32" if dtype == "float16" else dtype
