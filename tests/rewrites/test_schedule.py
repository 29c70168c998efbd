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
