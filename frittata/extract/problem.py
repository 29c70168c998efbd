"""An extraction problem: an `EGraphData` with every e-node priced and its usable e-nodes.

Both extractors read a `Problem`. Building one prices each e-node once with the cost model
(seconds, checked finite and >= 0), marks the e-classes whose value is a compile-time constant
(computed from parameters and constants only: a backend folds them, so their e-nodes are
priced with `constant=True`), and drops e-nodes that can never be part of an acyclic
extraction (an operand is the node's own e-class, or has no finite term at all), e-nodes the
target cannot run (priced `inf`), and e-nodes
dominated by a sibling that costs no more and needs a subset of its operand classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from frittata.errors import ExtractionError
from frittata.extract.cost import CostModel, NodeInfo, checked_cost
from frittata.rewrites.data import Choice, EGraphData, ENode
from frittata.terms.ops import Op


@dataclass(frozen=True)
class Problem:
    """`costs[n]` prices e-node n (seconds); `candidates[c]` are the usable e-nodes of class c."""

    data: EGraphData
    costs: tuple[float, ...]
    candidates: tuple[tuple[int, ...], ...]


def build_problem(data: EGraphData, model: CostModel) -> Problem:
    """Price every e-node of `data` with `model` and find the usable ones."""
    constant = constant_classes(data)
    costs = [checked_cost(model, enode_info(data, enode, constant)) for enode in data.nodes]
    return Problem(data, tuple(costs), _undominated(data, costs, _usable(data, costs)))


def enode_info(data: EGraphData, enode: ENode, constant: list[bool]) -> NodeInfo:
    """The `NodeInfo` extraction prices `enode` with (`constant` from `constant_classes`)."""
    operands = tuple(constant[c] for c in enode.children)
    return NodeInfo(enode.op, enode.attrs, data.classes[enode.eclass].type,
                    tuple(data.classes[c].type for c in enode.children),
                    enode.op != Op.INPUT and all(operands), operands, enode.children)


def constant_classes(data: EGraphData) -> list[bool]:
    """Per e-class: some e-node of it is built from parameters and constants only (fixed point)."""
    constant = [False] * len(data.classes)
    changed = True
    while changed:
        changed = False
        for enode in data.nodes:
            if not constant[enode.eclass] and enode.op != Op.INPUT and all(constant[c] for c in enode.children):
                constant[enode.eclass] = changed = True
    return constant


def _usable(data: EGraphData, costs: list[float]) -> tuple[tuple[int, ...], ...]:
    """Supported e-nodes (finite cost) whose operands all have a finite term, without self-loops."""
    finite = [False] * len(data.classes)
    changed = True
    while changed:
        changed = False
        for i, enode in enumerate(data.nodes):
            if not finite[enode.eclass] and _ok(enode, costs[i], finite):
                finite[enode.eclass] = changed = True
    return tuple(tuple(n for n in cls.nodes if _ok(data.nodes[n], costs[n], finite)) for cls in data.classes)


def _undominated(data: EGraphData, costs: list[float],
                 usable: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """Drop e-node b when a's cost <= b's and a's operand classes are a subset of b's.

    Any extraction using b stays valid and no dearer with a instead (a needs nothing more), so
    some optimum avoids b. Of two equal e-nodes the lower id stays.
    """
    kept = []
    for nodes in usable:
        needs = {n: frozenset(data.nodes[n].children) for n in nodes}
        ranked = sorted(nodes, key=lambda n: (costs[n], len(needs[n]), n))
        survivors: list[int] = []
        for b in ranked:
            if not any(needs[a] <= needs[b] for a in survivors):
                survivors.append(b)
        kept.append(tuple(sorted(survivors)))
    return tuple(kept)


def _ok(enode: ENode, cost: float, finite: list[bool]) -> bool:
    return math.isfinite(cost) and enode.eclass not in enode.children and all(finite[c] for c in enode.children)


def check_roots(problem: Problem) -> None:
    """Raise ExtractionError if some output's e-class has no finite term."""
    for name, cls in problem.data.roots.items():
        if not problem.candidates[cls]:
            raise ExtractionError(f"extract: expected a finite term for output {name!r}, got none in "
                                  f"e-class {cls} (every e-node is cyclic or unsupported by the cost model)")


def chosen_nodes(data: EGraphData, choice: Choice) -> list[int]:
    """The e-nodes a choice uses from the roots, each once, operands first (checks cycles)."""
    order: list[int] = []
    state: dict[int, int] = {}  # e-class -> 1 on the current path, 2 done
    for root in data.roots.values():
        stack = [(root, False)]
        while stack:
            cls, expanded = stack.pop()
            if expanded:
                state[cls] = 2
                order.append(choice[cls])
                continue
            if state.get(cls) == 2:
                continue
            if state.get(cls) == 1:
                raise ExtractionError(f"extract: expected an acyclic choice, got a cycle through e-class {cls}")
            node_id = _pick(data, choice, cls)
            state[cls] = 1
            stack.append((cls, True))
            stack.extend((c, False) for c in reversed(data.nodes[node_id].children) if state.get(c) != 2)
    return order


def _pick(data: EGraphData, choice: Choice, cls: int) -> int:
    if cls not in choice:
        raise ExtractionError(f"extract: expected a choice for e-class {cls}, got none")
    node_id = choice[cls]
    if not 0 <= node_id < len(data.nodes) or data.nodes[node_id].eclass != cls:
        raise ExtractionError(f"extract: expected an e-node of e-class {cls}, got e-node {node_id}")
    return node_id


def dag_cost(problem: Problem, choice: Choice) -> float:
    """Seconds of a choice with every distinct chosen e-node paid once (DAG cost)."""
    return float(sum(problem.costs[n] for n in chosen_nodes(problem.data, choice)))


def canonical(problem: Problem, choice: Choice) -> dict[int, int]:
    """The choice with every dropped e-node replaced by a candidate that dominates it.

    Valid for acyclic choices (a dominator needs a subset of the operands, so no cycle appears)
    and never dearer; e-nodes dropped as cyclic cannot occur in an acyclic choice.
    """
    out = {}
    for cls, node_id in choice.items():
        if node_id in problem.candidates[cls]:
            out[cls] = node_id
            continue
        needs = set(problem.data.nodes[node_id].children)
        better = [n for n in problem.candidates[cls]
                  if problem.costs[n] <= problem.costs[node_id] and set(problem.data.nodes[n].children) <= needs]
        out[cls] = min(better) if better else node_id
    return out
