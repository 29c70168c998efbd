"""A target string naming an x86 CPU ("llvm -mcpu=sapphirerapids") or features gets the vector ISA
features LLVM's CPU has with -mattr applied (`x86_features.vector_features`), so its kernels have
the CPU's lanes and its module runs only where those features are; -mattr's features win, with
the features LLVM switches off along with them ("-avx" takes AVX2 with it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import frittata as ft
from frittata.backends.cross import CrossModule
from frittata.backends.jit import Machine, runs_here
from frittata.backends.llvm import build
from frittata.terms import builders as tb
from tests.backends.llvm.helpers import rand

AVX512 = {"+avx", "+avx2", "+fma", "+avx512f", "+avx512bw"}
XEON = AVX512 | {"+avx512vnni", "+avx512vpopcntdq"}


@pytest.mark.parametrize("spec, lanes, features", [
    ("llvm -mcpu=x86-64-v2", 4, set()),
    ("llvm -mcpu=x86-64-v3", 8, {"+avx", "+avx2", "+fma"}),
    ("llvm -mcpu=znver3", 8, {"+avx", "+avx2", "+fma"}),
    ("llvm -mcpu=bdver1", 4, {"+avx"}),  # FMA4 (vfmaddps), not FMA3
    ("llvm -mcpu=bdver2", 4, {"+avx", "+fma"}),  # both: LLVM would pick FMA4
    ("llvm -mcpu=alderlake", 8, {"+avx", "+avx2", "+fma", "+avxvnni"}),
    ("llvm -mcpu=skylake-avx512", 16, AVX512),
    ("llvm -mcpu=cascadelake", 16, AVX512 | {"+avx512vnni"}),
    ("llvm -mcpu=sapphirerapids", 16, XEON | {"+avxvnni"}),  # AVX-VNNI's 256-bit VEX form as well
    ("llvm -mcpu=emeraldrapids", 16, XEON | {"+avxvnni"}),
    ("llvm -mcpu=rocketlake", 16, XEON),  # what LLVM calls an Emerald Rapids host under a hypervisor
    ("llvm -mcpu=skylake-avx512 -mattr=-avx512f", 8, {"-avx512f", "+avx", "+avx2", "+fma"}),
    ("llvm -mcpu=znver3 -mattr=+avx2", 8, {"+avx2", "+avx", "+fma"}),
    ("llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72", 4, set()),
    ("llvm -mattr=+avx2,-avx", 4, {"-avx", "-avx2"}),  # LLVM's -avx switches AVX2 off
    ("llvm -mattr=+avx512f,-avx2", 4, {"+avx", "+fma", "-avx2", "-avx512f"}),  # -avx2: AVX-512F off
    ("llvm -mcpu=sapphirerapids -mattr=-avx2", 4, {"+avx", "+fma", "-avx2"}),
])
def test_a_named_cpu_brings_its_vector_features(spec, lanes, features):
    machine = Machine.parse(spec)
    assert machine.lanes == lanes
    assert set(filter(None, machine.features.split(","))) == features


def test_a_module_for_a_named_avx512_cpu_has_its_kernels_and_runs_only_where_they_do():
    machine = Machine.parse("llvm -mcpu=sapphirerapids")
    x = tb.var("x", (1, 8, 9, 9))
    mod = build(ft.Program({"y": tb.conv2d(x, tb.param("w", rand((16, 8, 3, 3))), pads=(1, 1, 1, 1))}), threads=1,
                target=machine)
    assert "(16 fp32 lanes)" in mod.report["backend"]["target"]
    assert isinstance(mod, CrossModule) != runs_here(machine)


BIT_SERIAL = """
import numpy as np
import frittata as ft
from frittata import terms as T
from tests.backends.llvm.helpers import packed_weights
x = T.bitpack(T.var("x", (1, 64, 6, 6), "int8"), 3, 1)
w = packed_weights(np.ones((8, 64, 3, 3), np.int8), 1, "int64")
module = ft.compile(T.Program({"y": T.bitserial_conv2d(x, w, 1, 1)}), target="llvm -mattr=+avx2,-avx")
print(module.report["backend"]["target"])
"""


def test_a_feature_switched_off_with_one_it_implies_gets_kernels_llvm_can_select():
    """"+avx2,-avx" has no AVX2 in LLVM: the bit-serial kernel is the 4-lane one, not the AVX2
    nibble lookup calling llvm.x86.avx2.pshuf.b (before: in a child process, LLVM aborted with
    "Do not know how to split the result of this operator!")."""
    done = subprocess.run([sys.executable, "-c", BIT_SERIAL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(4 fp32 lanes)" in done.stdout
