"""The schedule cost model's depthwise efficiency."""

import math

import numpy as np

from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo
from frittata.extract.schedule_cost import depthwise_efficiency
from frittata.terms.cpu_schedules import depthwise_schedule


def test_depthwise_efficiency_counts_the_busy_lanes_of_the_output_rows():
    """13 output columns in blocks of one vector or more: the partial block's idle lanes lower
    the efficiency below the model's figure by 13 / (blocks x block width); 32 channels keep
    both cores busy."""
    x = T.var("x", (1, 32, 13, 13))
    term = T.conv2d(x, T.param("w", np.ones((32, 1, 3, 3), np.float32)), pads=1, groups=32)
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
    model = CpuModel(vector_lanes=8, cores=2)
    s = depthwise_schedule(term.type, 8)
    nr = s["ow_block"]
    expected = model.depthwise_efficiency * 13 / (math.ceil(13 / nr) * nr)
    assert math.isclose(depthwise_efficiency(info, s, model), expected)
    assert depthwise_efficiency(info, s, model) < model.depthwise_efficiency
