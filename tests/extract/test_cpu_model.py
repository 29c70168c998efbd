"""The CPU model's parts of a kernel's price: the loops and the epilogue applied after them."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

import frittata as ft
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


def test_a_cpu_that_splits_512_bit_instructions_is_priced_at_the_256_bit_rate():
    """Zen 4 (znver4) runs the 16-lane kernels at Zen 3's FMA, int8 and popcount rates per core
    (`cpu_geometry.HALF_RATE_512_CPUS`); a Sapphire Rapids core at twice them; a 1x1
    convolution, bound by its FMAs, costs twice as long on the first."""
    triple, avx2 = "x86_64-unknown-linux-gnu", "+avx,+avx2,+fma,+popcnt,+avxvnni"
    avx512 = avx2 + ",+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512vnni,+avx512vpopcntdq"
    zen3, zen4 = CpuModel.for_machine(triple, avx2, "znver3"), CpuModel.for_machine(triple, avx512, "znver4")
    spr = CpuModel.for_machine(triple, avx512, "sapphirerapids")
    assert (zen4.vector_lanes, zen3.vector_lanes) == (16, 8)
    for rate in ("fp32_flops_per_core", "int8_ops_per_core"):
        assert getattr(zen4, rate) == getattr(zen3, rate) == getattr(spr, rate) / 2
    assert zen4.word_pairs_per_core == spr.word_pairs_per_core / 2
    assert CpuModel.for_machine(triple, avx512) == spr
    x = T.var("x", (1, 256, 28, 28))
    w, b = T.param("w", np.ones((256, 256, 1, 1), np.float32)), T.param("b", np.ones((256,), np.float32))
    t = T.fused_conv2d(x, w, b, epilogue=(("relu",),))
    info = NodeInfo(t.op, t.attrs, t.type, tuple(a.type for a in t.args), False, (False, True, True))
    assert zen4.node_cost(info) == pytest.approx(2 * spr.node_cost(info), rel=0.05)


def test_the_host_model_takes_its_cpus_own_rates(monkeypatch):
    """The model of a Zen 4 host (the extraction's and the build's thread decisions') prices at
    its CPU's own rates, 8 lanes' FMAs a cycle."""
    from frittata.extract import cpu_model

    features = "+avx,+avx2,+fma,+avx512f,+avx512bw,+avx512dq,+avx512vl"
    monkeypatch.setattr(cpu_model.llvm, "get_process_triple", lambda: "x86_64-unknown-linux-gnu")
    monkeypatch.setattr(cpu_model.llvm, "get_host_cpu_name", lambda: "znver4")
    monkeypatch.setattr(cpu_model.llvm, "get_host_cpu_features", lambda: SimpleNamespace(flatten=lambda: features))
    assert CpuModel.for_host().fp32_flops_per_core == CpuModel.fp32_flops_per_core / 2


@pytest.mark.parametrize("spec", ["llvm -mcpu=sapphirerapids", "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72"])
def test_a_build_for_another_target_prices_its_steps_at_that_targets_rates(monkeypatch, spec):
    """The thread decisions of a cross build (`build.step_facts`) price each step with the
    target's model, not the compiling host's CPU: the same module whatever CPU compiled it."""
    from frittata.backends.jit import Machine
    from frittata.backends.llvm.build import step_facts
    from frittata.backends.llvm.plan import make_plan
    from frittata.extract import cpu_model
    from frittata.extract.cost import term_infos

    x = T.var("x", (1, 128, 12, 12))
    w = T.param("w", np.ones((128, 128, 1, 1), np.float32))
    program = ft.Program({"y": T.relu(T.conv2d(x, w))})
    plan = make_plan(program, lambda t: 0)
    machine = Machine.parse(spec)
    model = CpuModel.for_machine(machine.triple, machine.features, machine.cpu)
    want = {id(t): model.node_cost(info) for t, info in term_infos(program)}
    for host_cpu in ("znver4", "sapphirerapids"):
        monkeypatch.setattr(cpu_model.llvm, "get_host_cpu_name", lambda cpu=host_cpu: cpu)
        facts = step_facts(program, plan, [f"s{i}" for i in range(len(plan.steps))], machine)
        assert [f["model_s"] for f in facts] == [want[id(s.term)] for s in plan.steps]
