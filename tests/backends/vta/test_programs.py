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


def test_a_conv_with_one_output_row_compiles_for_vta():
    """The conv tensorize rules admit outputs of fewer than 3 rows, which the VTA conv lowering
    cannot tile (found by vta_programs; it raised LoweringError): the cost model prices that
    alternative as unavailable, so the conv runs on the CPU, bit-exact."""
    x = tb.var("x", (1, 8, 3, 3), "int8")
    w = tb.param("w", np.ones((8, 8, 3, 3), np.int8))
    program = ft.Program({"out": tb.cast(tb.clip(tb.right_shift(tb.conv2d(x, w), 4), -127, 127), "int8")})
    module = ft.compile(program, target="vta", cost=EAGER)
    inputs = inputs_for(program)
    np.testing.assert_array_equal(module.run(**inputs)["out"], ft.evaluate(program, inputs)["out"])
    assert not module.report["backend"]["split"]["vta"]
    reasons = module.report["stages"]["extract"]["unavailable"].values()
    assert any("none does" in why for why in reasons)
