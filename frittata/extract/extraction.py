"""`extract`: pick one e-node per e-class so the program's DAG cost is least, and say how sure.

The greedy extractor always runs (it is fast and gives an upper bound); the input program's own
choice (`EGraphData.original`) is priced too, the cheaper of the two is refined by DAG-aware
local search (`improve`), and that is the greedy result, so extraction never returns a program
the model prices above the one that went in. The exact
ILP extractor then runs, warm-started from that result, when asked (`method="ilp"`) or when
the e-graph is small enough (`method="auto"` and at most `ILP_MAX_NODES` usable e-nodes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from frittata.errors import ExtractionError
from frittata.extract.cost import CostLike, as_cost_model
from frittata.extract.greedy import greedy_choice
from frittata.extract.ilp import solve_ilp
from frittata.extract.ilp_model import reachable_classes
from frittata.extract.improve import improve
from frittata.extract.problem import Problem, build_problem, canonical, check_roots, chosen_nodes, dag_cost
from frittata.rewrites.data import EGraphData

ILP_MAX_NODES = 20_000
"""`method="auto"` solves the ILP up to this many usable e-nodes reachable from the roots."""

METHODS = ("auto", "greedy", "ilp")


@dataclass(frozen=True)
class ExtractionReport:
    """What extraction did. Costs and bounds are model seconds; `gap` = (cost - bound) / cost."""

    method: str
    model: str
    cost: float
    greedy_cost: float
    original_cost: float | None
    lower_bound: float | None
    optimal: bool
    status: str
    seconds: float
    n_nodes: int
    n_classes: int

    @property
    def gap(self) -> float | None:
        """Proven relative distance from optimal (0 when optimal, None when unknown)."""
        if self.lower_bound is None:
            return None
        return 0.0 if self.cost <= 0 else max(0.0, (self.cost - self.lower_bound) / self.cost)

    def __str__(self) -> str:
        gap = "unknown" if self.gap is None else f"{self.gap:.2%}"
        before = "n/a" if self.original_cost is None else f"{self.original_cost * 1e3:.4f} ms"
        return (f"extract[{self.method}, {self.model}]: cost {self.cost * 1e3:.4f} ms "
                f"(input program {before}, greedy {self.greedy_cost * 1e3:.4f} ms), gap {gap}, {self.status}, "
                f"{self.n_nodes} e-nodes / {self.n_classes} e-classes in {self.seconds:.3f} s")


def extract(data: EGraphData, cost_model: CostLike, method: str = "auto", time_limit: float = 5.0,
            rel_gap: float = 1e-4) -> tuple[dict[int, int], ExtractionReport]:
    """The cheapest choice found (e-class -> e-node, for the classes the roots reach) and a report.

    `method`: "greedy", "ilp" (exact up to `rel_gap`, stopped after `time_limit` CPU seconds with
    its proven gap), or "auto" (ILP when at most ILP_MAX_NODES usable e-nodes, else greedy).
    Raises ExtractionError for an unknown method or an output with no finite term.
    """
    if method not in METHODS:
        raise ExtractionError(f"extract: expected method in {METHODS}, got {method!r}")
    start = time.perf_counter()
    model = as_cost_model(cost_model)
    problem = build_problem(data, model)
    check_roots(problem)
    choice, greedy_cost, original_cost = _greedy(problem)
    size = sum(len(problem.candidates[c]) for c in reachable_classes(problem))
    report = ExtractionReport("greedy", model.name, greedy_cost, greedy_cost, original_cost, None, False,
                              "greedy", 0.0, size, len(data.classes))
    if method == "ilp" or (method == "auto" and size <= ILP_MAX_NODES):
        result = solve_ilp(problem, choice, greedy_cost, time_limit, rel_gap)
        exact, cost = _trimmed(problem, result.choice)
        if cost <= greedy_cost:  # a run stopped by the clock keeps the better incumbent
            choice = exact
        report = replace(report, method="ilp", cost=min(cost, greedy_cost), optimal=result.optimal,
                         lower_bound=min(result.lower_bound, cost, greedy_cost), status=result.status)
    return choice, replace(report, seconds=time.perf_counter() - start)


def _greedy(problem: Problem) -> tuple[dict[int, int], float, float | None]:
    """Greedy (or the input program, if cheaper) improved by DAG-aware local search.

    Returns the choice, its DAG cost and the input program's DAG cost (None if unknown).
    """
    full = greedy_choice(problem)
    choice, cost = _trimmed(problem, full)
    original_cost = None
    if all(c in problem.data.original for c in problem.data.roots.values()):
        try:
            original_cost = dag_cost(problem, problem.data.original)
            kept, kept_cost = _trimmed(problem, canonical(problem, problem.data.original))
        except ExtractionError:
            original_cost = None
        else:
            choice, cost = (kept, kept_cost) if kept_cost < cost else (choice, cost)
    choice, cost = improve(problem, choice, full)
    return choice, cost, original_cost


def _trimmed(problem: Problem, choice: dict[int, int]) -> tuple[dict[int, int], float]:
    """The choice restricted to the classes it reaches from the roots, and its DAG cost."""
    used = chosen_nodes(problem.data, choice)
    return {problem.data.nodes[n].eclass: n for n in used}, dag_cost(problem, choice)


def choice_cost(data: EGraphData, cost_model: CostLike, choice: dict[int, int]) -> float:
    """The DAG cost (model seconds) of any acyclic choice, e.g. `data.original`."""
    return dag_cost(build_problem(data, as_cost_model(cost_model)), choice)
