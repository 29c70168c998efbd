"""The ILP extractor at the scale of seconds: costs of microseconds still reach the optimum."""

import pytest

from frittata.extract import extract
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
