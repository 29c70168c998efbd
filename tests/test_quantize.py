"""ft.quantize: a power-of-two int8 MLP agrees with the float model, and runs on VTA bit-exactly."""

from __future__ import annotations

import numpy as np

import frittata as ft
from frittata.terms import zoo

R = np.random.default_rng(1)
CALIBRATION = [{"x": R.standard_normal((1, 784)).astype(np.float32)} for _ in range(8)]
SAMPLES = [{"x": R.standard_normal((1, 784)).astype(np.float32)} for _ in range(50)]


def test_quantized_mlp_top1_agrees_with_float():
    program = zoo.mlp()
    quantized = ft.quantize(program, CALIBRATION)
    agree = np.mean([ft.evaluate(program, x)["y"].argmax() == ft.evaluate(quantized, x)["y"].argmax()
                     for x in SAMPLES])
    assert agree >= 0.95


def test_quantized_mlp_runs_on_vta_bit_exact():
    quantized = ft.quantize(zoo.mlp(), CALIBRATION)
    module = ft.compile(quantized, target="vta")
    assert module.report["backend"]["split"]["vta"]
    for x in SAMPLES[:3]:
        np.testing.assert_array_equal(module.run(**x)["y"], ft.evaluate(quantized, x)["y"])
