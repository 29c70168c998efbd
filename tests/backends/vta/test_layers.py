"""The per-layer report of a VTA module's run: where each layer ran and why, the simulator's
counters, and the end-to-end simulated latency with the host's share."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.backends.vta import VtaConfig
from frittata.backends.vta.cost import VtaCostModel
from frittata.errors import RuntimeInputError
from frittata.terms import builders as tb


def two_convs(rng: np.random.Generator) -> ft.Program:
    """A 64-channel 3x3 conv (VTA) then a 7x7 stride-2 one, the stem's kernel, after it."""
    x = tb.var("x", (1, 64, 28, 28), "int8")
    layers = []
    for k, stride in ((3, 1), (7, 2)):
        w = tb.param(f"w{k}", rng.integers(-128, 128, (64, 64, k, k)).astype(np.int8))
        b = tb.param(f"b{k}", rng.integers(-1000, 1000, (1, 64, 1, 1)).astype(np.int32))
        conv = tb.conv2d(layers[-1] if layers else x, w, strides=stride, pads=k // 2)
        layers.append(tb.cast(tb.clip(tb.right_shift(tb.add(conv, b), 10), -127, 127), "int8"))
    return ft.Program({"y": tb.softmax(tb.cast(tb.flatten(layers[-1]), "float32"))})


def test_vta_rows_are_the_calls_counters_and_latency_adds_up(rng):
    program = two_convs(rng)
    module = ft.compile(program, target="vta")
    x = rng.integers(-128, 128, (1, 64, 28, 28)).astype(np.int8)
    with pytest.raises(RuntimeInputError, match="call module.run"):
        module.layer_report()
    module.run(x=x)
    report = module.layer_report()
    assert [r.where for r in report.rows] == ["vta", "vta"]
    for row, counters in zip(report.rows, module.last_reports):
        assert (row.cycles, row.gemm_utilization, row.moved) == (counters.cycles, counters.gemm_utilization,
                                                               counters.moved)
        assert row.seconds == counters.cycles / module.cfg.clock_hz
    assert report.rows[0].shape == "64x28x28 -> 64x28x28 k3x3/s1"
    assert report.rows[1].shape == "64x28x28 -> 64x14x14 k7x7/s2"
    assert report.vta_seconds == sum(r.cycles for r in module.last_reports) / module.cfg.clock_hz
    assert 0 < report.host_share < 1 and report.seconds == report.vta_seconds + report.host_seconds
    assert "end to end" in str(report) and report.to_dict()["layers"][0]["where"] == "vta"
    assert sum(t for _, t in report.host_ops) == pytest.approx(report.host_seconds)
    host = {op for op, _ in report.host_ops}
    assert "vta_pack" in host and host & {"softmax", "fused_softmax"}
    assert module.check_calls(x=x) == [True, True]


def test_host_rows_say_why(rng):
    """With an INP buffer too small for a 7x7 window the second conv cannot be lowered: its row
    is on the host with the lowering error; with a slow accelerator clock every conv is on the
    host because the cost model priced it cheaper there."""
    program = two_convs(rng)
    x = rng.integers(-128, 128, (1, 64, 28, 28)).astype(np.int8)
    small = ft.compile(program, target="vta", config=VtaConfig(log_inp_buff_size=9))
    small.run(x=x)
    rows = small.layer_report().rows
    assert rows[-1].where == "cpu" and rows[-1].why.startswith("VTA unavailable") and "none does" in rows[-1].why
    assert rows[-1].cycles is None and rows[-1].seconds > 0
    slow = ft.compile(program, target="vta", cost=VtaCostModel(clock_hz=1e4))
    slow.run(x=x)
    report = slow.layer_report()
    assert {r.where for r in report.rows} == {"cpu"} and report.vta_seconds == 0 and report.host_share == 1
    assert all(r.why == "cheaper on the host (cost model)" for r in report.rows)
