"""Exact extraction: solve the extraction ILP with HiGHS, warm-started from a greedy choice.

The greedy choice is handed to HiGHS as its first incumbent (an upper bound), the objective is
scaled so that the greedy cost is `OBJECTIVE_SCALE` (HiGHS's absolute tolerances then mean
nothing at the scale of seconds), and the solver stops at `time_limit` seconds or when its
relative gap is below `rel_gap`. The result reports the proven lower bound, so a run cut short
by the clock still says how far from optimal it may be. HiGHS runs on one thread with a fixed
seed, so a run that ends before the clock is deterministic.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from frittata.extract.ilp_model import IlpModel, build_ilp
from frittata.extract.problem import Problem, chosen_nodes

OBJECTIVE_SCALE = 1e6
"""The greedy cost maps to this many objective units (HiGHS's feasibility scale is ~1e-6)."""


@dataclass(frozen=True)
class IlpResult:
    """A choice, the solver's status word and its proven lower bound (seconds)."""

    choice: dict[int, int]
    status: str
    lower_bound: float
    optimal: bool


def solve_ilp(problem: Problem, start: dict[int, int], start_cost: float,
              time_limit: float, rel_gap: float) -> IlpResult:
    """The best choice HiGHS finds within `time_limit` s, never worse than `start`."""
    model = build_ilp(problem)
    scale = OBJECTIVE_SCALE / start_cost if start_cost > 0 else 1.0
    highs = _highs(time_limit, rel_gap)
    highs.passModel(_lp(problem, model, scale))
    highs.setSolution(_start_solution(problem, model, start))
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    info = highs.getInfo()
    bound = max(0.0, float(info.mip_dual_bound) / scale)
    optimal = highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
    if info.primal_solution_status != 2:  # no feasible solution: keep the greedy one
        return IlpResult(dict(start), status, min(bound, start_cost), False)
    values = np.asarray(highs.getSolution().col_value)
    return IlpResult(_decode(problem, model, values), status, bound, optimal)


def _highs(time_limit: float, rel_gap: float) -> highspy.Highs:
    highs = _quiet_new_highs()
    for option, value in (("output_flag", False), ("time_limit", float(time_limit)), ("threads", 1),
                          ("random_seed", 0), ("mip_rel_gap", float(rel_gap)), ("mip_abs_gap", 0.0)):
        highs.setOptionValue(option, value)
    return highs


def _quiet_new_highs() -> highspy.Highs:
    """A HiGHS instance, with its copyright banner (printed to fd 1 by the first construction in a
    process, before any option can be set) sent to /dev/null so CLI output stays clean."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _lp(problem: Problem, model: IlpModel, scale: float) -> highspy.HighsLp:
    """The model as a HighsLp in row-wise sparse form."""
    n_x, n = len(model.nodes), model.n_columns
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(model.rows)
    lp.col_cost_ = np.array([problem.costs[i] * scale for i in model.nodes] + [0.0] * (n - n_x))
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.array([1.0] * n_x + [model.component_size[c] - 1.0 for c in model.order_classes])
    lp.row_lower_ = np.array([r[0] for r in model.rows])
    lp.row_upper_ = np.array([r[1] for r in model.rows])
    starts, index, value = [0], [], []
    for _, _, entries in model.rows:
        index.extend(col for col, _ in entries)
        value.extend(coef for _, coef in entries)
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = np.array(starts), np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_x + [highspy.HighsVarType.kContinuous] * (n - n_x)
    return lp


def _start_solution(problem: Problem, model: IlpModel, start: dict[int, int]) -> highspy.HighsSolution:
    """Column values of a choice: its reachable e-nodes set, order values from depth."""
    used = chosen_nodes(problem.data, start)
    chosen = set(used)
    height: dict[int, int] = {}
    for node_id in used:  # operands first
        enode = problem.data.nodes[node_id]
        label = model.component.get(enode.eclass)
        inner = [height[c] + 1 for c in enode.children if label is not None and model.component.get(c) == label]
        height[enode.eclass] = max(inner, default=0)
    solution = highspy.HighsSolution()
    solution.col_value = ([1.0 if n in chosen else 0.0 for n in model.nodes]
                          + [float(height.get(c, 0)) for c in model.order_classes])
    solution.value_valid = True
    return solution


def _decode(problem: Problem, model: IlpModel, values: np.ndarray) -> dict[int, int]:
    """E-class -> the e-node set to 1 (the highest value wins if rounding left several)."""
    best: dict[int, tuple[float, int]] = {}
    for column, node_id in enumerate(model.nodes):
        cls = problem.data.nodes[node_id].eclass
        if values[column] > 0.5 and (cls not in best or values[column] > best[cls][0]):
            best[cls] = (values[column], node_id)
    return {cls: node_id for cls, (_, node_id) in best.items()}
