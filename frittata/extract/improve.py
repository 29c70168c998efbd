"""DAG-aware local search: switch one e-class at a time while the DAG cost drops.

Greedy extraction prices a shared operand once per use, so it can miss a choice that is
cheaper once sharing is counted (e.g. fusing a residual add into the convolution whose operand
is needed anyway). This pass visits the e-classes a choice uses, tries each alternative e-node,
prices the whole choice as a DAG (operands not yet used take their choice from `fallback`),
and keeps a switch that lowers the cost; cyclic switches are skipped. Passes repeat until none
helps or `max_passes` is reached. Visiting order is sorted, so the result is deterministic.
"""

from __future__ import annotations

from frittata.errors import ExtractionError
from frittata.extract.problem import Problem, chosen_nodes

MAX_PASSES = 3
MAX_NODES = 5_000
"""Above this many usable e-nodes the pass is skipped: each trial prices the whole DAG, so a
pass is quadratic (about 0.4 s at 1 500 e-nodes on the project machine)."""
RELATIVE_GAIN = 1e-9
"""A switch must lower the cost by more than this fraction to count (float noise is not a gain)."""


def improve(problem: Problem, choice: dict[int, int], fallback: dict[int, int],
            max_passes: int = MAX_PASSES) -> tuple[dict[int, int], float]:
    """A choice no dearer than `choice`, and its DAG cost; both choices must be acyclic."""
    current = {**fallback, **choice}
    cost = _cost(problem, current)
    if sum(len(nodes) for nodes in problem.candidates) > MAX_NODES:
        max_passes = 0
    for _ in range(max_passes):
        improved = False
        for cls in sorted({problem.data.nodes[n].eclass for n in chosen_nodes(problem.data, current)}):
            for alt in problem.candidates[cls]:
                if alt == current[cls]:
                    continue
                trial = {**current, cls: alt}
                trial_cost = _cost(problem, trial)
                if trial_cost < cost * (1 - RELATIVE_GAIN):
                    current, cost, improved = trial, trial_cost, True
        if not improved:
            break
    used = chosen_nodes(problem.data, current)
    return {problem.data.nodes[n].eclass: n for n in used}, cost


def _cost(problem: Problem, choice: dict[int, int]) -> float:
    """DAG cost of a choice, or infinity if it is cyclic."""
    try:
        return float(sum(problem.costs[n] for n in chosen_nodes(problem.data, choice)))
    except ExtractionError:
        return float("inf")
