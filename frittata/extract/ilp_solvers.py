"""The two MILP back ends of the exact extractor: HiGHS through highspy, or scipy's milp.

highspy is preferred: it takes the greedy choice as a starting incumbent. scipy.optimize.milp
runs the same HiGHS solver without a warm start; it is used when highspy is not installed.
Both run single-threaded with fixed seeds and return the same `SolverOutput`.

The time limit counts this process's CPU seconds (`time.process_time`), as saturation's does: a
host loaded by other processes neither stops the solver early nor changes where it stops. With
highspy, HiGHS's MIP interrupt callback (highspy 1.11 or later: `HighsCallbackEvent.interrupt`)
stops the branch and bound once the CPU seconds are spent. HiGHS checks that callback between
nodes only (its simplex interrupt never fires inside a MIP: the node LPs run in an inner solver
without the user's callbacks), so presolve, a node's LP and the heuristics between two checks are
bounded by HiGHS's own wall-clock limit, kept as a backstop at `WALL_BACKSTOP` times the CPU limit
plus `WALL_BACKSTOP_SLACK` seconds. scipy's milp takes no callback: its limit is HiGHS's
wall-clock one. Either solver reports the stop as `TIME_LIMIT_STATUS` when its model status says
it was stopped (the callback's interrupt or the wall-clock limit), else HiGHS's model status.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from frittata.extract.ilp_model import Arrays

try:
    import highspy
except ImportError:  # scipy's bundled HiGHS is the fallback
    highspy = None  # type: ignore[assignment]  # solve() then uses scipy


@dataclass(frozen=True)
class SolverOutput:
    """Column values (None without a feasible solution), status text, dual bound, optimality."""

    values: np.ndarray | None
    status: str
    bound: float
    optimal: bool


TIME_LIMIT_STATUS = "Time limit reached"
"""The status a run stopped by the time limit reports (HiGHS's word for its own limit)."""

WALL_BACKSTOP = 4.0
"""HiGHS's wall-clock limit is this many times the CPU limit (plus `WALL_BACKSTOP_SLACK`): what
stops the stretches the MIP interrupt callback does not reach, on a host loaded up to about four
runnable threads per core before the backstop rather than the CPU limit stops a search."""

WALL_BACKSTOP_SLACK = 1.0
"""Seconds of wall clock added to the backstop, so that a limit of a few CPU milliseconds is still
the callback's to enforce on a loaded host."""

_SCIPY_STATUS = {0: "Optimal", 2: "Infeasible", 3: "Unbounded"}
"""scipy milp's status codes as HiGHS's model status words (1, a time or iteration limit, is told
apart by its message)."""


def solve(ilp: Arrays, start: np.ndarray, time_limit: float, rel_gap: float) -> SolverOutput:
    """Minimize the ILP within `time_limit` CPU seconds of this process (scipy: wall seconds), to
    relative gap `rel_gap`."""
    if highspy is None:
        return _scipy(ilp, time_limit, rel_gap)
    return _highspy(ilp, start, time_limit, rel_gap)


def _scipy(ilp: Arrays, time_limit: float, rel_gap: float) -> SolverOutput:
    """scipy's milp, imported here: scipy.optimize took 0.4 s of CPU to import, paid by every
    compiling process although highspy solves when it is installed."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    matrix = csr_matrix((ilp.value, ilp.index, ilp.starts), shape=(len(ilp.row_lower), len(ilp.cost)))
    result = milp(ilp.cost, integrality=ilp.integer, bounds=Bounds(0.0, ilp.col_upper),
                  constraints=LinearConstraint(matrix, ilp.row_lower, ilp.row_upper),
                  options={"time_limit": time_limit, "mip_rel_gap": rel_gap, "disp": False})
    bound = getattr(result, "mip_dual_bound", None)
    timed_out = result.status == 1 and result.message.startswith(TIME_LIMIT_STATUS)
    text = TIME_LIMIT_STATUS if timed_out else _SCIPY_STATUS.get(result.status, result.message)
    return SolverOutput(result.x, text, -np.inf if bound is None else float(bound), result.status == 0)


def _highspy(ilp: Arrays, start: np.ndarray, time_limit: float, rel_gap: float) -> SolverOutput:
    highs = _quiet_new_highs()
    wall = WALL_BACKSTOP * time_limit + WALL_BACKSTOP_SLACK
    for option, value in (("output_flag", False), ("threads", 1), ("random_seed", 0), ("time_limit", wall),
                          ("mip_rel_gap", float(rel_gap)), ("mip_abs_gap", 0.0)):
        highs.setOptionValue(option, value)
    highs.cbMipInterrupt += _CpuDeadline(time_limit)
    highs.passModel(_lp(ilp))
    solution = highspy.HighsSolution()
    solution.col_value = list(start)
    solution.value_valid = True
    highs.setSolution(solution)
    highs.run()
    info, status = highs.getInfo(), highs.getModelStatus()
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.asarray(highs.getSolution().col_value) if feasible else None
    stopped = status in (highspy.HighsModelStatus.kInterrupt, highspy.HighsModelStatus.kTimeLimit)
    text = TIME_LIMIT_STATUS if stopped else highs.modelStatusToString(status)
    return SolverOutput(values, text, float(info.mip_dual_bound), status == highspy.HighsModelStatus.kOptimal)


class _CpuDeadline:
    """A HiGHS interrupt callback: interrupts once `seconds` of this process's CPU time have
    passed since it was made; `hit` says whether it did."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.process_time() + seconds
        self.hit = False

    def __call__(self, event) -> None:
        if time.process_time() >= self.deadline:
            self.hit = True
            event.interrupt()


def _lp(ilp: Arrays):
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(ilp.cost), len(ilp.row_lower)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = ilp.cost, np.zeros(len(ilp.cost)), ilp.col_upper
    lp.row_lower_, lp.row_upper_ = ilp.row_lower, ilp.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = ilp.starts, ilp.index, ilp.value
    kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
    lp.integrality_ = [kinds[k] for k in ilp.integer]
    return lp


def _quiet_new_highs():
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
