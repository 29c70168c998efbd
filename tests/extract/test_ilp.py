"""The ILP extractor at the scale of seconds: costs of microseconds still reach the optimum; the
greedy warm start is a feasible point of the ILP; the time limit counts CPU seconds, HiGHS's
wall-clock limit backs it up, and both solvers report the stop in the same words."""

import re
import time
from pathlib import Path

import numpy as np
import pytest

from frittata.extract import CpuModel, extract
from frittata.extract.cost import as_cost_model
from frittata.extract.ilp import _start_values
from frittata.extract.ilp_model import arrays, build_ilp
from frittata.extract import ilp_solvers
from frittata.extract.ilp_solvers import TIME_LIMIT_STATUS, _CpuDeadline
from frittata.extract.problem import build_problem, chosen_nodes
from tests.extract.egraphs import attr_cost, brute_force, dag_cost_of, seeded_egraph

MICROSECONDS = 1e-6


def micro_cost(info) -> float:
    return attr_cost(info) * MICROSECONDS


@pytest.mark.parametrize("seed", [2, 18, 1249, 1395])
def test_the_optimum_is_found_when_costs_are_microseconds(seed):
    """E-graphs where greedy is not optimal (by 0.25 to 1.75 units): priced in microseconds, the
    whole program costs less than the solver's absolute tolerances (~1e-6); the objective is
    scaled so that the greedy start costs 1e6 units, so the solver still proves the optimum."""
    data = seeded_egraph(seed, n_classes=8)
    best = brute_force(data) * MICROSECONDS
    _, greedy = extract(data, micro_cost, method="greedy")
    assert greedy.cost > best * (1 + 1e-6)
    choice, report = extract(data, micro_cost, method="ilp", rel_gap=0.0)
    assert report.optimal and dag_cost_of(data, choice) * MICROSECONDS == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed, n_classes", [(1, 8), (18, 8), (26, 8), (24, 10)])
def test_the_warm_start_is_a_feasible_point_of_the_ilp(seed, n_classes):
    """The greedy choice handed to the solver as its start satisfies every row and column bound
    of the ILP, the order rows inside cycle components included: each ordered class on the
    chosen path sits above the ordered operands it uses (these e-graphs' greedy choices use
    such an edge; seed 24's of 10 classes chains two, where order values one step too high per
    level pass their bound, the component's size less one). An infeasible start is dropped by the
    solver, which then searches without an incumbent."""
    data = seeded_egraph(seed, n_classes=n_classes)
    problem = build_problem(data, as_cost_model(attr_cost))
    start, _ = extract(data, attr_cost, method="greedy")
    model = build_ilp(problem)
    ilp = arrays(problem, model, 1.0)
    x = _start_values(problem, model, start)
    ordered = model.component
    assert any(c in ordered and ordered[c] == ordered.get(data.nodes[n].eclass)
               for n in chosen_nodes(data, start) for c in data.nodes[n].children)
    assert np.all(x >= 0) and np.all(x <= ilp.col_upper)
    rows = np.array([ilp.value[a:b] @ x[ilp.index[a:b]] for a, b in zip(ilp.starts[:-1], ilp.starts[1:])])
    assert np.all(rows >= ilp.row_lower - 1e-9) and np.all(rows <= ilp.row_upper + 1e-9)


def test_the_time_limit_stops_the_solver_and_keeps_the_greedy_start(zoo_saturated, monkeypatch):
    """A limit of 0 CPU seconds interrupts the solver at its first MIP callback (HiGHS's
    wall-clock backstop is a second away): the report says "Time limit reached" (HiGHS's own word
    for its limit), not optimal, and the choice is the greedy start's cost with a lower bound
    below it."""
    deadlines: list[_CpuDeadline] = []

    class Recorded(_CpuDeadline):
        def __init__(self, seconds: float) -> None:
            super().__init__(seconds)
            deadlines.append(self)

    monkeypatch.setattr(ilp_solvers, "_CpuDeadline", Recorded)
    data, _ = zoo_saturated("transformer_block")
    _, report = extract(data, CpuModel(vector_lanes=8), method="ilp", time_limit=0.0)
    assert report.status == TIME_LIMIT_STATUS and not report.optimal
    assert report.cost == report.greedy_cost and report.lower_bound <= report.cost
    assert [d.hit for d in deadlines] == [True]


