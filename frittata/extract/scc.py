"""Strongly connected components of a graph (Tarjan's algorithm, iterative)."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def components(vertices: Iterable[int], successors: Callable[[int], list[int]]) -> dict[int, int]:
    """A component label per vertex; two vertices share a label iff each reaches the other.

    Successors outside `vertices` are ignored. Iterative, so deep graphs do not recurse.
    """
    members = set(vertices)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    label: dict[int, int] = {}
    on_stack: list[int] = []
    for start in sorted(members):
        if start not in index:
            _visit(start, members, successors, index, low, label, on_stack)
    return label


def _visit(start, members, successors, index, low, label, on_stack) -> None:
    stack = [(start, iter(successors(start)))]
    index[start] = low[start] = len(index)
    on_stack.append(start)
    while stack:
        vertex, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[vertex])
            if low[vertex] == index[vertex]:
                _pop_component(vertex, label, on_stack)
        elif child in members and child not in index:
            index[child] = low[child] = len(index)
            on_stack.append(child)
            stack.append((child, iter(successors(child))))
        elif child in members and child not in label:
            low[vertex] = min(low[vertex], index[child])


def _pop_component(root: int, label: dict[int, int], on_stack: list[int]) -> None:
    while True:
        vertex = on_stack.pop()
        label[vertex] = root
        if vertex == root:
            return
