"""The CPU fast paths built for real AVX-512 machines (their features, not the 16-lane variant on
AVX2 features that the equality tests run): the vector pool, the strided convolution's pad pass
and the depthwise kernel verify and compile to zmm instructions for a Skylake-X; every fast path
builds whole (kernels, entry, team barrier) for a Sapphire Rapids Xeon, the object code of each
kernel unit in zmm (disassembled by objdump), the int8 kernel's byte quads in VNNI's vpdpbusd,
the int8 Winograd's pair multiply-adds fused into vpdpwssd and the bit-serial popcount in
VPOPCNTDQ's vpopcntq; without those extensions (Skylake-X) the int8 kernel keeps int16 pairs
(vpmaddwd) and the popcount is LLVM's own byte lookup, still in
zmm. Compiled, not run: this host may lack the ISA."""

from __future__ import annotations

import re

import pytest

import frittata as ft
from frittata.backends import fileformat
from frittata.backends.jit import Machine, host, optimize, units_of, verify
from frittata.backends.llvm import build
from frittata.terms import builders as tb
from frittata.terms.tiled import tiled_conv2d
from tests.backends.llvm.helpers import (AVX512_FEATURES, SAPPHIRE_RAPIDS_FEATURES, disassembly, fast_path_programs,
                                        kernel_texts, rand)

X = tb.var("x", (1, 16, 19, 37))
PROGRAMS = {
    "pool": tb.max_pool2d(X, (3, 3), (2, 2), (1, 1, 1, 1)),
    "pad_pass": tb.conv2d(X, tb.param("w", rand((8, 16, 3, 3))), strides=(2, 2), pads=(1, 1, 1, 1)),
    "depthwise": tb.conv2d(X, tb.param("w", rand((16, 1, 5, 5))), pads=(2, 2, 2, 2), groups=16),
}
SKYLAKE_X = Machine(host().triple, "skylake-avx512", AVX512_FEATURES)
SAPPHIRE_RAPIDS = Machine(host().triple, "sapphirerapids", SAPPHIRE_RAPIDS_FEATURES)
ZEN4 = Machine(host().triple, "znver4", AVX512_FEATURES)
ISA_INSTRUCTIONS = {"int8": [r"vpdpbusd\s.*%zmm"], "int8_winograd": [r"vpdpwssd\s.*%zmm"],
                    "bitserial": [r"vpopcntq\s.*%zmm"]}
"""Instructions (on zmm registers) a Sapphire Rapids kernel must have beyond zmm registers."""
BYTE_KERNELS = ("byte_pool", "byte_bitpack", "byte_levels")
"""Kernels of 32-byte vectors (one AVX2 register) on every ISA: ymm, not zmm, on AVX-512."""
OWN_KERNELS = ("bitserial", "max_pool", "global_avg_pool", *BYTE_KERNELS)
"""Fast paths outside `fastpath`'s contractions, which the build report does not list."""


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_kernel_compiles_to_zmm_for_an_avx512_machine(name):
    machine = SKYLAKE_X
    assert machine.lanes == 16
    (text,) = kernel_texts(ft.Program({"y": PROGRAMS[name]}), machine)
    assert {"pool": "plane.body", "pad_pass": "shufflevector", "depthwise": "<16 x float>"}[name] in text
    module = verify(text, name)
    optimize(module, machine, speed=1)
    assert "zmm" in machine.machine().emit_assembly(module)


def kernel_code(term: ft.Term, machine: Machine) -> tuple[ft.Module, dict[str, str]]:
    """`term` built for `machine` on two threads, and the disassembly (`objdump -d`) of the object
    code of each of its kernel units, by unit name."""
    mod = build(ft.Program({"y": term}), threads=2, target=machine)
    units = units_of(fileformat.decode(mod.to_bytes(), "avx512"))
    assert all(unit.obj for unit in units)
    return mod, {unit.name: disassembly(unit.obj) for unit in units if unit.name != "entry"}


@pytest.mark.parametrize("name", sorted(fast_path_programs()))
def test_every_fast_path_builds_in_zmm_for_sapphire_rapids(name):
    """Each kernel takes its fast path at 16 lanes and the object code of each of its kernel units
    computes in zmm registers (ymm for `BYTE_KERNELS`; with the ISA's own instructions where it
    has them: `ISA_INSTRUCTIONS`)."""
    term = fast_path_programs()[name]
    mod, kernels = kernel_code(term, SAPPHIRE_RAPIDS)
    assert SAPPHIRE_RAPIDS.lanes == 16 and "16 fp32 lanes" in mod.report["backend"]["target"]
    assert mod.report["backend"]["fast_paths"] == ([] if name in OWN_KERNELS else [term.op.value])
    assert kernels
    for unit, code in kernels.items():
        assert ("%ymm" if name in BYTE_KERNELS else "%zmm") in code, unit
    for instruction in ISA_INSTRUCTIONS.get(name, []):
        assert any(re.search(instruction, code) for code in kernels.values()), instruction


def test_without_vnni_and_vpopcntdq_the_kernels_keep_their_avx512_fallbacks():
    """Skylake-X: the int8 kernel multiplies its pairs with vpmaddwd, and `llvm.ctpop` of the
    bit-serial kernel's 64-bit lanes becomes LLVM's nibble lookup (vpshufb), all in zmm."""
    programs = fast_path_programs()
    int8 = "".join(kernel_code(programs["int8"], SKYLAKE_X)[1].values())
    assert re.search(r"vpmaddwd\s.*%zmm", int8) and "vpdpwssd" not in int8 and "vpdpbusd" not in int8
    bitserial = "".join(kernel_code(programs["bitserial"], SKYLAKE_X)[1].values())
    assert re.search(r"vpshufb\s.*%zmm", bitserial) and "vpopcnt" not in bitserial


def test_a_7x7_convolutions_tile_loop_keeps_its_accumulators_in_registers_on_zen_4():
    """SqueezeNet's 7x7 stride-2 stem on 24 output channels and rows of 32 in tiles of 12 x 2
    vectors (a tiled schedule's; the default takes 24 x 1): with LLVM's Zen 4 scheduling model,
    the 49 taps unrolled into one block had their loads hoisted above earlier FMAs and ~1100 zmm
    spills and reloads among its 1176 FMAs; a kernel row's taps a loop step (`conv.TapLoop`)
    leave none in the blocks that hold the FMAs."""
    x = tb.var("x", (1, 3, 69, 69))
    schedule = {"vec": 16, "oc_block": 12, "oc_tail": 0, "ow_block": 32, "ow_tail": 0, "c_block": 3, "c_tail": 0,
                "parallel": "pixel"}
    term = tiled_conv2d(x, tb.param("w", rand((24, 3, 7, 7))), tb.param("b", rand((24,))), strides=(2, 2),
                        schedule=tuple(schedule.items()))
    (text,) = kernel_texts(ft.Program({"y": term}), ZEN4)
    module = verify(text, "stem")
    optimize(module, ZEN4, speed=1)
    blocks = re.split(r"\n(?=\.LBB)", ZEN4.machine().emit_assembly(module))
    loops = [block for block in blocks if "vfmadd" in block]
    assert loops
    assert not [line for block in loops for line in block.splitlines() if "%zmm" in line and "(%rsp)" in line]
