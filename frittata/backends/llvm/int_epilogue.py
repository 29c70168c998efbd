"""The integer epilogue of the int8 convolution kernel on whole int32 vectors (relu, rounding
shift, clip; a cast step is the store's conversion), with the rounding shift folded into one add
where a bound on the values shows the add cannot wrap."""

from __future__ import annotations

from llvmlite import ir

from frittata.backends.llvm.irutil import I32


def int_epilogue(b: ir.IRBuilder, lanes: int, steps: tuple, value, bound: int | None = None):
    """The integer epilogue on an int32 vector (a cast step is the store's conversion).

    A rounding shift by s is (v >> s) + bit s-1 of v, which is (v + 2^(s-1)) >> s wherever that
    sum does not wrap: with `bound` (|v| <= bound, followed through the steps) small enough it is
    emitted so, and a relu just before it as max(v + 2^(s-1), 2^(s-1)): relu + shift is then 3
    machine instructions (vpaddd, vpmaxsd, a shift) instead of 5 (vpmaxsd, vpsrld, vpsrld, vpand,
    vpaddd)."""
    vec = ir.VectorType(I32, lanes)

    def splat_int(n: int):
        return ir.Constant(vec, [int(n)] * lanes)

    def smax(v, n: int):
        return b.select(b.icmp_signed(">", v, splat_int(n)), v, splat_int(n))

    added = 0  # the half the previous step (a relu) added for the rounding shift after it
    for i, step in enumerate(steps):
        before, added = added, 0
        match step:
            case ("relu",) if i + 1 < len(steps) and _folds(steps[i + 1], bound):
                added = 1 << (steps[i + 1][1] - 1)
                value = smax(b.add(value, splat_int(added)), added)
            case ("relu",):
                value = smax(value, 0)
            case ("shift", s) if before:
                assert before == 1 << (s - 1)
                value = b.ashr(value, splat_int(s))
            case ("shift", s) if _folds(step, bound):
                value = b.ashr(b.add(value, splat_int(1 << (s - 1))), splat_int(s))
            case ("shift", 0):
                pass
            case ("shift", s):
                half = b.and_(b.ashr(value, splat_int(s - 1)), splat_int(1))
                value = b.add(b.ashr(value, splat_int(s)), half)
            case ("clip", lo, hi):
                if lo is not None:
                    value = b.select(b.icmp_signed("<", value, splat_int(lo)), splat_int(lo), value)
                if hi is not None:
                    value = b.select(b.icmp_signed(">", value, splat_int(hi)), splat_int(hi), value)
            case ("cast", _):
                pass
            case _:
                raise AssertionError(f"the int8 kernel's epilogue has no step {step}")
        bound = _bound_after(step, bound)
    return value


def _folds(step: tuple, bound: int | None) -> bool:
    """Whether `step` is a rounding shift whose half added to a value of at most `bound` (None:
    unknown) cannot wrap."""
    return bound is not None and step[0] == "shift" and step[1] > 0 and bound + (1 << (step[1] - 1)) < 1 << 31


def _bound_after(step: tuple, bound: int | None) -> int | None:
    """|value| at most after `step`, given at most `bound` before (None: unknown)."""
    match step:
        case ("shift", s) if bound is not None:
            return (bound >> s) + 1
        case ("clip", lo, hi) if bound is not None:
            return max(abs(_clamp(-bound, lo, hi)), abs(_clamp(bound, lo, hi)))
        case ("clip", lo, hi) if lo is not None and hi is not None:
            return max(abs(lo), abs(hi))
        case _:
            return bound


def _clamp(v: int, lo: int | None, hi: int | None) -> int:
    """v clipped to [lo, hi] (None: no limit on that side); monotone, so the interval
    [-bound, bound] clips to [_clamp(-bound), _clamp(bound)]."""
    v = v if lo is None else max(v, lo)
    return v if hi is None else min(v, hi)
