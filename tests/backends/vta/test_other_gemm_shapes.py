"""Designs with another GEMM shape than the default 1x16x16 compile for real: the tensorization
rules are bound to the design's block, the lowering tiles for its buffers, and the simulator
runs its shape; the quantized MLP and an int8 convolution are bit-exact against the reference
interpreter on a 1x32x32 and a 4x16x16 design."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.backends.vta import VtaConfig, VtaCostModel
from frittata.quantize import quantize
from frittata.terms import builders as tb
from frittata.terms import zoo

DESIGNS = {"1x32x32": VtaConfig(log_block=5, log_wgt_buff_size=19, clock_mhz=150, gemm_stages=3),
           "4x16x16": VtaConfig(log_batch=2, log_inp_buff_size=16, log_acc_buff_size=17, log_bus_width=7)}


def _eager(cfg: VtaConfig) -> VtaCostModel:
    """So fast an accelerator that every contraction the rules tensorize goes to it."""
    return VtaCostModel(cfg=cfg, clock_hz=1e12, link_bytes_per_s=1e15)


def _check(program: ft.Program, cfg: VtaConfig, inputs: dict[str, np.ndarray], saved=None) -> dict:
    """Compile for `cfg`, run bit-exactly, and (given a path) save, load and run again."""
    module = ft.compile(program, target="vta", config=cfg, cost=_eager(cfg))
    want = ft.evaluate(program, inputs)
    got = module.run(**inputs)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    assert cfg.name in module.report["backend"]["target"]
    if saved is not None:
        module.save(saved)
        loaded = ft.load(saved)
        assert loaded.cfg == cfg
        for name in want:
            np.testing.assert_array_equal(loaded.run(**inputs)[name], want[name])
    return module.report["backend"]["split"]


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_the_quantized_mlp_is_bit_exact_and_saves_with_its_design(design, tmp_path):
    cfg = DESIGNS[design]
    program = zoo.mlp(batch=4)
    calibration = [zoo.example_input(program, seed=s) for s in range(1, 4)]
    split = _check(quantize(program, calibration), cfg, zoo.example_input(program, seed=7), tmp_path / "m.ftm")
    assert split["vta"] == ["vta_dense"] * 3


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_an_int8_conv_is_bit_exact(design, rng):
    cfg = DESIGNS[design]
    x = tb.var("x", (4, 40, 9, 9), "int8")
    w = tb.param("w", rng.integers(-128, 128, (48, 40, 3, 3)).astype(np.int8))
    b = tb.param("b", rng.integers(-2000, 2000, (1, 48, 1, 1)).astype(np.int32))
    y = tb.cast(tb.clip(tb.right_shift(tb.add(tb.conv2d(x, w, strides=2, pads=1), b), 9), -127, 127), "int8")
    program = ft.Program({"y": y})
    split = _check(program, cfg, {"x": rng.integers(-128, 128, (4, 40, 9, 9)).astype(np.int8)})
    assert split["vta"] == ["vta_conv2d"]
