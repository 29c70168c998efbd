"""Contractions with run-time weights (training: the weights are inputs) take the
register-blocked path, packing the weights at run time, and equal the interpreter (on two
threads, which split the packing and the tiles)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from tests.backends.llvm.helpers import check_on, rand, targets
from tests.conftest import compiling


def _programs() -> dict[str, ft.Program]:
    bias = T.param("b", np.linspace(-1, 1, 21, dtype=np.float32))
    x, w = T.var("x", (2, 7, 13)), T.var("w", (21, 13))
    residual = T.var("r", (2, 7, 21))
    return {
        "dense": ft.Program({"y": T.dense(T.var("x", (33, 40)), T.var("w", (17, 40)))}),
        "fused_relu": ft.Program({"y": T.fused_dense(x, w, bias, epilogue=(("relu",),))}),
        "fused_residual": ft.Program({"y": T.fused_dense(x, w, bias, residual,
                                                         epilogue=(("add",), ("clip", -1.0, 1.0)))}),
    }


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize("name", ["dense", "fused_relu", "fused_residual"])
def test_runtime_weights_take_the_blocked_path(isa, name):
    mod = check_on(_programs()[name], targets()[isa], threads=2)
    assert mod.report["backend"]["fast_paths"] == [_programs()[name].outputs["y"].op.name]


def test_a_runtime_bias_stays_on_the_generic_loops():
    program = ft.Program({"y": T.fused_dense(T.var("x", (4, 8)), T.var("w", (5, 8)), T.var("b", (5,)))})
    mod = check_on(program, targets()["avx2"])
    assert mod.report["backend"]["fast_paths"] == []


def _convs() -> dict[str, ft.Program]:
    x, w = T.var("x", (2, 6, 9, 11)), T.var("w", (10, 3, 3, 2))
    bias = T.param("b", np.linspace(-1, 1, 10, dtype=np.float32))
    residual = T.var("r", (2, 10, 4, 10))
    return {
        "conv": ft.Program({"y": T.conv2d(T.var("x", (3, 5, 8, 8)), T.var("w", (13, 5, 3, 3)), pads=1)}),
        "grouped_strided": ft.Program({"y": T.conv2d(x, w, strides=(2, 1), pads=(1, 0, 0, 1), dilations=(1, 2),
                                                     groups=2)}),
        "fused": ft.Program({"y": T.fused_conv2d(x, w, bias, residual, strides=(2, 1), pads=(1, 0, 0, 1),
                                                 dilations=(1, 2), groups=2, epilogue=(("add",), ("relu",)))}),
    }


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize("name", ["conv", "grouped_strided", "fused"])
def test_conv_with_runtime_weights_takes_the_blocked_path(isa, name):
    program = _convs()[name]
    mod = check_on(program, targets()[isa], threads=2)
    assert mod.report["backend"]["fast_paths"] == [program.outputs["y"].op.name]


@compiling
@given(st.integers(1, 20), st.integers(1, 300), st.integers(1, 80), st.sampled_from(["avx2", "avx512"]),
       st.sampled_from([1, 2]), st.booleans())
def test_matmul_packed_at_run_time_equals_the_interpreter(m, k, n, isa, threads, batched):
    """Whole panels (vector copies) and the partial last one (element by element), the threads
    sharing the packing, for a matrix and for a batch of them (attention's shapes)."""
    batch = (2,) if batched else ()
    program = ft.Program({"y": T.matmul(T.var("a", batch + (m, k)), T.var("b", batch + (k, n)))})
    mod = check_on(program, targets()[isa], threads=threads)
    assert mod.report["backend"]["fast_paths"] == ["matmul"]


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_work_items_cover_the_output(isa, threads):
    """203 rows (three row groups of whole 96-row blocks, the last partial with an MR tail) by
    150 columns (panel groups of unequal size, the last panel partial): the items the threads
    take cover every element of C (one left out keeps whatever the fresh output buffer held
    and differs from the interpreter), for B packed at run time (one matrix and a batch) and at
    compile time. That no element is covered twice the outputs cannot show: an item's first
    reduction block stores its part of C rather than adding to it, so an item run twice writes
    the same values again."""
    m, k, n = 203, 37, 150
    a, b = T.var("a", (m, k)), T.var("b", (k, n))
    program = ft.Program({"mm": T.matmul(a, b), "batched": T.matmul(T.var("c", (2, m, k)), T.var("d", (2, k, n))),
                          "dense": T.dense(a, T.param("w", rand((n, k), seed=3)))})
    mod = check_on(program, targets()[isa], threads=threads)
    assert sorted(mod.report["backend"]["fast_paths"]) == ["dense", "matmul", "matmul"]
