"""The tiling family: tiled ops type-check their schedules, the rules pass the property check,
and the CPU cost model picks a schedule per shape and per host vector width."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata.backends.llvm import build
from frittata.errors import FrittataTypeError
from frittata.extract import extract
from frittata.extract.cpu_model import CpuModel
from frittata.extract.schedule_cost import balance, block_efficiency, lane_efficiency
from frittata.rewrites import saturate
from frittata.rewrites.check import check_rule
from frittata.rewrites.library import load_file
from frittata.terms import builders as tb
from frittata.terms.cpu_schedules import blocked_schedule
from frittata.terms.ops import Op

TILING = Path(ft.__file__).parent / "rewrites" / "rules" / "tiling.rules"
AVX2 = CpuModel(vector_lanes=8, fp32_flops_per_core=121e9)
AVX512 = CpuModel(vector_lanes=16)

def _conv(c: int, o: int, hw: int, k: int = 3) -> ft.Program:
    rng = np.random.default_rng([c, o, hw])
    x = tb.var("x", (1, c, hw, hw))
    w = tb.param("w", rng.standard_normal((o, c, k, k)).astype(np.float32))
    b = tb.param("b", rng.standard_normal(o).astype(np.float32))
    return ft.Program({"y": tb.fused_conv2d(x, w, b, pads=(k // 2,) * 4, epilogue=(("relu",),))})


def _picked(program: ft.Program, model: CpuModel) -> dict:
    """The schedule the extracted convolution runs with: a tiled op's own, or the default (the
    direct kernel's: the algorithm family, which offers Winograd, is off)."""
    data, _ = saturate(program, disable=["algorithm"])
    choice, _ = extract(data, model)
    (conv,) = [t for t in data.to_program(choice).terms() if t.op.value.endswith("conv2d")]
    schedule = blocked_schedule(conv.op, conv.attrs, conv.type, tuple(a.type for a in conv.args),
                                tuple(a.op == Op.PARAM for a in conv.args), model.vector_lanes)
    assert schedule is not None
    return schedule


def test_every_tiling_rule_passes_the_property_check_compiled_with_llvm():
    """The interpreter ignores schedules: each rule's largest instances (the largest of each
    kernel form, two at least) are also compiled, one program each, and run against the
    interpreter's left side."""
    rules = load_file(TILING)
    assert rules and all(r.name.startswith("tile-") and r.family == "tiling" for r in rules)
    results = [check_rule(r, compiled={"llvm": lambda p, x: build(p).run(**x)}) for r in rules]
    failures = [r.line() for r in results if not r.passed]
    assert not failures, "\n".join(failures)
    assert all(r.compiled >= 2 and r.total == 12 for r in results)


GOOD = {"vec": 8, "oc_block": 12, "oc_tail": 8, "ow_block": 8, "ow_tail": 2, "c_block": 2, "c_tail": 1,
        "parallel": "oc"}


@pytest.mark.parametrize("change, message", [
    ({"oc_tail": 0}, "oc_tail = 20 % 12 = 8"),
    ({"vec": 6, "ow_block": 12, "ow_tail": 10}, "vector width"),
    ({"ow_block": 12, "ow_tail": 10}, "multiple of vec"),
    ({"c_tail": 0}, "c_tail = 3 % 2 = 1"),
    ({"parallel": "n"}, "parallel loop"),
    ({"c_block": None}, "keys"),
])
def test_bad_schedules_are_type_errors(change, message):
    x = tb.var("x", (1, 3, 10, 10))
    w, b = tb.param("w", np.zeros((20, 3, 3, 3), np.float32)), tb.param("b", np.zeros(20, np.float32))
    tb.tiled_conv2d(x, w, b, pads=(1, 1, 1, 1), schedule=tuple(GOOD.items()))
    schedule = tuple((k, v) for k, v in {**GOOD, **change}.items() if v is not None)
    with pytest.raises(FrittataTypeError, match=message):
        tb.tiled_conv2d(x, w, b, pads=(1, 1, 1, 1), schedule=schedule)


def test_the_pick_depends_on_the_shape():
    """A deep layer's weights outweigh its input: threads split the output channels (each
    sweeps the small input); a wide layer's input outweighs its weights: they split pixels."""
    deep = _picked(_conv(256, 256, 14), AVX2)
    wide = _picked(_conv(64, 64, 56), AVX2)
    assert deep != wide
    assert deep["parallel"] == "oc" and wide["parallel"] == "pixel"


def test_the_pick_follows_the_vector_width():
    assert _picked(_conv(64, 20, 28), AVX2)["vec"] == 8
    assert _picked(_conv(64, 20, 28), AVX512)["vec"] == 16


@pytest.mark.parametrize("cores", [1, 2])
def test_many_taps_take_two_vectors_on_16_lanes(cores):
    """5x5 64 -> 64 at 28x28: with its kernel rows a loop (`conv.TapLoop`) a 12 x 2 tile spills no
    more (14 zmm stack accesses against 24 x 1's 80) and 24 x 1 ran 1.08x (one core) and 1.05x
    (two, CPU time) its time, so the extraction picks two vectors (`row_vectors`). The 3x3 layer
    at 56x56 too."""
    for model in (AVX512, CpuModel(vector_lanes=16, cores=cores)):
        picked = _picked(_conv(64, 64, 28, k=5), model)
        assert (picked["vec"], picked["ow_block"]) == (16, 32)
    assert _picked(_conv(64, 64, 56), CpuModel(vector_lanes=16, cores=cores))["ow_block"] == 32


def test_schedule_cost_factors():
    assert block_efficiency(6, 2, 8, 8) == 1.0
    assert block_efficiency(2, 1, 8, 8) < 0.5           # too few accumulators for the FMA latency
    assert block_efficiency(12, 2, 16, 8) < 0.5         # split 16-lane vectors spill on AVX2
    assert lane_efficiency(56, 8, 8, 8) == 1.0 and lane_efficiency(7, 8, 8, 8) == 7 / 8
    assert lane_efficiency(64, 8, 8, 16) == 0.5         # half-width vectors on AVX-512
    assert balance(7, 2) == 7 / 8 and balance(6, 2) == 1.0
