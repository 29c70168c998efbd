"""Attribute expressions and guard predicates of rules: a fixed vocabulary, no `eval`.

An expression is a literal, a `?var` (an attribute value, or the type of a tensor variable),
a tuple `[e ...]` or a call `(fn e ...)` of one of FUNCTIONS. A guard is a call of one of
PREDICATES. Argument kinds: "t" is a tensor variable, "v" any expression.

Functions:  (dim ?x i) (shape ?x) (rank ?x) (dtype ?x) (+ a b) (- a b) (* a b) (// a b) (% a b)
            (size ?x) (round-up n m) -- the smallest multiple of m that is >= n
            (append tuple item) (join tuple tuple) (compose-perm p q) (inverse-perm p)
            (ew-inline e i f) (ew-arity e)   -- expressions of `fused_elementwise`: e with its
            operand i replaced by f (frittata.terms.fused.inline), and e's operand count
            (int8-offset ?x) -- k such that x - k is int8 for an 8-bit x: 128 (uint8), 0 (int8)
            (nchw-pads p)    -- `pad` pairs of conv2d pads p = [top left bottom right] (NCHW)
            (bit-width n)    -- bits of the non-negative int n (its bit_length)
            (word-bits ?p)   -- bits per word of a packing dtype (bitpack): 8, 32 or 64
            (winograd-exact-channels m) -- input channels the integer Winograd F(m x m, 3 x 3)
                             is exact for, at most (frittata.terms.winograd.exact_channels)
Predicates: (divisible a b) (equal a b) (not-none a) (equal-shape ?x ?y) (same-type ?x ?y)
            (shape-is ?x s) (rank-is ?x n) (dtype-is ?x d) (is-float ?x) (is-int ?x)
            (fits-block ?x c) (identity-perm p) (perm-inverse p q) (param-only ?x ...)
            (depends-on-input ?x ...) (single-use ?x ...)
            (ew-size-at-most e n) -- a fused_elementwise expression has at most n ops
            (not-divisible a b) (vta-epilogue e) (float-epilogue e)
            (is-8-bit ?x) -- an int8 or uint8 tensor;  (fits-int8 a) -- -128 <= a <= 127
            (has-padding p) -- some conv2d pad of p is not zero
            (fits-bits n b) -- the int n is in [1, 2^b): values clipped to [0, n] need at most b bits
            (at-most a b)
`param-only` (the operand is computed from parameters and constants only),
`depends-on-input` (the operand depends on a program input, so it is computed at run time) and
`single-use` (the operand is a term of the input program that exactly one other term uses) are
structural: the e-graph decides them, not this module.
"""

from __future__ import annotations

import math

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from frittata.terms.attr_keys import same_number
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.cpu_schedules import FLOAT_STEPS
from frittata.terms.dtypes import TensorType, is_float, is_int
from frittata.terms.fused import args_used, expr_ops, inline, normalize_expr
from frittata.terms.vta_ops import vta_epilogue_ok
from frittata.terms.winograd import exact_channels

INT8_OFFSET = {"int8": 0, "uint8": 128}
"""k per 8-bit dtype such that x - k fits int8 (VTA's operand type) for every x of that dtype."""


@dataclass(frozen=True, slots=True)
class Lit:
    value: object


@dataclass(frozen=True, slots=True)
class Var:
    name: str


@dataclass(frozen=True, slots=True)
class Tup:
    items: tuple


@dataclass(frozen=True, slots=True)
class Call:
    fn: str
    args: tuple


Expr = Lit | Var | Tup | Call


def _perm_compose(p: tuple, q: tuple) -> tuple:
    """The single permutation equal to transposing by p, then by q."""
    return tuple(p[i] for i in q)


def _perm_inverse(p: tuple) -> tuple:
    inverse = [0] * len(p)
    for i, axis in enumerate(p):
        inverse[axis] = i
    return tuple(inverse)


def _nchw_pads(p: tuple) -> tuple:
    """conv2d pads [top left bottom right] as `pad` pairs over N, C, H, W."""
    top, left, bottom, right = p
    return ((0, 0), (0, 0), (top, bottom), (left, right))


