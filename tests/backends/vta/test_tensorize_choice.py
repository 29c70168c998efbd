"""Tensorization rules are sound, and extraction puts large int8 convolutions on VTA, the rest on
the CPU, with a cost parameter that flips the choice."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import frittata as ft
from frittata.backends.vta import VTA_SCHEDULE, VtaConfig, VtaCostModel, rule_parameters
from frittata.extract.cpu_model import CpuModel
from frittata.rewrites.check import check_rule
from frittata.rewrites.library import load_file
from frittata.rewrites.schedule import Limits
from frittata.terms import builders as tb

PATH = __import__("frittata.rewrites", fromlist=["x"]).__path__[0] + "/rules/tensorize_vta.rules"
LIBRARY = load_file(PATH)
SMALL = VtaConfig(log_batch=1, log_block=3, log_wgt_buff_size=16, log_inp_buff_size=14, log_acc_buff_size=15)


@pytest.mark.parametrize("rule", LIBRARY + load_file(PATH, rule_parameters(SMALL)), ids=lambda r: r.name)
def test_rule_is_sound(rule):
    result = check_rule(rule, examples=3, attempts=3000)
    assert result.passed, result.line()


def int8_conv_program(rng: np.random.Generator, channels: int = 64):
    x = tb.var("x", (1, channels, 14, 14), "int8")
    w = tb.param("w", rng.integers(-128, 128, (channels, channels, 3, 3)).astype(np.int8))
    b = tb.param("b", rng.integers(-1000, 1000, (1, channels, 1, 1)).astype(np.int32))
    y = tb.cast(tb.clip(tb.right_shift(tb.add(tb.conv2d(x, w, pads=1), b), 9), -127, 127), "int8")
    return ft.Program({"z": tb.softmax(tb.cast(tb.flatten(y), "float32"))})


def _run(rng: np.random.Generator, program, **options):
    module = ft.compile(program, target="vta", **options)
    x = rng.integers(-128, 128, program.inputs["x"].shape).astype(np.int8)
    np.testing.assert_allclose(module.run(x=x)["z"], ft.evaluate(program, {"x": x})["z"], rtol=1e-5, atol=1e-7)
    return module.report["backend"]["split"]


def test_large_int8_conv_runs_on_vta_softmax_on_cpu(rng):
    split = _run(rng, int8_conv_program(rng))
    assert split["vta"] == ["vta_conv2d"] and {"softmax", "fused_softmax"} & set(split["cpu"])


def test_a_slow_accelerator_clock_flips_the_choice_to_the_cpu(rng):
    """The CPU runs int8 convolutions on its generic loops (a fraction of a percent of its
    peak), so only an accelerator clocked at 10 kHz loses to it."""
    split = _run(rng, int8_conv_program(rng), cost=VtaCostModel(clock_hz=1e4))
    assert split["vta"] == [] and "fused_conv2d" in split["cpu"]


def test_a_fast_host_cpu_flips_the_choice_to_the_cpu(rng):
    """A host whose integer contractions reach 70% of its int8 peak (as a dot-product-unit
    kernel would) keeps the convolution."""
    split = _run(rng, int8_conv_program(rng), cost=VtaCostModel(cpu=CpuModel(generic_contraction_efficiency=0.7)))
    assert split["vta"] == []


def test_padding_rules_put_odd_channel_counts_on_vta(rng):
    split = _run(rng, int8_conv_program(rng, channels=40))
    assert split["vta"] == ["vta_conv2d"]


def test_float_conv_stays_on_the_cpu(rng):
    x = tb.var("x", (1, 16, 8, 8))
    w = tb.param("w", rng.standard_normal((16, 16, 3, 3)).astype(np.float32))
    program = ft.Program({"y": tb.relu(tb.conv2d(x, w, pads=1))})
    module = ft.compile(program, target="vta")
    assert module.report["backend"]["split"]["vta"] == []


def test_a_bias_computed_at_run_time_keeps_the_dense_on_the_cpu(rng):
    """VTA loads a bias from constants only: the cost model prices a vta_dense with a run-time
    bias as unsupported, so the extracted program keeps the run-time bias off the accelerator
    (a zero-bias contraction on VTA, the add on the CPU) and compile finishes."""
    x, b = tb.var("x", (16, 64), "int8"), tb.var("b", (64,), "int32")
    w = tb.param("w", rng.integers(-128, 128, (64, 64)).astype(np.int8))
    program = ft.Program({"y": tb.add(tb.dense(x, w), b)})
    module = ft.compile(program, target="vta")
    inputs = {"x": rng.integers(-128, 128, (16, 64)).astype(np.int8),
              "b": rng.integers(-1000, 1000, 64).astype(np.int32)}
    np.testing.assert_array_equal(module.run(**inputs)["y"], ft.evaluate(program, inputs)["y"])
    calls = [t for t in module.program.terms() if t.op.is_a("vta") and t.op.value in ("vta_dense", "vta_conv2d")]
    assert all(t.args[2].op.value == "param" for t in calls)


def stem_program(rng, hw: int):
    """ResNet's stem as quantized: 7x7, stride 2, pads 3, input channels padded to 16."""
    x = tb.var("x", (1, 16, hw, hw), "int8")
    w = tb.param("w", rng.integers(-128, 128, (64, 16, 7, 7)).astype(np.int8))
    b = tb.param("b", rng.integers(-1000, 1000, (1, 64, 1, 1)).astype(np.int32))
    y = tb.cast(tb.clip(tb.right_shift(tb.add(tb.conv2d(x, w, strides=2, pads=3), b), 9), -127, 127), "int8")
    return ft.Program({"y": y}), {"x": rng.integers(-128, 128, (1, 16, hw, hw)).astype(np.int8)}


