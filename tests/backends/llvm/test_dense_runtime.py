"""dense and fused_dense with run-time weights (training: the weights are inputs) take the
register-blocked path, packing the weights at run time, and equal the interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from tests.backends.llvm.helpers import check_on, targets


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
@pytest.mark.parametrize("threads", [1, 2])
def test_runtime_weights_take_the_blocked_path(isa, name, threads):
    mod = check_on(_programs()[name], targets()[isa], threads=threads)
    assert mod.report["backend"]["fast_paths"] == [_programs()[name].outputs["y"].op.name]


def test_a_runtime_bias_stays_on_the_generic_loops():
    program = ft.Program({"y": T.fused_dense(T.var("x", (4, 8)), T.var("w", (5, 8)), T.var("b", (5,)))})
    mod = check_on(program, targets()["avx2"])
    assert mod.report["backend"]["fast_paths"] == []
