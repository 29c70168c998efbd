"""Keys of attribute values by type and exact value, for interning terms and caching on attributes.

Python's `==` (and so `hash`, dict and `lru_cache` lookups) calls `-0.0` and `0.0` equal, and
`1`, `1.0` and `True`, yet an operator can tell them apart: `clip(x, -0.0, None)` is
`np.maximum(x, -0.0)`, which gives -0.0 for x = +0.0, and `1 / const(-0.0)` is -inf. A NaN is
unequal even to itself. `exact_key(v)` is equal for two values only where they are the same value
of the same type: floats compare by their bits (so NaNs by their payload, and each matches
itself), bools apart from ints, tuples and lists element by element. `values_key(t)` keys a tuple
the same way (a list apart from a tuple) at a tenth of the cost where marshal can write its
items: terms are interned and `exact_cache` caches by it.

`same_number(a, b)` is the equality of a rule's pattern: a number written in a rule (`:value 0`)
stands for that number in whatever kind the operator keeps it (0, 0.0, False), but its sign too:
`0` is not `-0.0`, and a NaN only matches a NaN.
"""

from __future__ import annotations

import marshal
import math
import numbers
import struct
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import numpy as np

__all__ = ["exact_key", "exact_cache", "same_number", "values_key"]

_F64 = struct.Struct("<d")
R = TypeVar("R")
_NUMBERS = (numbers.Real, np.number, np.bool_)


def exact_key(value: Any) -> Any:
    """A hashable key of `value` equal to another's only for the same type and exact value."""
    match value:
        case np.generic():
            return (np.generic, value.dtype.str, value.tobytes())
        case bool() | int() | str() | None:
            return (type(value), value)
        case float():
            return (float, _F64.pack(value))
        case tuple() | list():
            return (tuple, tuple(exact_key(v) for v in value))
        case _:
            return (type(value), value)


def same_number(a: Any, b: Any) -> bool:
    """Whether attribute values `a` and `b` are the same: numbers equal in value and sign (so
    `0 == 0.0` but not `-0.0`; NaN only with NaN), anything else by `==`; tuples and lists item
    by item."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_number(x, y) for x, y in zip(a, b))
    if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return bool(a == b) and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def exact_cache(maxsize: int) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A cache of `fn`'s results keyed by the exact value of its arguments, not by their `==`;
    it keeps the `maxsize` newest keys.

    The key is `marshal`'s bytes of the arguments where marshal writes them (plain ints, floats,
    bools, strings, None and containers of them): those are equal only for the same types and
    bits, and cost about a tenth of `exact_key`, which every other argument falls back to. The
    e-graph asks `egraph_match` the same few questions hundreds of thousands of times on a
    ResNet-50, so the key's cost is the cache's cost."""

    def wrap(fn: Callable[..., R]) -> Callable[..., R]:
        table: dict[Any, R] = {}

        @wraps(fn)
        def call(*args: Any) -> R:
            key = values_key(args)
            if key in table:
                return table[key]
            result = fn(*args)
            if len(table) >= maxsize:
                table.pop(next(iter(table), None), None)
            table[key] = result
            return result

        call.cache_clear = table.clear  # type: ignore[attr-defined]
        return call

    return wrap


def values_key(args: tuple) -> Any:
    """A key of the tuple `args` equal to another's only for the same types and exact values
    (as `exact_key`, except that a list is not a tuple): marshal's bytes of `args` (format 2
    writes no back-references, so equal values give equal bytes whoever else holds them; floats
    by their bits), else a tuple of each argument's: its bytes, or its `exact_key` where marshal
    cannot write it (numpy scalars, enums, other objects). Bytes never equal a tuple, and an
    argument of a given type always takes the same road."""
    try:
        return marshal.dumps(args, 2)
    except ValueError:
        return tuple(_value_key(a) for a in args)


def _value_key(value: Any) -> Any:
    try:
        return marshal.dumps(value, 2)
    except ValueError:
        return exact_key(value)


def holds_list(value: Any) -> bool:
    """Whether `value` is a list or a tuple holding one at any depth."""
    return isinstance(value, list) or (isinstance(value, tuple) and any(holds_list(v) for v in value))
