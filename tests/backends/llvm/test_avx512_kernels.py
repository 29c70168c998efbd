"""The vector pool, the strided convolution's pad pass and the depthwise kernel, built for a real
AVX-512 machine (skylake-avx512 with its features, not the 16-lane variant on AVX2 features that
the equality tests run), verify and compile to zmm instructions. Compiled, not run: this host
may lack the ISA."""

from __future__ import annotations

import pytest

import frittata as ft
from frittata.backends.jit import Machine, host, optimize, verify
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import AVX512_FEATURES, kernel_texts, rand

X = tb.var("x", (1, 16, 19, 37))
PROGRAMS = {
    "pool": tb.max_pool2d(X, (3, 3), (2, 2), (1, 1, 1, 1)),
    "pad_pass": tb.conv2d(X, tb.param("w", rand((8, 16, 3, 3))), strides=(2, 2), pads=(1, 1, 1, 1)),
    "depthwise": tb.conv2d(X, tb.param("w", rand((16, 1, 5, 5))), pads=(2, 2, 2, 2), groups=16),
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_kernel_compiles_to_zmm_for_an_avx512_machine(name):
    machine = Machine(host().triple, "skylake-avx512", AVX512_FEATURES)
    assert machine.lanes == 16
    (text,) = kernel_texts(ft.Program({"y": PROGRAMS[name]}), machine)
    assert {"pool": "pool_row", "pad_pass": "shufflevector", "depthwise": "<16 x float>"}[name] in text
    module = verify(text, name)
    optimize(module, machine, speed=1)
    assert "zmm" in machine.machine().emit_assembly(module)
