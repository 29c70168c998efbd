"""The CPU model's parts of a kernel's price: the loops and the epilogue applied after them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo
from frittata.extract.cpu_work import work


def _kernel(kind: str, steps: tuple):
    if kind == "conv":
        x = T.var("x", (1, 16, 12, 12))
        w, b = T.param("w", np.ones((16, 16, 3, 3), np.float32)), T.param("b", np.ones((16,), np.float32))
        return T.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=steps)
    x = T.var("x", (24, 40))
    w, b = T.param("w", np.ones((32, 40), np.float32)), T.param("b", np.ones((32,), np.float32))
    return T.fused_dense(x, w, b, epilogue=steps)


@pytest.mark.parametrize("kind, constant", [("conv", True), ("dense", True), ("dense", False)])
def test_a_kernels_loops_cost_the_same_whatever_its_epilogue(kind, constant):
    """Without its epilogue (`epilogue=False`), a fused kernel's compute price is its loops',
    the same whichever steps follow them; with it, each step adds to the price."""
    model = CpuModel(vector_lanes=8)
    bare, whole = [], []
    for steps in ((), (("relu",),), (("relu",), ("sigmoid",))):
        t = _kernel(kind, steps)
        info = NodeInfo(t.op, t.attrs, t.type, tuple(a.type for a in t.args), False, (False, constant, constant))
        done = work(info, model.transcendental_flops, model.vector_lanes)
        assert done.epilogue_flops > 0  # the bias add at least
        bare.append(model.compute_seconds(done, info, epilogue=False))
        whole.append(model.compute_seconds(done, info))
    assert bare == pytest.approx([bare[0]] * 3, rel=1e-12)
    assert bare[0] < whole[0] < whole[1] < whole[2]


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_an_8_bit_contraction_without_a_blocked_schedule_runs_at_the_int8_peak(dtype):
    """Its loops' price scales with the int8 throughput, not the fp32 one (an 8-bit matmul of
    two variables has no blocked schedule: the generic loops)."""
    t = T.matmul(T.var("a", (24, 40), dtype), T.var("b", (40, 32), dtype))
    info = NodeInfo(t.op, t.attrs, t.type, tuple(a.type for a in t.args), False, (False, False))
    model = CpuModel(vector_lanes=8)
    done = work(info, model.transcendental_flops, model.vector_lanes)
    assert done.flops == 2 * 24 * 40 * 32 and done.epilogue_flops == 0
    price = model.compute_seconds(done, info)
    faster_int8 = replace(model, int8_ops_per_core=2 * model.int8_ops_per_core)
    faster_fp32 = replace(model, fp32_flops_per_core=2 * model.fp32_flops_per_core)
    assert faster_int8.compute_seconds(done, info) == pytest.approx(price / 2, rel=1e-12)
    assert faster_fp32.compute_seconds(done, info) == pytest.approx(price, rel=1e-12)