def test_a_conv_no_tile_fits_stays_on_the_cpu_and_the_report_says_why(rng):
    """With 16 INP elements per buffer not even one output pixel's 7x7 window fits: the VTA
    alternative is priced as unavailable, so compile finishes with the conv on the CPU (it
    raised LoweringError from the cost model before), bit-exact, and the extract stage of the
    report names the layer and the reason."""
    program, inputs = stem_program(rng, 64)
    module = ft.compile(program, target="vta", config=VtaConfig(log_inp_buff_size=9))
    assert not module.report["backend"]["split"]["vta"]
    (what, why), = module.report["stages"]["extract"]["unavailable"].items()
    assert what.startswith("vta_conv2d") and "none does" in why
    np.testing.assert_array_equal(module.run(**inputs)["y"], ft.evaluate(program, inputs)["y"])


def test_the_224_stem_tiles_in_width_and_runs_on_vta(rng):
    """No whole output row of the 224x224 stem fits the default INP buffer (7 rows x 229
    columns), so it is tiled in both dimensions; it runs on VTA, bit-exact."""
    program, inputs = stem_program(rng, 224)
    module = ft.compile(program, target="vta")
    assert module.report["backend"]["split"]["vta"] == ["vta_conv2d"]
    assert "unavailable" not in module.report["stages"]["extract"]
    np.testing.assert_array_equal(module.run(**inputs)["y"], ft.evaluate(program, inputs)["y"])


def test_a_requantized_layer_is_fused_whole_before_the_time_limited_fuse_phase(rng):
    """The stem as quantized (3 input channels, relu, rounding shift, clip, int8) with the CPU's
    fuse phase allowed no step, as when its time limit stops it early on a loaded machine: the
    contraction phase before it has fused the whole epilogue, so the conv still runs on VTA
    with an int8 output (one store plane), bit-exact."""
    x = tb.var("x", (1, 3, 32, 32), "int8")
    w = tb.param("w", rng.integers(-128, 128, (64, 3, 7, 7)).astype(np.int8))
    b = tb.param("b", rng.integers(-1000, 1000, (1, 64, 1, 1)).astype(np.int32))
    conv = tb.relu(tb.add(tb.conv2d(x, w, strides=2, pads=3), b))
    program = ft.Program({"y": tb.cast(tb.clip(tb.right_shift(conv, 9), -127, 127), "int8")})
    schedule = tuple(replace(p, limits=Limits(iterations=0)) if p.name == "fuse" else p for p in VTA_SCHEDULE)
    module = ft.compile(program, target="vta", schedule=schedule)
    (call,) = [t for t in module.program.terms() if t.op.value == "vta_conv2d"]
    assert call.dtype == "int8" and ("relu",) in call.attr("epilogue")
    inputs = {"x": rng.integers(-128, 128, (1, 3, 32, 32)).astype(np.int8)}
    np.testing.assert_array_equal(module.run(**inputs)["y"], ft.evaluate(program, inputs)["y"])
