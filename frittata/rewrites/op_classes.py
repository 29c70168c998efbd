"""Operator classes a rule's pattern head can stand for: `(@unary ...)`, `(@binary ...)`, ...

`op_class` is the one lookup the rule language uses, so the classes can come from another
table (an operator table with per-op class flags) by changing this module alone.
"""

from __future__ import annotations

from frittata.terms.ops import BINARY, ELEMENTWISE, UNARY, Op

_CLASSES: dict[str, frozenset[Op]] = {
    "unary": UNARY,          # elementwise, one operand (neg, relu, clip, cast, ...)
    "binary": BINARY,        # elementwise, two broadcast operands (add, mul, maximum, ...)
    "elementwise": ELEMENTWISE,
}


def class_names() -> list[str]:
    """The class names a head `@NAME` may use, sorted."""
    return sorted(_CLASSES)


def op_class(name: str) -> tuple[Op, ...] | None:
    """The operators of class `name` sorted by name (a stable instance order), or None."""
    ops = _CLASSES.get(name)
    return None if ops is None else tuple(sorted(ops, key=lambda op: op.value))
