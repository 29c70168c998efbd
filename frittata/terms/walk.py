"""Traversal of term DAGs: every node once, children before parents."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from frittata.terms.term import Term


def postorder(roots: Iterable[Term]) -> list[Term]:
    """Every term reachable from `roots`, each once, children before parents (iterative)."""
    seen: set[int] = set()
    order: list[Term] = []
    for root in roots:
        if id(root) in seen:
            continue
        stack: list[tuple[Term, Iterator[Term]]] = [(root, iter(root.args))]
        seen.add(id(root))
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                order.append(node)
            elif id(child) not in seen:
                seen.add(id(child))
                stack.append((child, iter(child.args)))
    return order
