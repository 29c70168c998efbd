"""Every CPU fast path built for a baseline x86-64-v2 CPU (SSE4.2, no AVX: 4 fp32 lanes) runs its
own object code here and equals the interpreter, and that object code (disassembled by objdump)
has no VEX-encoded (AVX) instruction, so the module runs on a CPU without AVX. The int8 kernel
needs 8 lanes (int16 pairs into int32 lanes, `int8_schedules.int8_conv_schedule`): there the int8
convolution takes the generic loops."""

from __future__ import annotations

import re

import numpy as np
import pytest

import frittata as ft
from frittata.backends import fileformat
from frittata.backends.jit import Machine, host, units_of
from frittata.backends.llvm import build
from frittata.backends.runtime import Module
from tests.backends.llvm.helpers import dirty, disassembly, fast_path_programs
from tests.strategies import inputs_for

V2 = Machine(host().triple, "x86-64-v2", "")
GENERIC_HERE = ("int8", "int8_winograd", "bitserial", "max_pool", "global_avg_pool", "byte_pool", "byte_bitpack",
                "byte_levels")
"""Programs whose step the build report lists under no fast path here (the int8 convolution's
and the int8 Winograd's generic loops below 8 lanes; the bit-serial, pool, sum and 8-bit kernels are
not `fastpath`'s contractions)."""
INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\t", re.MULTILINE)
"""An instruction's line in `objdump -d`'s listing (its address, a colon, a tab)."""
VEX = re.compile(r"^\s*[0-9a-f]+:\tv[a-z0-9]+\s|%[yz]mm", re.MULTILINE)
"""An AVX instruction in the listing: a VEX or EVEX mnemonic (vmovups, vfmadd231ps, ...) or a
ymm / zmm register."""


def linked_as_built(mod: ft.Module) -> Module:
    """`mod`'s object code linked as it is: its file is made to name this host's CPU (which has
    every x86-64-v2 feature), so that the runtime does not compile its IR again for this host."""
    saved = fileformat.decode(mod.to_bytes(), "x86-64-v2")
    saved.meta.update(cpu=host().cpu, features=host().features)
    linked = Module(saved, threads=2)
    assert linked.from_objects
    return linked


@pytest.mark.parametrize("name", sorted(fast_path_programs()))
def test_every_fast_path_runs_its_x86_64_v2_code(name):
    term = fast_path_programs()[name]
    program = ft.Program({"y": term})
    mod = build(program, threads=2, target=V2)
    assert "(4 fp32 lanes)" in mod.report["backend"]["target"]
    assert mod.report["backend"]["fast_paths"] == ([] if name in GENERIC_HERE else [term.op.value])
    inputs = inputs_for(program, seed=4)
    got, want = dirty(linked_as_built(mod)).run(**inputs)["y"], ft.evaluate(program, inputs)["y"]
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for unit in units_of(fileformat.decode(mod.to_bytes(), "x86-64-v2")):
        code = disassembly(unit.obj)
        assert INSTRUCTION.search(code), unit.name
        assert VEX.search(code) is None, (unit.name, VEX.search(code))