class _Unheeded(_CpuDeadline):
    """A deadline seen as passed at every callback that never interrupts the solver."""

    def __call__(self, event) -> None:
        self.hit = True


def test_the_wall_clock_backstop_stops_what_the_callback_does_not(zoo_saturated, monkeypatch):
    """HiGHS's own wall-clock limit stays on as a backstop (presolve, a node's LP and the
    heuristics run between two MIP callbacks): with the callback never interrupting and the
    backstop at 4 x 0 + 0 s, the solver still stops at once, with the greedy start."""
    monkeypatch.setattr(ilp_solvers, "_CpuDeadline", _Unheeded)
    monkeypatch.setattr(ilp_solvers, "WALL_BACKSTOP_SLACK", 0.0)
    data, _ = zoo_saturated("transformer_block")
    _, report = extract(data, CpuModel(vector_lanes=8), method="ilp", time_limit=0.0)
    assert report.status == TIME_LIMIT_STATUS and not report.optimal
    assert report.cost == report.greedy_cost


def test_the_stop_reads_the_model_status_not_the_callback(zoo_saturated, monkeypatch):
    """A callback that found the deadline passed but whose interrupt HiGHS did not act on (it
    finished first) leaves HiGHS's own status: an optimal solve says "Optimal"."""
    monkeypatch.setattr(ilp_solvers, "_CpuDeadline", _Unheeded)
    data, _ = zoo_saturated("transformer_block")
    _, report = extract(data, CpuModel(vector_lanes=8), method="ilp", time_limit=5.0)
    assert report.status == "Optimal" and report.optimal


def test_scipy_reports_the_stop_in_the_same_words(zoo_saturated, monkeypatch):
    """Without highspy, scipy's milp (its own message "Time limit reached. (HiGHS Status 13:
    ...)") reports `TIME_LIMIT_STATUS` for a run its limit stopped and "Optimal" for a solved one,
    as the highspy path does."""
    monkeypatch.setattr(ilp_solvers, "highspy", None)
    data, _ = zoo_saturated("transformer_block")
    _, stopped = extract(data, CpuModel(vector_lanes=8), method="ilp", time_limit=0.0)
    _, solved = extract(data, CpuModel(vector_lanes=8), method="ilp", time_limit=5.0)
    assert (stopped.status, stopped.optimal) == (TIME_LIMIT_STATUS, False)
    assert (solved.status, solved.optimal) == ("Optimal", True)


def test_the_highspy_floor_has_the_mip_interrupt_callback():
    """The deadline subscribes to `Highs.cbMipInterrupt` (highspy 1.8.0 and later) and calls
    `HighsCallbackEvent.interrupt` (1.11.0 and later; HiGHS's tags v1.8.0 and v1.11.0): the
    floor pyproject.toml states has both, as the installed highspy does."""
    import highspy

    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    floor = re.search(r'"highspy>=([0-9.]+)"', text)
    assert floor is not None and tuple(int(part) for part in floor.group(1).split(".")) >= (1, 11)
    assert hasattr(highspy.Highs, "cbMipInterrupt") and hasattr(highspy.highs.HighsCallbackEvent, "interrupt")


def test_the_time_limit_counts_cpu_seconds_not_the_wall_clock():
    """Wall time the process spends waiting (here asleep, on a loaded host descheduled) does not
    spend the limit; CPU time does."""

    class Event:
        interrupted = False

        def interrupt(self):
            self.interrupted = True

    deadline, event = _CpuDeadline(0.05), Event()
    time.sleep(0.1)
    deadline(event)
    assert not event.interrupted and not deadline.hit
    spin = time.process_time() + 0.06
    while time.process_time() < spin:
        pass
    deadline(event)
    assert event.interrupted and deadline.hit
