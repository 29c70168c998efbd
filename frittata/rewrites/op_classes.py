"""Operator classes a rule's pattern head can stand for: `(@unary ...)`, `(@binary ...)`, ...

`op_class` is the one lookup the rule language uses: the classes are the operator table's
(`frittata.terms.ops.CLASSES`, each op naming its classes where its family defines it).
"""

from __future__ import annotations

from frittata.terms.ops import CLASSES, Op, ops_in_class


def class_names() -> list[str]:
    """The class names a head `@NAME` may use, sorted."""
    return sorted(CLASSES)


def op_class(name: str) -> tuple[Op, ...] | None:
    """The operators of class `name` sorted by name (a stable instance order), or None."""
    if name not in CLASSES:
        return None
    return tuple(sorted(ops_in_class(name), key=lambda op: op.value))
