"""Expanding pointwise convolutions on the channel GEMM are tuning tasks: the untiled kernel's
default is a measured candidate (a `tiled_conv2d` spelling the channel GEMM's blocks,
`tiled.CHANNEL_GEMM_KEYS`) beside the direct kernel's blocks, a channel GEMM candidate equals
the interpreter on both ISAs, a tuned build runs whichever of it and the direct kernel was
measured faster, and the tiled op refuses one on a 3x3 convolution or split over its rows."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.errors import FrittataTypeError
from frittata.extract.records import Record, Records
from frittata.terms.cpu_schedules import CHANNEL_GEMM, blocked_schedule, channel_gemm_schedule, kernel_of
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op
from frittata.terms.tiled import CHANNEL_GEMM_KEYS
from frittata.tuning.device import host_device
from frittata.tuning.measure import Job, candidate_program, reference_output, run_job
from frittata.tuning.tasks import with_every_axis
from frittata.tuning.tuner import program_tasks
from tests.backends.llvm.helpers import check_on, targets


def expanding_program(channels: int, out_channels: int, size: int) -> ft.Program:
    """relu(conv2d_1x1(x, w) + b): ResNet-50's expanding 1x1 layers."""
    rng = np.random.default_rng(0)
    w = T.param("w", (rng.standard_normal((out_channels, channels, 1, 1)) * 0.1).astype(np.float32))
    b = T.param("b", rng.standard_normal(out_channels).astype(np.float32))
    x = T.var("x", (1, channels, size, size))
    return ft.Program({"y": T.relu(T.add(T.conv2d(x, w), T.reshape(b, (1, out_channels, 1, 1))))})


def _channel_gemm(space) -> list:
    return [s for s in space if tuple(k for k, _ in s) == CHANNEL_GEMM_KEYS]


def test_an_expanding_pointwise_convolution_is_a_task_whose_default_is_the_channel_gemm():
    """ResNet-50's 64 -> 256 at 56x56: a task (workload_of returned None for it), its first
    proposed schedule the untiled kernel's channel GEMM blocks (measured first; no twin of the
    other parallel loop, which the channel GEMM does not take); the space holds it and the
    direct kernel's blocks."""
    device = host_device(1)
    task = program_tasks(expanding_program(64, 256, 56), device)[0]
    assert dict(task.workload.attrs)["epilogue"] == (("relu",),)
    default = task.default
    assert default is not None and default in _channel_gemm(task.space(device.lanes))
    assert task.first[0] == default
    assert with_every_axis(default, task.workload.op) == [default]  # no "m" twin: the threads pack the panels
    blocks = channel_gemm_schedule(TensorType((1, 256, 56, 56), "float32"), task.workload.operand_types[1],
                                   device.lanes)
    assert dict(default) == {k: blocks[k] for k in CHANNEL_GEMM_KEYS}
    space = task.space(device.lanes)
    assert _channel_gemm(space) == [default] and len(space) > 1


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_channel_gemm_candidates_equal_the_interpreter(isa):
    """70 -> 150 at 9x9 (two K blocks of 64 and 6, a row tail, a partial pixel panel): the
    default and a 64-deep K block, on two threads, run the channel GEMM and equal the
    interpreter (AVX-512 through its LLVM target)."""
    lanes = targets()[isa].lanes
    task = program_tasks(expanding_program(70, 150, 9), host_device(1))[0]
    deep = {"vec": lanes, "m_block": 6, "m_tail": 150 % 6, "n_block": 2 * lanes, "n_tail": 81 % (2 * lanes),
            "k_block": 64, "parallel": "n"}
    candidates = [tuple((k, deep[k]) for k in CHANNEL_GEMM_KEYS)] + (_channel_gemm(task.first) if isa == "avx2" else [])
    for schedule in candidates:
        program, inputs = candidate_program(task.workload, schedule, 0)
        (term,) = program.outputs.values()
        types = tuple(a.type for a in term.args)
        assert kernel_of(blocked_schedule(term.op, term.attrs, term.type, types, (False, True, True), lanes)) \
            == CHANNEL_GEMM
        if isa == "avx2":
            result = run_job(Job(task.workload, schedule, 2, reference_output(task.workload, 0), repeat=1, warmup=0))
            assert result.error is None, (schedule, result.error)
        else:
            check_on(program, targets()[isa], 2)


def test_the_tiled_op_refuses_a_channel_gemm_schedule_on_a_3x3_convolution_or_split_over_rows():
    x, w = T.var("x", (1, 64, 9, 9)), T.param("w", np.zeros((128, 64, 3, 3), np.float32))
    schedule = (("vec", 8), ("m_block", 6), ("m_tail", 2), ("n_block", 16), ("n_tail", 49 % 16), ("k_block", 64),
                ("parallel", "n"))
    with pytest.raises(FrittataTypeError, match="pointwise convolution .* for a channel GEMM schedule"):
        T.tiled_conv2d(x, w, T.param("b", np.zeros(128, np.float32)), pads=(1, 1, 1, 1), schedule=schedule)
    flat = (("vec", 8), ("m_block", 6), ("m_tail", 2), ("n_block", 16), ("n_tail", 81 % 16), ("k_block", 64),
            ("parallel", "m"))
    with pytest.raises(FrittataTypeError, match=r"a parallel loop in \('n',\)"):
        T.tiled_conv2d(x, T.param("w1", np.zeros((128, 64, 1, 1), np.float32)),
                       T.param("b", np.zeros(128, np.float32)), schedule=flat)


@pytest.mark.parametrize("gemm_faster", [True, False])
def test_a_tuned_build_runs_the_kernel_measured_faster(gemm_faster):
    """70 -> 150 at 9x9 with the channel GEMM's default and a direct kernel's blocks measured:
    the tuned compile runs whichever was measured faster (both are candidates now), and equals
    the interpreter."""
    program, device = expanding_program(70, 150, 9), host_device(1)
    task = program_tasks(program, device)[0]
    direct = [s for s in task.proposed if s not in _channel_gemm(task.proposed)][0]
    fast, slow = (task.default, direct) if gemm_faster else (direct, task.default)
    times = {fast: task.model_seconds / 5, slow: task.model_seconds}
    records = Records([Record(task.workload, s, device.key, device.target(), t, None, 1.0) for s, t in times.items()],
                      free=frozenset({task.workload.key}))  # as the in-network check's tuned compile
    module = ft.compile(program, threads=1, records=records)
    (kernel,) = [t for t in module.program.terms() if t.op.value in ("tiled_conv2d", "fused_conv2d")]
    constant = tuple(a.op == Op.PARAM for a in kernel.args)
    ran = blocked_schedule(kernel.op, kernel.attrs, kernel.type, [a.type for a in kernel.args], constant, device.lanes)
    assert (kernel_of(ran or {}) == CHANNEL_GEMM) == gemm_faster
    x = np.random.default_rng(1).standard_normal((1, 70, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)
