"""Hypothesis: every extraction from the saturated e-graph evaluates equal to the program."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from frittata.rewrites import EGraphData, Limits, fold_params, saturate
from frittata.terms import evaluate
from tests.strategies import inputs_for, int_programs, programs


def random_choice(data: EGraphData, seed: int) -> dict[int, int]:
    """A random acyclic extraction: the cheapest e-nodes under random positive node costs."""
    rng = np.random.default_rng(seed)
    weight = rng.uniform(0.1, 10.0, len(data.nodes))
    cost = [np.inf] * len(data.classes)
    choice: dict[int, int] = {}
    changed = True
    while changed:
        changed = False
        for node_id, enode in enumerate(data.nodes):
            total = weight[node_id] + sum(cost[c] for c in enode.children)
            if total < cost[enode.eclass]:
                cost[enode.eclass], choice[enode.eclass] = total, node_id
                changed = True
    return choice


def _assert_same(program, data, seeds):
    inputs = inputs_for(program)
    want = evaluate(program, inputs)
    for seed in seeds:
        extracted = data.to_program(random_choice(data, seed))
        for candidate in (extracted, fold_params(extracted)):
            got = evaluate(candidate, inputs)
            for name, value in want.items():
                if value.dtype.kind == "f":
                    scale = float(np.max(np.abs(value[np.isfinite(value)]), initial=1.0))
                    np.testing.assert_allclose(got[name], value, rtol=1e-3, atol=1e-4 * scale)
                else:
                    np.testing.assert_array_equal(got[name], value)


@given(programs(max_ops=6), st.lists(st.integers(0, 2**31), min_size=3, max_size=3))
def test_any_extraction_of_a_float_program_is_equal(program, seeds):
    data, _ = saturate(program, limits=Limits(nodes=20_000, seconds=2.0))
    _assert_same(program, data, seeds)


@given(int_programs(), st.lists(st.integers(0, 2**31), min_size=3, max_size=3))
def test_any_extraction_of_an_int8_program_is_bit_exact(program, seeds):
    data, report = saturate(program, limits=Limits(nodes=20_000, seconds=2.0))
    assert any(name.startswith("fuse-") for name in report.fired())
    _assert_same(program, data, seeds)
