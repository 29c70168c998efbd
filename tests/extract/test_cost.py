"""The cost-model protocol and the CPU model: invariants, fusion, layouts, registry, user models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo, as_cost_model, program_cost
from frittata.extract.cpu_model import host_last_level_cache_bytes
from frittata.terms.program import Program
from tests.strategies import programs

CPU = CpuModel()


def _cost(term) -> float:
    return program_cost(Program({"y": term}), CPU)


def _conv_inputs(channels: int = 64, size: int = 28):
    x = T.var("x", (1, channels, size, size))
    w = T.param("w", np.ones((channels, channels, 3, 3), np.float32))
    b = T.param("b", np.ones((channels,), np.float32))
    return x, w, b


@given(programs())
def test_cpu_cost_is_finite_and_non_negative(program):
    for term in program.terms():
        info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
        cost = CPU.node_cost(info)
        assert np.isfinite(cost) and cost >= 0


def test_fusion_saves_the_intermediate_traffic():
    x, w, b = _conv_inputs()
    unfused = T.relu(T.add(T.conv2d(x, w, pads=1), T.reshape(b, (1, 64, 1, 1))))
    fused = T.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=[("relu",)])
    assert _cost(fused) < _cost(unfused)


def test_pack_costs_a_copy_and_blocks_of_16_fit_the_vector():
    x = T.var("x", (1, 64, 56, 56))
    assert _cost(T.pack_nchwc(x, 16)) > 0
    assert _cost(T.unpack_nchwc(T.pack_nchwc(x, 16), 16)) > _cost(T.pack_nchwc(x, 16))
    assert _cost(T.pack_nchwc(x, 8)) > _cost(T.pack_nchwc(x, 16))


def test_more_work_never_costs_less():
    small, big = T.var("x", (1, 64, 28, 28)), T.var("x", (1, 64, 56, 56))
    assert _cost(T.relu(big)) > _cost(T.relu(small))
    assert _cost(T.exp(big)) >= _cost(T.relu(big))
    x, w, _ = _conv_inputs(size=56)
    assert _cost(T.conv2d(x, w, pads=1)) > _cost(T.relu(x))


def test_output_widths_off_the_vector_width_waste_lanes():
    x = T.var("x", (64, 256))
    per_column = [_cost(T.dense(x, T.param("w", np.ones((n, 256), np.float32)))) / n for n in (64, 65)]
    assert per_column[1] > per_column[0]


def test_leaves_views_and_folded_constants_are_free():
    w = T.param("w", np.ones((64, 64), np.float32))
    assert _cost(w) == 0 and _cost(T.reshape(T.var("x", (4, 16)), (64,))) == 0
    assert _cost(T.mul(w, 2.0)) == 0  # parameters only: folded at compile time


@given(st.floats(1e-9, 1e-3))
def test_user_models_go_through_the_protocol(seconds):
    model = as_cost_model(lambda info: seconds)
    assert model.node_cost(None) == seconds and model.name == "<lambda>"
    assert as_cost_model(CPU) is CPU
    assert program_cost(Program({"y": T.relu(T.var("x", (4,)))}), model) == pytest.approx(2 * seconds)


def test_a_winograd_epilogue_is_not_priced_apart():
    """Winograd's price has no epilogue term, so none of it is the epilogue's (a measured ratio
    then scales all of it); a direct conv's relu epilogue is a positive part of its price."""
    model = CpuModel(vector_lanes=8)
    x, w, b = T.var("x", (1, 64, 28, 28)), T.param("w", np.zeros((64, 64, 3, 3), np.float32)), T.param(
        "b", np.zeros(64, np.float32))
    wino = T.winograd_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=(("relu",),), tile=4)
    direct = T.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=(("relu",), ("sigmoid",)))
    infos = [NodeInfo(t.op, t.attrs, t.type, tuple(a.type for a in t.args), False, (False, True, True))
             for t in (wino, direct)]
    assert model.epilogue_seconds(infos[0]) == 0.0
    assert 0.0 < model.epilogue_seconds(infos[1]) < model.node_cost(infos[1])


def _cache(root, name: str, level: int, kind: str, size: str) -> None:
    entry = root / name
    entry.mkdir()
    for field, value in (("level", level), ("type", kind), ("size", size)):
        (entry / field).write_text(f"{value}\n")


def test_the_hosts_last_level_cache_is_its_highest_data_or_unified_cache(tmp_path):
    """Read as Linux describes a Sapphire Rapids VM's caches (L1 data and instruction, L2, a
    105 MiB L3); no description, or an unreadable one, leaves the model's default."""
    _cache(tmp_path, "index0", 1, "Data", "48K")
    _cache(tmp_path, "index1", 1, "Instruction", "32K")
    _cache(tmp_path, "index2", 2, "Unified", "2048K")
    _cache(tmp_path, "index3", 3, "Unified", "107520K")
    assert host_last_level_cache_bytes(tmp_path) == 105 << 20
    assert host_last_level_cache_bytes(tmp_path / "absent") is None
    (tmp_path / "index3" / "size").write_text("unknown\n")
    assert host_last_level_cache_bytes(tmp_path) is None
