"""The analytical model's work of one contraction: its epilogue's FLOPs per output."""

import numpy as np
import pytest

from frittata import terms as T
from frittata.extract import NodeInfo
from frittata.extract.cpu_work import work

TRANSCENDENTAL = 20.0


def _epilogue_flops(steps: list[tuple]) -> float:
    x = T.var("x", (4, 32))
    w, b = T.param("w", np.ones((24, 32), np.float32)), T.param("b", np.ones((24,), np.float32))
    term = T.fused_dense(x, w, b, epilogue=steps)
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
    return work(info, TRANSCENDENTAL, 8).epilogue_flops / term.type.size


@pytest.mark.parametrize("step, flops", [
    (("relu",), 1.0),
    (("sigmoid",), TRANSCENDENTAL),
    (("silu",), TRANSCENDENTAL + 1.0),  # x * sigmoid(x)
    (("hard_swish",), 4.0),  # x * clip(x + 3, 0, 6) / 6
])
def test_each_epilogue_step_costs_its_flops_per_output(step, flops):
    """Per output: the bias add (1) plus the step's own FLOPs."""
    assert _epilogue_flops([step]) == 1.0 + flops
