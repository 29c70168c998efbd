"""A 16-lane target without AVX512-VL (forced: every real AVX-512 VNNI CPU has VL) builds the int8
convolution and the depthwise kernel on rows of at most 8 pixels, whose tiles take 8-lane
vectors, and runs them equal to the interpreter: those vectors must stay ymm forms LLVM can select
without VL (a 256-bit vpdpbusd cannot, and LLVM ends the process), so each target builds in a
child process. On a host without AVX-512 the module is a `CrossModule`: it must build (where LLVM
ended the process), and runs only where the host has the target's features."""

from __future__ import annotations

import subprocess
import sys

import pytest

from frittata.backends.jit import host
from frittata.terms.cpu_geometry import byte_quads
from tests.backends.llvm.helpers import AVX2_FEATURES

CHILD = r"""
import sys
import numpy as np
import frittata as ft
from frittata.backends.cross import CrossModule
from frittata.backends.jit import Machine
from frittata.backends.llvm import build
from frittata.terms import builders as tb
spec, ow = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
xi = tb.var("x", (1, 8, 7, ow), "int8")
wi = tb.param("w", rng.integers(-128, 128, (16, 8, 3, 3)).astype(np.int8))
xf = tb.var("z", (1, 24, 7, ow), "float32")
wf = tb.param("v", rng.standard_normal((24, 1, 3, 3)).astype(np.float32))
program = ft.Program({"y": tb.conv2d(xi, wi, pads=(1, 1, 1, 1)),
                      "d": tb.conv2d(xf, wf, pads=(1, 1, 1, 1), groups=24)})
inputs = {"x": rng.integers(-128, 128, (1, 8, 7, ow)).astype(np.int8),
          "z": rng.standard_normal((1, 24, 7, ow)).astype(np.float32)}
mod = build(program, threads=1, target=Machine.parse(spec))
if not isinstance(mod, CrossModule):
    got, want = mod.run(**inputs), ft.evaluate(program, inputs)
    np.testing.assert_array_equal(got["y"], want["y"])
    np.testing.assert_allclose(got["d"], want["d"], rtol=1e-5, atol=1e-5)
print(sorted(mod.report["backend"]["fast_paths"]))
"""

NO_VL = "+avx512f,+avx512bw,+avx512vnni"
TARGETS = [f"llvm -mcpu=x86-64 -mattr={AVX2_FEATURES},{NO_VL}", "llvm -mcpu=native -mattr=-avx512vl"]


def test_byte_quads_need_vl():
    assert not byte_quads(host().triple, f"{AVX2_FEATURES},{NO_VL}")
    assert byte_quads(host().triple, f"{AVX2_FEATURES},{NO_VL},+avx512vl")


@pytest.mark.skipif(not host().arch.startswith("x86"), reason="x86 targets")
@pytest.mark.parametrize("spec", TARGETS)
@pytest.mark.parametrize("ow", [7, 20])
def test_a_16_lane_target_without_vl_builds_8_lane_tiles(spec, ow):
    run = subprocess.run([sys.executable, "-c", CHILD, spec, str(ow)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"target {spec!r}, rows of {ow}: exit {run.returncode}\n{run.stderr[-2000:]}"
    assert "conv2d" in run.stdout