FUNCTIONS: dict[str, tuple[str, Callable]] = {
    "dim": ("tv", lambda t, i: t.shape[i]),
    "shape": ("t", lambda t: t.shape),
    "size": ("t", lambda t: t.size),
    "rank": ("t", lambda t: t.rank),
    "dtype": ("t", lambda t: t.dtype),
    "+": ("vv", lambda a, b: a + b),
    "-": ("vv", lambda a, b: a - b),
    "*": ("vv", lambda a, b: a * b),
    "//": ("vv", lambda a, b: a // b),
    "%": ("vv", lambda a, b: a % b),
    "round-up": ("vv", lambda n, m: -(-n // m) * m),
    "append": ("vv", lambda t, item: tuple(t) + (item,)),
    "join": ("vv", lambda a, b: tuple(a) + tuple(b)),
    "compose-perm": ("vv", _perm_compose),
    "inverse-perm": ("v", _perm_inverse),
    "ew-inline": ("vvv", lambda e, i, f: inline(normalize_expr(e), i, normalize_expr(f))),
    "ew-arity": ("v", lambda e: len(args_used(normalize_expr(e)))),
    "int8-offset": ("t", lambda t: INT8_OFFSET[t.dtype]),
    "nchw-pads": ("v", _nchw_pads),
    "bit-width": ("v", lambda n: int(n).bit_length()),
    "word-bits": ("t", lambda t: WORD_BITS[t.dtype]),
    "winograd-exact-channels": ("v", lambda m: exact_channels(int(m))),
}


def _fits_block(t: TensorType, c: int) -> bool:
    return t.rank == 4 and c > 0 and t.shape[1] % c == 0


PREDICATES: dict[str, tuple[str, Callable]] = {
    "divisible": ("vv", lambda a, b: b != 0 and a % b == 0),
    "equal": ("vv", same_number),
    "not-none": ("v", lambda a: a is not None),
    "equal-shape": ("tt", lambda a, b: a.shape == b.shape),
    "same-type": ("tt", lambda a, b: a == b),
    "shape-is": ("tv", lambda t, s: t.shape == tuple(s)),
    "rank-is": ("tv", lambda t, n: t.rank == n),
    "dtype-is": ("tv", lambda t, d: t.dtype == d),
    "is-float": ("t", lambda t: is_float(t.dtype)),
    "is-wide-float": ("t", lambda t: t.dtype in ("float32", "float64")),
    "is-int": ("t", lambda t: is_int(t.dtype)),
    "fits-block": ("tv", _fits_block),
    "identity-perm": ("v", lambda p: tuple(p) == tuple(range(len(p)))),
    "perm-inverse": ("vv", lambda p, q: _perm_compose(p, q) == tuple(range(len(p)))),
    "param-only": ("t*", lambda *ts: True),
    "depends-on-input": ("t*", lambda *ts: True),
    "single-use": ("t*", lambda *ts: True),
    "ew-size-at-most": ("vv", lambda e, n: len(expr_ops(normalize_expr(e))) <= n),
    "not-divisible": ("vv", lambda a, b: b != 0 and a % b != 0),
    "vta-epilogue": ("v", lambda e: vta_epilogue_ok(tuple(e))),
    "float-epilogue": ("v", lambda e: all(step[0] in FLOAT_STEPS for step in e)),
    "is-8-bit": ("t", lambda t: t.dtype in INT8_OFFSET),
    "fits-int8": ("v", lambda a: -128 <= a <= 127),
    "has-padding": ("v", lambda p: any(p)),
    "fits-bits": ("vv", lambda n, b: isinstance(n, int) and 1 <= n < 1 << b),
    "at-most": ("vv", lambda a, b: a <= b),
    "finite-nonzero": ("v", lambda a: isinstance(a, int | float) and math.isfinite(a) and a != 0),
}


def evaluate(expr: Expr, env: Mapping[str, object]) -> object:
    """The value of `expr` with variables bound in `env` (TensorType for tensor variables)."""
    match expr:
        case Lit(value=value):
            return value
        case Var(name=name):
            return env[name]
        case Tup(items=items):
            return tuple(evaluate(e, env) for e in items)
        case Call(fn=fn, args=args):
            _, impl = FUNCTIONS[fn]
            return impl(*(evaluate(a, env) for a in args))


def holds(guard: Call, env: Mapping[str, object]) -> bool:
    """Whether the guard predicate holds; a guard whose arguments make no sense is false."""
    _, impl = PREDICATES[guard.fn]
    try:
        return bool(impl(*(evaluate(a, env) for a in guard.args)))
    except (IndexError, TypeError, ValueError, ZeroDivisionError):
        return False
