"""Recorded schedules: they join the e-graph (a layer whose recorded best is already there does
not keep another layer's from being added), and they scale the analytical model where it
prices them."""

from __future__ import annotations

import math

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends.registry import get_target
from frittata.extract.measured import MeasuredCost, with_recorded_schedules
from frittata.extract.records import Record, Records
from frittata.rewrites import saturate
from frittata.terms.ops import Op
from frittata.tuning.device import host_device
from tests.tuning.programs import conv_schedule, conv_workload


def _two_layers() -> ft.Program:
    """conv 16 -> 32 (bias, relu), then conv 32 -> 32 (bias, relu), 12x12, padded."""
    rng = np.random.default_rng(0)
    h = T.var("x", (1, 16, 12, 12))
    for i, c in enumerate((16, 32)):
        w = T.param(f"w{i}", (rng.standard_normal((32, c, 3, 3)) * 0.1).astype(np.float32))
        b = T.param(f"b{i}", rng.standard_normal(32).astype(np.float32))
        h = T.relu(T.add(T.conv2d(h, w, pads=(1, 1, 1, 1)), T.reshape(b, (1, 32, 1, 1))))
    return ft.Program({"y": h})


@pytest.mark.parametrize("tuned", [16, 32], ids=["first-layer-tuned", "second-layer-tuned"])
def test_a_recorded_schedule_already_present_does_not_stop_the_other_layers(tuned):
    """One layer's recorded best is a schedule the tiling rules proposed (in the e-graph
    already), the other's one the tuner found: exactly that one is added, whichever layer's
    e-nodes come first."""
    device, target = host_device(1), get_target("llvm")
    data, _ = saturate(_two_layers(), schedule=target.schedule(), params=target.rule_params())
    tiled = [n for n in data.nodes if n.op == Op.TILED_CONV2D]
    kept = 48 - tuned  # the other layer's input channels
    present = [dict(n.attrs)["schedule"] for n in tiled if data.classes[n.children[0]].type.shape[1] == kept]
    found = conv_schedule(2, 1, 8, parallel="pixel", channels=tuned)
    assert present and found not in {dict(n.attrs)["schedule"] for n in tiled}
    records = Records([Record(conv_workload(kept, 32, 12), present[0], device.key, device.target(), 1e-5, None, 1.0),
                       Record(conv_workload(tuned, 32, 12), found, device.key, device.target(), 1e-5, None, 1.0)])
    added = with_recorded_schedules(data, records, device.key, device.lanes).nodes[len(data.nodes):]
    assert [tuple(dict(n.attrs)["schedule"]) for n in added] == [found]


class _Unpriced:
    """An analytical model that cannot price one schedule (inf) and prices the others 10 us."""

    name = "unpriced"

    def __init__(self, schedule: tuple) -> None:
        self.schedule = schedule

    def node_cost(self, info) -> float:
        return math.inf if dict(info.attrs).get("schedule") == self.schedule else 1e-5


def test_the_scale_leaves_out_measurements_the_model_cannot_price():
    """Two schedules of one workload measured at 40 and 30 us; the model prices the first at
    inf, the second at 10 us: the measured / model scale is 3 (an inf would enter the median as
    a ratio of 0 and halve it)."""
    device = host_device(1)
    a, b = conv_schedule(4, 1, 16), conv_schedule(2, 1, 8, parallel="pixel")
    records = Records([Record(conv_workload(), s, device.key, device.target(), t, None, 1.0)
                       for s, t in ((a, 4e-5), (b, 3e-5))])
    assert MeasuredCost(records, device.key, _Unpriced(a), device.lanes).scale == pytest.approx(3.0)
