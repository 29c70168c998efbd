"""Extraction from real saturated e-graphs: the chosen program means the same, costs no more."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frittata import evaluate
from frittata.extract import CpuModel, NodeInfo, extract, program_cost
from frittata.rewrites import saturate
from frittata.terms import zoo
from tests.strategies import inputs_for, programs

CPU = CpuModel()


def _hashed_model(seed: int):
    """A user cost model pricing each (op, attrs, type) pseudo-randomly: varied choices."""
    def cost(info: NodeInfo) -> float:
        return (hash((seed, info.op, repr(info.attrs), info.type)) % 1000) / 1e6
    return cost


def _assert_same_outputs(program, extracted, seed: int = 0) -> None:
    inputs = inputs_for(program, seed)
    want, got = evaluate(program, inputs), evaluate(extracted, inputs)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4, err_msg=name)


@given(programs(), st.integers(0, 3), st.sampled_from(["greedy", "ilp"]))
def test_extracted_program_evaluates_equal(program, seed, method):
    data, _ = saturate(program)
    model = CPU if seed == 0 else _hashed_model(seed)
    choice, report = extract(data, model, method=method, time_limit=2.0)
    extracted = data.to_program(choice)
    _assert_same_outputs(program, extracted)
    if report.original_cost is not None:  # None: rules merged the program's own terms (f(x) = x)
        assert report.cost <= report.original_cost + 1e-12


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_zoo_extraction_costs_no_more_than_the_input(name, zoo_saturated):
    program = zoo.get(name)
    data, _ = zoo_saturated(name)
    choice, report = extract(data, CPU, time_limit=2.0)
    extracted = data.to_program(choice)
    before = program_cost(program, CPU)
    assert report.original_cost == pytest.approx(before)
    assert report.cost <= report.original_cost
    assert program_cost(extracted, CPU) <= before * (1 + 1e-9)
    assert report.method == "ilp" and report.lower_bound is not None and report.lower_bound <= report.cost
    if name in ("mlp", "transformer_block"):
        _assert_same_outputs(program, extracted)
