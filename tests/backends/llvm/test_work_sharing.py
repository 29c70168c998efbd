"""Kernels share their parallel loops out in chunks from the team's work counter: a run whose
other thread starts late (as the OS may deschedule it) still completes, and computes exactly
what a one-thread run does."""

from __future__ import annotations

import time

import numpy as np
import pytest
from llvmlite import ir

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from frittata.backends.llvm.codegen import BARRIER, BARRIER_TYPE
from frittata.backends.llvm.kernel import Kernel
from tests.backends.llvm.helpers import rand, targets

STALL_SECONDS = 0.03
"""How long the late thread sleeps before it enters the run: far longer than the whole run."""


def _program() -> ft.Program:
    """A depthwise and a pointwise convolution, a pooling, a concat, elementwise ops, a global
    pooling, a dense layer and a softmax: every kind of kernel MobileNet-like models run."""
    x = T.var("x", (1, 16, 20, 20))
    dw = T.fused_conv2d(x, T.param("wd", rand((16, 1, 3, 3), seed=1)), T.param("bd", rand((16,), seed=2)),
                        pads=(1, 1, 1, 1), groups=16, epilogue=(("clip", 0.0, 6.0),))
    pw = T.fused_conv2d(dw, T.param("wp", rand((24, 16, 1, 1), seed=3)), T.param("bp", rand((24,), seed=4)),
                        epilogue=(("relu",),))
    pooled = T.max_pool2d(pw, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))
    both = T.concat(pooled, T.tanh(T.max_pool2d(x, kernel=(2, 2), strides=(2, 2))), axis=1)
    features = T.reshape(T.global_avg_pool(both), (1, 40))
    logits = T.dense(features, T.param("wf", rand((10, 40), seed=5)))
    return ft.Program({"y": T.softmax(logits), "c": both})


def _late(mod: ft.Module, tid: int):
    """The module's entry point, run by thread `tid` only after a sleep (the other threads start
    at once and take the work)."""
    entry = mod._engine.entry

    def run(slots, thread, n, barrier):
        if thread == tid:
            time.sleep(STALL_SECONDS)
        return entry(slots, thread, n, barrier)

    return run


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_a_run_with_a_late_thread_completes_equal_to_one_thread(isa):
    """Every step a team step (no solo steps), on two threads, thread 0 or thread 1 starting
    30 ms after the other: each run equals the one-thread module's bit for bit, and the
    interpreter. Both ISAs' kernels run here (`helpers.targets`: the 16-lane ones built for AVX2
    on an AVX2 host)."""
    target, program = targets()[isa], _program()
    one, two = build(program, threads=1, target=target), build(program, threads=2, target=target)
    assert two.team_threads == 2 and not any(step["solo"] for step in two.steps)
    assert {"fused_conv2d", "max_pool2d", "concat", "global_avg_pool"} <= {step["op"] for step in two.steps}
    x = rand((1, 16, 20, 20), seed=6)
    want, exact = ft.evaluate(program, {"x": x}), one(x=x)
    for late in (0, 1, 0, 1):
        got = two._native(two._checked({"x": x}), _late(two, late))
        for name in want:
            np.testing.assert_array_equal(got[name], exact[name], err_msg=f"{name}, thread {late} late")
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(two(x=x)["y"], exact["y"])


def test_a_kernel_takes_from_the_work_counter_once_between_barriers():
    """The barrier zeroes the counter: a second loop taking from it before a barrier would start
    where the first one stopped, so emitting one is refused; after `sync` it is allowed."""
    module = ir.Module(name="kernel")
    module.triple = "x86_64-unknown-linux-gnu"
    k = Kernel(module, "k", 8, ir.Function(module, BARRIER_TYPE, name=BARRIER))
    with k.take(10):
        pass
    with pytest.raises(AssertionError, match="before a barrier"):
        with k.take(10):
            pass
    k.sync()
    with k.take(10):
        pass
