"""Hypothesis oracle: random 8-bit programs compiled for vta equal the reference interpreter bit
for bit, at random shapes (channels and widths on and off the 16-wide GEMM block, uint8 and
int8 activations, with and without zero points)."""

from __future__ import annotations

import numpy as np
from hypothesis import given

import frittata as ft
from frittata.backends.vta import VtaCostModel
from frittata.terms import builders as tb
from tests.conftest import compiling
from tests.strategies import inputs_for, vta_programs

# an accelerator so fast that every contraction the rules can tensorize goes to VTA
EAGER = VtaCostModel(clock_hz=1e12, link_bytes_per_s=1e15)


def test_random_8_bit_programs_on_vta_are_bit_exact():
    on_vta = []

    @compiling
    @given(vta_programs())
    def check(program):
        module = ft.compile(program, target="vta", cost=EAGER)
        inputs = inputs_for(program)
        np.testing.assert_array_equal(module.run(**inputs)["out"], ft.evaluate(program, inputs)["out"])
        on_vta.append(bool(module.report["backend"]["split"]["vta"]))

    check()
    assert np.mean(on_vta) >= 0.3, f"only {sum(on_vta)} of {len(on_vta)} programs ran a contraction on VTA"


def test_a_conv_with_one_output_pixel_runs_on_vta():
    """The conv tensorize rules admit outputs of fewer than 3 pixels x channel blocks, which the
    VTA conv lowering once refused (found by vta_programs, then priced unavailable; found again by
    the rule checker): each GEMM writes each accumulator row of a tile once, so a one-pixel tile
    lowers; a 1x1 output of one block of 16 channels runs on VTA, bit-exact."""
    x = tb.var("x", (1, 64, 3, 3), "int8")
    w = tb.param("w", np.ones((16, 64, 3, 3), np.int8))
    program = ft.Program({"out": tb.cast(tb.clip(tb.right_shift(tb.conv2d(x, w), 4), -127, 127), "int8")})
    module = ft.compile(program, target="vta", cost=EAGER)
    inputs = inputs_for(program)
    np.testing.assert_array_equal(module.run(**inputs)["out"], ft.evaluate(program, inputs)["out"])
    assert module.report["backend"]["split"]["vta"] == ["vta_conv2d"]
    assert "unavailable" not in module.report["stages"]["extract"]
