"""Normal forms of attributes that several op families share: pairs, 4-sided pads, axes."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType


def pair(v: int | Sequence[int], name: str) -> tuple[int, int]:
    """An int or two ints as a pair of ints."""
    both = (v, v) if isinstance(v, int) else tuple(v)
    if len(both) != 2:
        raise FrittataTypeError(f"expected {name} as an int or 2 ints, got {v!r}")
    return (int(both[0]), int(both[1]))


def pads4(v: int | Sequence[int]) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right), from an int, (h, w) or 4 ints."""
    pads = (v,) * 4 if isinstance(v, int) else tuple(v)
    if len(pads) == 2:
        pads = pads * 2
    if len(pads) != 4:
        raise FrittataTypeError(f"expected pads as an int, 2 or 4 ints, got {v!r}")
    return tuple(int(p) for p in pads)  # type: ignore[return-value]


def axis(value: int, rank: int, op: str) -> int:
    """A possibly negative axis of a tensor of `rank` as a non-negative one."""
    if not -rank <= value < builtins.max(rank, 1):
        raise FrittataTypeError(f"{op}: expected axis in [{-rank}, {rank}), got {value}")
    return value % rank if rank else 0


def ints(value: Any, first: TensorType | None) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


def as_pair(name: str):
    """An `Attr.normalize` for pair attributes."""
    return lambda value, first: pair(value, name)


def as_pads(value: Any, first: TensorType | None) -> tuple[int, int, int, int]:
    return pads4(value)


def as_int(value: Any, first: TensorType | None) -> int:
    return int(value)


def as_float(value: Any, first: TensorType | None) -> float:
    return float(value)


def as_bool(value: Any, first: TensorType | None) -> bool:
    return bool(value)


def as_axis(op: str):
    """An `Attr.normalize` for an axis of the first operand (negative counts from the end)."""
    return lambda value, first: int(value) if first is None else axis(int(value), first.rank, op)
