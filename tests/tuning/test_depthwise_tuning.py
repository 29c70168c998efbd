"""Depthwise convolutions are tuning tasks: the tuner enumerates the depthwise kernel's tiles,
every candidate equals the interpreter, and a measured tile is what extraction picks."""

from __future__ import annotations

import numpy as np

import frittata as ft
from frittata import terms as T
from frittata.extract.records import Record, Records, is_depthwise_workload
from frittata.terms.tiled import MAX_VECTORS, schedule_of
from frittata.tuning.device import host_device
from frittata.tuning.measure import Job, reference_output, run_job
from frittata.tuning.tasks import DEPTHWISE_ROWS
from frittata.tuning.tuner import program_tasks


def depthwise_program(channels: int = 12, size: int = 13, k: int = 5, stride: int = 2) -> ft.Program:
    """relu6(depthwise conv2d(x, w) + b), as MobileNet's and EfficientNet's blocks write it."""
    rng = np.random.default_rng(0)
    w = T.param("w", (rng.standard_normal((channels, 1, k, k)) * 0.3).astype(np.float32))
    b = T.param("b", rng.standard_normal(channels).astype(np.float32))
    x = T.var("x", (1, channels, size, size))
    conv = T.conv2d(x, w, strides=(stride, stride), pads=(k // 2,) * 4, groups=channels)
    return ft.Program({"y": T.clip(T.add(conv, T.reshape(b, (1, channels, 1, 1))), 0.0, 6.0)})


def _task(program: ft.Program):
    """The depthwise task the analytical extraction uses (ReLU6 fused; the e-graph also holds the
    convolution with its bias alone, another task)."""
    task = next(t for t in program_tasks(program, host_device(1)) if is_depthwise_workload(t.workload))
    assert dict(task.workload.attrs)["epilogue"] == (("clip", 0.0, 6.0),)
    return task


def test_the_tuner_enumerates_the_depthwise_tiles():
    """Output 7x7 with 8 or 16 lanes: one vector of 8 per row (the default tile: 4 rows of it;
    half-width vectors with AVX-512, `depthwise_vector`), every row block up to the 7 rows."""
    task = _task(depthwise_program())
    lanes = host_device(1).lanes
    space = task.space(lanes)
    assert task.proposed[0] in space and dict(task.proposed[0])["oh_block"] == 4
    assert sorted(dict(s)["oh_block"] for s in space) == [rb for rb in DEPTHWISE_ROWS if rb <= 7]
    assert {(dict(s)["vec"], dict(s)["ow_block"]) for s in space} == {(8, 8)}


def test_every_depthwise_candidate_equals_the_interpreter():
    """Stride 1 at 13x13 (two vector counts on 8 lanes, one on 16), 12 channels (not a multiple
    of 8 or 16), kernel 5."""
    task = _task(depthwise_program(stride=1))
    reference = reference_output(task.workload, 0)
    lanes = host_device(1).lanes
    space = task.space(lanes)
    assert len(space) == min(MAX_VECTORS, -(-13 // lanes)) * len(DEPTHWISE_ROWS)
    for schedule in space:
        result = run_job(Job(task.workload, schedule, 1, reference, repeat=1, warmup=0))
        assert result.error is None, (schedule, result.error)


def test_extraction_picks_the_depthwise_tile_measured_fastest():
    """The default tile measured at the model's price, three rows at a fifth of it: the unmeasured
    alternatives (the bias-only convolution and a separate clip) are scaled by the same ratio."""
    program = depthwise_program()
    task = _task(program)
    device = host_device(1)
    fast = [s for s in task.space(device.lanes) if dict(s)["oh_block"] == 3][0]
    times = {s: task.model_seconds for s in task.proposed} | {fast: task.model_seconds / 5}
    records = Records([Record(task.workload, s, device.key, device.target(), t, None, 1.0) for s, t in times.items()],
                      free=frozenset({task.workload.key}))  # as the in-network check's tuned compile
    module = ft.compile(program, threads=1, records=records)
    (kernel,) = [t for t in module.program.terms() if t.op.value in ("tiled_conv2d", "fused_conv2d")]
    assert kernel.op.value == "tiled_conv2d" and tuple(schedule_of(kernel).items()) == fast
    assert [r["priced_by"] for r in module.report["stages"]["extract"]["kernels"]] == ["measured"]
    x = np.random.default_rng(1).standard_normal((1, 12, 13, 13)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)
