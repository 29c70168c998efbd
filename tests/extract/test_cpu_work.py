"""The analytical model's work of one contraction: 2 FLOPs per multiply-add of its core, and its
epilogue's FLOPs per output."""

import numpy as np
import pytest

from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo
from frittata.extract.cpu_work import work

TRANSCENDENTAL = 20.0


def _epilogue_flops(steps: list[tuple]) -> float:
    x = T.var("x", (4, 32))
    w, b = T.param("w", np.ones((24, 32), np.float32)), T.param("b", np.ones((24,), np.float32))
    term = T.fused_dense(x, w, b, epilogue=steps)
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
    return work(info, TRANSCENDENTAL, 8).epilogue_flops / term.type.size


@pytest.mark.parametrize("step, flops", [
    (("relu",), 1.0),
    (("sigmoid",), TRANSCENDENTAL),
    (("silu",), TRANSCENDENTAL + 1.0),  # x * sigmoid(x)
    (("hard_swish",), 4.0),  # x * clip(x + 3, 0, 6) / 6
])
def test_each_epilogue_step_costs_its_flops_per_output(step, flops):
    """Per output: the bias add (1) plus the step's own FLOPs."""
    assert _epilogue_flops([step]) == 1.0 + flops


def _core_flops(term) -> float:
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
    done = work(info, TRANSCENDENTAL, 8)
    return done.flops - done.epilogue_flops


def test_the_core_of_a_contraction_is_two_flops_per_multiply_add():
    """Outputs x reduction depth x 2: a batched matmul reduces over its operand's last axis (7,
    not the row count 5), a dense layer over its inputs, a grouped convolution over one group's
    channels times the window."""
    matmul = T.matmul(T.var("a", (2, 5, 7)), T.var("b", (2, 7, 3)))
    assert _core_flops(matmul) == 2 * (2 * 5 * 3) * 7
    assert _core_flops(T.matmul(T.var("a", (5, 7)), T.var("b", (7, 3)))) == 2 * (5 * 3) * 7
    assert _core_flops(T.dense(T.var("x", (4, 9)), T.param("w", np.ones((6, 9), np.float32)))) == 2 * (4 * 6) * 9
    conv = T.conv2d(T.var("x", (1, 4, 6, 6)), T.param("w", np.ones((8, 2, 3, 3), np.float32)), groups=2)
    assert _core_flops(conv) == 2 * (8 * 4 * 4) * (2 * 3 * 3)


def test_a_softmax_is_priced_at_its_measured_time():
    """The vector softmax of [1, 4, 128, 128] took 45 us on one AMD EPYC Zen 3 core (AVX2; the
    figure `cpu_work.SOFTMAX_PASS_FLOPS` was set from): the AVX2 model on one core prices it
    within 5% of that (at 3 FLOP-equivalents besides the exponential it priced 26 us)."""
    term = T.softmax(T.var("x", (1, 4, 128, 128)), -1)
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
    model = CpuModel(vector_lanes=8, fp32_flops_per_core=CpuModel.fp32_flops_per_core / 2, cores=1)
    assert model.node_cost(info) == pytest.approx(45e-6, rel=0.05)
