"""Tiled kernel ops on the llvm backend: every schedule, remainders included, equals the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata.backends.jit import host
from frittata.backends.llvm import build
from frittata.backends.llvm.fastpath import schedule
from frittata.extract.cost import program_cost
from frittata.extract.cpu_model import CpuModel
from frittata.terms import builders as tb
from frittata.terms.cpu_schedules import is_pixel_gemm
from tests.backends.llvm.helpers import check, rand
from tests.conftest import compiling


def conv_schedule(o: int, ow: int, vec: int, mr: int, nv: int, parallel: str, c: int = 8, cb: int = 64):
    return (("vec", vec), ("oc_block", mr), ("oc_tail", o % mr), ("ow_block", nv * vec),
            ("ow_tail", ow % (nv * vec)), ("c_block", cb), ("c_tail", c % cb), ("parallel", parallel))


def dense_schedule(m: int, n: int, vec: int, mr: int, nv: int, kc: int, split: str) -> tuple:
    return (("vec", vec), ("m_block", mr), ("m_tail", m % mr), ("n_block", nv * vec),
            ("n_tail", n % (nv * vec)), ("k_block", kc), ("parallel", split))


@st.composite
def tiled_convs(draw):
    c, o = draw(st.integers(1, 12), label="channels"), draw(st.integers(1, 20))
    h, w = draw(st.integers(3, 12)), draw(st.integers(3, 20))
    stride, pad = draw(st.sampled_from([1, 2])), draw(st.integers(0, 1))
    residual = draw(st.booleans())
    x = tb.var("x", (1, c, h, w))
    weights, bias = tb.param("w", rand((o, c, 3, 3), seed=1)), tb.param("b", rand((o,), seed=2))
    plain = tb.fused_conv2d(x, weights, bias, strides=(stride, stride), pads=(pad,) * 4)
    steps = (("add",), ("relu",)) if residual else (("clip", -0.5, 0.5),)
    extra = (tb.var("r", plain.shape),) if residual else ()
    ow = plain.shape[3]
    vec = draw(st.sampled_from([4, 8, 16]))
    schedule = conv_schedule(o, ow, vec, draw(st.integers(1, 12)), draw(st.integers(1, 3)),
                             draw(st.sampled_from(["oc", "pixel"])), c, draw(st.integers(1, 7)))
    return tb.tiled_conv2d(x, weights, bias, *extra, strides=(stride, stride), pads=(pad,) * 4,
                           epilogue=steps, schedule=schedule)


@compiling
@given(tiled_convs(), st.sampled_from([1, 2]))
def test_tiled_conv2d_equals_the_interpreter(term, threads):
    check(ft.Program({"y": term}), threads=threads, rtol=1e-4, atol=1e-4)


@compiling
@given(st.integers(1, 14), st.integers(1, 40), st.integers(1, 300), st.sampled_from([4, 8, 16]),
       st.sampled_from(["n", "m"]),
       st.integers(1, 8), st.integers(1, 3), st.sampled_from([7, 64, 256]), st.booleans())
def test_tiled_dense_equals_the_interpreter(m, n, k, vec, split, mr, nv, kc, residual):
    x = tb.var("x", (m, k))
    weights, bias = tb.param("w", rand((n, k), seed=3)), tb.param("b", rand((n,), seed=4))
    extra = (tb.var("r", (m, n)),) if residual else ()
    steps = (("add",), ("relu",)) if residual else (("relu",),)
    term = tb.tiled_dense(x, weights, bias, *extra, epilogue=steps,
                          schedule=dense_schedule(m, n, vec, mr, nv, kc, split))
    check(ft.Program({"y": term}), rtol=1e-3, atol=1e-3)


def test_schedule_decides_the_micro_kernels():
    x = tb.var("x", (1, 8, 10, 10))
    weights, bias = tb.param("w", rand((20, 8, 3, 3))), tb.param("b", rand((20,)))
    kernels = {}
    for mr in (12, 5):
        term = tb.tiled_conv2d(x, weights, bias, pads=(1, 1, 1, 1),
                               schedule=conv_schedule(20, 10, 8, mr, 1, "oc"))
        mod = build(ft.Program({"y": term}))
        kernels[mr] = sorted(name.rsplit(".", 1)[-1] for name in mod.report["backend"]["helpers"])
    assert kernels == {12: ["micro12", "micro8"], 5: ["micro5"]}


def test_untiled_fused_ops_run_the_default_schedule():
    x = tb.var("x", (1, 8, 10, 10))
    term = tb.fused_conv2d(x, tb.param("w", rand((20, 8, 3, 3))), tb.param("b", rand((20,))), pads=(1, 1, 1, 1))
    mod = check(ft.Program({"y": term}))
    assert "fused_conv2d" in mod.report["backend"]["fast_paths"]


@pytest.mark.parametrize("lo, hi", [(None, 0.5), (-0.5, None), (-0.5, 0.5)])
def test_blocked_epilogue_clip_with_an_open_bound(lo, hi):
    x = tb.var("x", (1, 8, 10, 10))
    clip = (("clip", lo, hi),)
    conv = tb.fused_conv2d(x, tb.param("w", rand((20, 8, 3, 3))), tb.param("b", rand((20,))), epilogue=clip)
    dense = tb.fused_dense(tb.var("d", (5, 12)), tb.param("v", rand((9, 12))), tb.param("c", rand((9,))), epilogue=clip)
    mod = check(ft.Program({"y": conv, "z": dense}))
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d", "fused_dense"]


def test_compile_runs_the_picked_schedule():
    """Priced for an AVX2 host (on any host), a 7-pixel row runs faster on a table row than on
    the default schedule, so extraction picks it and the compiled module runs it (among the
    direct kernel's schedules: the algorithm family's Winograd form is off)."""
    x = tb.var("x", (1, 32, 7, 7))
    term = tb.fused_conv2d(x, tb.param("w", rand((32, 32, 3, 3))), tb.param("b", rand((32,))),
                           pads=(1, 1, 1, 1), epilogue=(("relu",),))
    program = ft.Program({"y": term})
    model = CpuModel(vector_lanes=8, fp32_flops_per_core=121e9)
    mod = ft.compile(program, cost=model, disable=["algorithm"])
    assert program_cost(mod.program, model) < program_cost(program, model)
    assert mod.report["backend"]["fast_paths"] == ["tiled_conv2d"]
    inputs = {"x": rand((1, 32, 7, 7), seed=5)}
    np.testing.assert_allclose(mod.run(**inputs)["y"], ft.evaluate(program, inputs)["y"], rtol=1e-4, atol=1e-4)


def test_row_split_dense_crosses_cache_blocks():
    m, n, k = 200, 45, 70
    x, weights, bias = tb.var("x", (m, k)), tb.param("w", rand((n, k), seed=6)), tb.param("b", rand((n,), seed=7))
    for split in ("m", "n"):
        schedule = dense_schedule(m, n, 8, 6, 2, 32, split)
        term = tb.tiled_dense(x, weights, bias, epilogue=(("relu",),), schedule=schedule)
        check(ft.Program({"y": term}), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("threads", [1, 2])
def test_kernels_that_take_items_run_again(threads):
    """The direct and pixel-GEMM kernels take their items from the team's work counter, which the
    barrier after each kernel zeroes (on one thread too): runs after the first, and a second
    kernel in the same run, compute every item again."""
    x = tb.var("x", (1, 8, 12, 12))
    conv = tb.fused_conv2d(x, tb.param("w", rand((20, 8, 3, 3))), tb.param("b", rand((20,))), pads=(1, 1, 1, 1),
                           strides=(2, 2))
    pointwise = tb.fused_conv2d(conv, tb.param("v", rand((24, 20, 1, 1), seed=1)), tb.param("c", rand((24,), seed=2)))
    program = ft.Program({"y": pointwise})
    mod = build(program, threads=threads)
    assert mod.report["backend"]["fast_paths"] == ["fused_conv2d", "fused_conv2d"]
    assert is_pixel_gemm(schedule(pointwise, host().lanes)) and not is_pixel_gemm(schedule(conv, host().lanes))
    for seed in range(3):
        inputs = {"x": rand((1, 8, 12, 12), seed=seed)}
        np.testing.assert_allclose(mod.run(**inputs)["y"], ft.evaluate(program, inputs)["y"], rtol=1e-4, atol=1e-4)
