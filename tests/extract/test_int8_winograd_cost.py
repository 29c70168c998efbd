"""The int8 Winograd price's groups-mode slowdown applies where it was measured: the 16-lane
(AVX-512) kernels, not the AVX2 ones."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from frittata.extract import winograd_cost
from frittata.extract.cpu_model import CpuModel
from frittata.extract.winograd_cost import INT8_GROUPS_SLOWDOWN, int8_winograd_seconds
from frittata.terms.int8_schedules import int8_winograd_schedule
from frittata.terms.dtypes import TensorType

ATTRS = {"tile": 4, "pads": (1, 1, 1, 1), "strides": (1, 1), "dilations": (1, 1), "groups": 1}


@pytest.mark.parametrize("lanes,features", [(8, "+avx,+avx2,+fma"),
                                            (16, "+avx,+avx2,+fma,+avx512f,+avx512bw,+avx512vl")])
def test_the_groups_slowdown_prices_16_lane_kernels_only(lanes, features, monkeypatch):
    x, w, out = (TensorType((1, 128, 28, 28), "int8"), TensorType((128, 128, 3, 3), "int8"),
                 TensorType((1, 128, 28, 28), "int32"))
    info = SimpleNamespace(operands=(x, w), type=out)
    schedule = int8_winograd_schedule(out, (x, w), ATTRS, (False, True, True), lanes)
    assert schedule is not None and schedule["oc_groups"]
    model = CpuModel.for_machine("x86_64-unknown-linux-gnu", features)
    priced = int8_winograd_seconds(info, schedule, model)
    monkeypatch.setattr(winograd_cost, "INT8_GROUPS_SLOWDOWN", 1.0)
    plain = int8_winograd_seconds(info, schedule, model)
    assert priced == pytest.approx(plain * (INT8_GROUPS_SLOWDOWN if lanes == 16 else 1.0))
