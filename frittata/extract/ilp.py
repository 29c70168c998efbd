"""Exact extraction: solve the extraction ILP, warm-started from a greedy choice.

The greedy choice is the solver's first incumbent (an upper bound), the objective is scaled so
that the greedy cost is `OBJECTIVE_SCALE` (the solver's absolute tolerances then mean nothing
at the scale of seconds), and the solver stops after `time_limit` CPU seconds of this process
(`ilp_solvers`) or when its relative gap is below `rel_gap`. The result carries the proven lower
bound, so a run cut short by the limit still says how far from optimal it may be. A run that
ends before the limit is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frittata.extract.ilp_model import IlpModel, arrays, build_ilp
from frittata.extract.ilp_solvers import solve
from frittata.extract.problem import Problem, chosen_nodes

OBJECTIVE_SCALE = 1e6
"""The greedy cost maps to this many objective units (HiGHS's feasibility scale is ~1e-6)."""


@dataclass(frozen=True)
class IlpResult:
    """A choice, the solver's status word, its proven lower bound (seconds), optimality."""

    choice: dict[int, int]
    status: str
    lower_bound: float
    optimal: bool


def solve_ilp(problem: Problem, start: dict[int, int], start_cost: float,
              time_limit: float, rel_gap: float) -> IlpResult:
    """The best choice the solver finds within `time_limit` CPU seconds; `start` if it finds none."""
    model = build_ilp(problem)
    scale = OBJECTIVE_SCALE / start_cost if start_cost > 0 else 1.0
    out = solve(arrays(problem, model, scale), _start_values(problem, model, start), time_limit, rel_gap)
    bound = max(0.0, out.bound / scale) if np.isfinite(out.bound) else 0.0
    if out.values is None:
        return IlpResult(dict(start), out.status, min(bound, start_cost), False)
    return IlpResult(_decode(problem, model, out.values), out.status, bound, out.optimal)


def _start_values(problem: Problem, model: IlpModel, start: dict[int, int]) -> np.ndarray:
    """Column values of a choice: its reachable e-nodes set, order values from depth."""
    used = chosen_nodes(problem.data, start)
    chosen = set(used)
    height: dict[int, int] = {}
    for node_id in used:  # operands first
        enode = problem.data.nodes[node_id]
        label = model.component.get(enode.eclass)
        inner = [height[c] + 1 for c in enode.children if label is not None and model.component.get(c) == label]
        height[enode.eclass] = max(inner, default=0)
    return np.array([1.0 if n in chosen else 0.0 for n in model.nodes]
                    + [float(height.get(c, 0)) for c in model.order_classes])


def _decode(problem: Problem, model: IlpModel, values: np.ndarray) -> dict[int, int]:
    """E-class -> the e-node set to 1 (the highest value wins if rounding left several)."""
    best: dict[int, tuple[float, int]] = {}
    for column, node_id in enumerate(model.nodes):
        cls = problem.data.nodes[node_id].eclass
        if values[column] > 0.5 and (cls not in best or values[column] > best[cls][0]):
            best[cls] = (values[column], node_id)
    return {cls: node_id for cls, (_, node_id) in best.items()}
