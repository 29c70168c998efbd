"""A saturation's report, phase by phase."""

import numpy as np

from frittata import terms as T
from frittata.rewrites.schedule import DEFAULT_SCHEDULE, saturate
from frittata.terms.program import Program


def test_each_phase_reports_its_steps_and_the_rules_that_fired():
    """A dense layer with bias and relu: the fuse phase folds both into fused_dense; every phase
    of the default schedule saturates (a few rows), the e-graph never shrinks."""
    x = T.var("x", (4, 8))
    w, b = T.param("w", np.ones((16, 8), np.float32)), T.param("b", np.ones((16,), np.float32))
    _, report = saturate(Program({"y": T.relu(T.add(T.dense(x, w), b))}))
    assert [p.name for p in report.phases] == [p.name for p in DEFAULT_SCHEDULE]
    assert all(p.stop_reason == "saturated" for p in report.phases)
    fuse = report.phases[1]
    assert fuse.iterations >= 2 and fuse.fired.get("fuse-dense-bias") and fuse.fired.get("fuse-dense-relu")
    sizes = [p.nodes for p in report.phases]
    assert sizes == sorted(sizes)


def test_a_phase_without_a_rule_that_can_fire_reports_saturated_after_no_step():
    """A program of one input: no rule can fire, so every phase stops at once, saturated, after
    0 iterations, with the e-graph's size and no rule fired."""
    _, report = saturate(Program({"y": T.var("x", (3,))}))
    assert report.firable == 0
    assert [(p.name, p.stop_reason, p.iterations, p.fired) for p in report.phases] == \
        [(p.name, "saturated", 0, {}) for p in DEFAULT_SCHEDULE]
    assert {p.nodes for p in report.phases} == {report.phases[0].nodes} and report.phases[0].nodes >= 1
