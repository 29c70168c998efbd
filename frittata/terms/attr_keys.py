"""Keys of attribute values by type and exact value, for interning terms and caching on attributes.

Python's `==` (and so `hash`, dict and `lru_cache` lookups) calls `-0.0` and `0.0` equal, and
`1`, `1.0` and `True`, yet an operator can tell them apart: `clip(x, -0.0, None)` is
`np.maximum(x, -0.0)`, which gives -0.0 for x = +0.0, and `1 / const(-0.0)` is -inf. A NaN is
unequal even to itself. `exact_key(v)` is equal for two values only where they are the same value
of the same type: floats compare by their bits (so NaNs by their payload, and each matches
itself), bools apart from ints, tuples and lists element by element.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

import numpy as np

__all__ = ["exact_key", "exact_cache"]

_F64 = struct.Struct("<d")
R = TypeVar("R")


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


def exact_cache(maxsize: int) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """`functools.lru_cache` keyed by `exact_key` of the arguments, not by their `==`."""

    def wrap(fn: Callable[..., R]) -> Callable[..., R]:
        @lru_cache(maxsize=maxsize)
        def keyed(key: Any, *args: Any) -> R:
            return fn(*args)

        @wraps(fn)
        def call(*args: Any) -> R:
            return keyed(exact_key(args), *args)

        call.cache_clear = keyed.cache_clear  # type: ignore[attr-defined]
        return call

    return wrap
