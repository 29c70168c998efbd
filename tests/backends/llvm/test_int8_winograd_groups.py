"""The int8 Winograd kernel's one-block form with several groups of panels (128 or more output
channels, more channels than tiles) is bit-exact against the interpreter on both ISAs, with one
and two threads: each group's U panels, M region and output channels are its own."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.backends.llvm import build
from frittata.terms import builders as tb
from frittata.terms.int8_schedules import int8_winograd_groups
from frittata.terms.winograd import INTEGER_TILES
from tests.backends.llvm.helpers import dirty, targets

EPILOGUE = (("relu",), ("shift", 9), ("clip", -127, 127), ("cast", "int8"))

CASES = [  # (n, c, o, h, w, pads, epilogue, tile, isa, threads)
    (1, 16, 128, 5, 6, (1, 1, 1, 1), EPILOGUE, 0, "avx2", 2),
    (2, 3, 250, 4, 3, (0, 1, 0, 0), (), 1, "avx512", 1),
    (1, 17, 500, 3, 4, (1, 0, 0, 1), EPILOGUE, 1, "avx2", 1),
    (1, 16, 512, 4, 4, (0, 0, 1, 1), (), 0, "avx512", 2),
]


def test_the_cases_have_several_groups():
    assert int8_winograd_groups(128 // 8) == 4 and int8_winograd_groups(512 // 16) == 8
    assert int8_winograd_groups(256 // 8) == 8 and int8_winograd_groups(512 // 8) == 8


@pytest.mark.parametrize(("n", "c", "o", "h", "w", "pads", "epilogue", "tile", "isa", "threads"), CASES)
def test_int8_winograd_groups_bit_exact(n, c, o, h, w, pads, epilogue, tile, isa, threads):
    rng = np.random.default_rng([n, c, o, h, w])
    weights = tb.param("w", rng.integers(-128, 128, (o, c, 3, 3)).astype(np.int8))
    bias = tb.param("b", rng.integers(-(1 << 16), 1 << 16, (o,)).astype(np.int32))
    term = tb.winograd_conv2d(tb.var("x", (n, c, h, w), "int8"), weights, bias, pads=pads, epilogue=epilogue,
                              tile=INTEGER_TILES[tile])
    x = rng.integers(-128, 128, (n, c, h, w)).astype(np.int8)
    program = ft.Program({"y": term})
    mod = build(program, threads=threads, target=targets()[isa])
    assert mod.report["backend"]["fast_paths"] == ["winograd_conv2d"]
    np.testing.assert_array_equal(dirty(mod).run(x=x)["y"], ft.evaluate(program, {"x": x})["y"])
