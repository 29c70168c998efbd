"""Pointwise convolutions on the pixel GEMM are tuning tasks: the tuner enumerates the pixel
GEMM's blocks beside the direct kernel's, every candidate equals the interpreter, a measured
pixel GEMM block is what extraction picks, and the tiled op refuses one on a 3x3 convolution."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.errors import FrittataTypeError
from frittata.extract.records import Record, Records
from frittata.terms.cpu_schedules import blocked_schedule, is_pixel_gemm, takes_pixel_gemm
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op
from frittata.terms.tiled import PIXEL_GEMM_KEYS, schedule_of
from frittata.tuning.device import host_device
from frittata.tuning.measure import Job, reference_output, run_job
from frittata.tuning.tuner import program_tasks


def pointwise_program(channels: int = 20, out_channels: int = 12, size: int = 7) -> ft.Program:
    """relu6(conv2d_1x1(x, w) + b): MobileNetV2's projection and expansion layers."""
    rng = np.random.default_rng(0)
    w = T.param("w", (rng.standard_normal((out_channels, channels, 1, 1)) * 0.3).astype(np.float32))
    b = T.param("b", rng.standard_normal(out_channels).astype(np.float32))
    x = T.var("x", (1, channels, size, size))
    return ft.Program({"y": T.clip(T.add(T.conv2d(x, w), T.reshape(b, (1, out_channels, 1, 1))), 0.0, 6.0)})


def _task(program: ft.Program):
    """The fused task (bias and ReLU6 on the accumulators) the analytical extraction uses."""
    task = program_tasks(program, host_device(1))[0]
    assert dict(task.workload.attrs)["epilogue"] == (("clip", 0.0, 6.0),)
    return task


def _pixel_gemm(space) -> list:
    return [s for s in space if tuple(k for k, _ in s) == PIXEL_GEMM_KEYS]


def test_a_small_pointwise_convolution_is_a_task_whose_default_is_the_pixel_gemm():
    """7x7 output (49 pixels): the untiled kernel runs the pixel GEMM, and that default is the
    task's first proposed schedule; the space adds the direct kernel's blocks and the GEMM's."""
    task = _task(pointwise_program())
    lanes = host_device(1).lanes
    space = task.space(lanes)
    attrs = {"groups": 1, "strides": (1, 1), "pads": (0, 0, 0, 0)}
    assert takes_pixel_gemm(TensorType((12, 20, 1, 1), "float32"), TensorType((1, 12, 7, 7), "float32"), attrs, True)
    assert task.proposed[0] in _pixel_gemm(space)
    # the tuner's blocks stop at one vector of the 12 channels on AVX-512, where the default's is
    # one too (`PIXEL_GEMM_WIDE_VECTORS`: it pads fewer channels than two); on AVX2 it is two
    assert {dict(s)["n_block"] for s in _pixel_gemm(space)} == ({lanes} if lanes == 16 else {lanes, 2 * lanes})
    assert len(_pixel_gemm(space)) < len(space)


def test_every_pixel_gemm_candidate_equals_the_interpreter():
    """49 pixels (a tail for most row blocks), 12 output channels (a partial panel), 20 input channels."""
    task = _task(pointwise_program())
    reference = reference_output(task.workload, 0)
    for schedule in _pixel_gemm(task.space(host_device(1).lanes)):
        result = run_job(Job(task.workload, schedule, 1, reference, repeat=1, warmup=0))
        assert result.error is None, (schedule, result.error)


def test_extraction_picks_the_pixel_gemm_block_measured_fastest():
    """A 14x14 image (the direct kernel by default) with a pixel GEMM block measured at a fifth of
    the default's time: the compiled module runs that block, and equals the interpreter."""
    program = pointwise_program(size=14)
    task = _task(program)
    device = host_device(1)
    assert tuple(k for k, _ in task.proposed[0]) != PIXEL_GEMM_KEYS
    fast = [s for s in _pixel_gemm(task.space(device.lanes)) if dict(s)["m_block"] == 4][0]
    times = {s: task.model_seconds for s in task.proposed} | {fast: task.model_seconds / 5}
    records = Records([Record(task.workload, s, device.key, device.target(), t, None, 1.0) for s, t in times.items()],
                      free=frozenset({task.workload.key}))  # as the in-network check's tuned compile
    module = ft.compile(program, threads=1, records=records)
    (kernel,) = [t for t in module.program.terms() if t.op.value in ("tiled_conv2d", "fused_conv2d")]
    assert kernel.op.value == "tiled_conv2d" and tuple(schedule_of(kernel).items()) == fast
    constant = tuple(a.op == Op.PARAM for a in kernel.args)
    assert is_pixel_gemm(blocked_schedule(kernel.op, kernel.attrs, kernel.type, [a.type for a in kernel.args],
                                          constant, device.lanes) or {})
    x = np.random.default_rng(1).standard_normal((1, 20, 14, 14)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)


def test_a_pixel_gemm_schedule_needs_a_pointwise_convolution():
    x = T.var("x", (1, 8, 9, 9))
    w = T.param("w", np.zeros((16, 8, 3, 3), np.float32))
    b = T.param("b", np.zeros(16, np.float32))
    schedule = (("vec", 8), ("m_block", 4), ("m_tail", 81 % 4), ("n_block", 16), ("n_tail", 0), ("parallel", "n"))
    with pytest.raises(FrittataTypeError, match="pointwise convolution"):
        T.tiled_conv2d(x, w, b, pads=(1, 1, 1, 1), schedule=schedule)
    with pytest.raises(FrittataTypeError, match="m_tail"):
        T.tiled_conv2d(x, T.param("v", np.zeros((16, 8, 1, 1), np.float32)), b,
                       schedule=(("vec", 8), ("m_block", 4), ("m_tail", 0), ("n_block", 16), ("n_tail", 0),
                                 ("parallel", "n")))
