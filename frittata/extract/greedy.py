"""Greedy extraction: each e-class takes its e-node of least tree cost (Knuth's algorithm).

Classes are settled cheapest first from a priority queue, as in Dijkstra's algorithm: an
e-node becomes a candidate once every operand class is settled, at its own cost plus theirs,
and a class takes the first candidate popped for it. Costs are non-negative, so this reaches
the least fixed point of `cost(c) = min over e-nodes (own + sum of operand classes)` in
O(E log E), and the choice is acyclic by construction (a class only uses classes settled
before it). Tree cost counts a shared operand once per use; the result is then priced as a
DAG by the caller, and is an upper bound on the optimum. Ties break on e-node id, so the
result is deterministic.
"""

from __future__ import annotations

import heapq

from frittata.extract.problem import Problem


def greedy_choice(problem: Problem) -> dict[int, int]:
    """A choice for every class that has a finite term: e-class -> e-node id."""
    data = problem.data
    waiting, users = _index(problem)
    heap = [(problem.costs[n], n) for n, count in enumerate(waiting) if count == 0]
    heapq.heapify(heap)
    tree = [0.0] * len(data.classes)
    choice: dict[int, int] = {}
    while heap:
        cost, node_id = heapq.heappop(heap)
        cls = data.nodes[node_id].eclass
        if cls in choice:
            continue
        choice[cls], tree[cls] = node_id, cost
        for user in users[cls]:
            waiting[user] -= 1
            if waiting[user] == 0:
                total = problem.costs[user] + sum(tree[c] for c in data.nodes[user].children)
                heapq.heappush(heap, (total, user))
    return choice


def _index(problem: Problem) -> tuple[list[int], list[list[int]]]:
    """Per usable e-node the count of operand uses not yet settled; per class its users."""
    data = problem.data
    waiting = [-1] * len(data.nodes)
    users: list[list[int]] = [[] for _ in data.classes]
    for nodes in problem.candidates:
        for node_id in nodes:
            children = data.nodes[node_id].children
            waiting[node_id] = len(children)
            for child in children:
                users[child].append(node_id)
    return waiting, users
