"""The runtime Module: input checks, save / load (in a fresh process), corrupted files, timing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from frittata.backends.registry import load
from tests.backends.llvm.helpers import rand


@pytest.fixture(scope="module")
def mod():
    x = T.var("x", (2, 3, 8, 8))
    w, b = T.param("w", rand((4, 3, 3, 3), seed=1)), T.param("b", rand((4,), seed=2))
    y = T.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=(("relu",),))
    return build(ft.Program({"y": y, "s": T.softmax(T.reshape(T.tanh(y), (2, 256)))}))


def inputs():
    return {"x": rand((2, 3, 8, 8), seed=3)}


@pytest.mark.parametrize("bad, message", [
    ({}, "missing ['x']"),
    ({"x": rand((2, 3, 8, 7))}, "expected float32[2, 3, 8, 8], got float32[2, 3, 8, 7]"),
    ({"x": rand((2, 3, 8, 8)).astype(np.float64)}, "got float64[2, 3, 8, 8]"),
    ({"x": [1.0]}, "expected a numpy array"),
    ({"x": rand((2, 3, 8, 8)), "z": rand((1,))}, "unexpected ['z']"),
])
def test_bad_inputs_raise_before_native_code(mod, bad, message):
    with pytest.raises(ft.RuntimeInputError, match="input|inputs") as error:
        mod.run(**bad)
    assert message in str(error.value)


def test_non_contiguous_input_is_accepted(mod):
    x = inputs()["x"]
    strided = np.asfortranarray(x)
    np.testing.assert_array_equal(mod(x=strided)["y"], mod(x=x)["y"])


def test_report_and_benchmark(mod):
    report = mod.report["backend"]
    assert report["kernels"] and report["peak_bytes"] == mod.peak_bytes > 0
    timing = mod.benchmark(inputs(), repeat=3)
    assert timing["min_ms"] <= timing["median_ms"] <= timing["max_ms"]


def test_save_load_in_fresh_process(mod, tmp_path):
    path, data = tmp_path / "m.ftm", tmp_path / "x.npy"
    mod.save(path)
    np.save(data, inputs()["x"])
    expected = mod.run(**inputs())
    script = textwrap.dedent(f"""
        import sys, numpy as np
        from frittata.backends.registry import load
        mod = load({str(path)!r})
        out = mod.run(x=np.load({str(data)!r}))
        for banned in ("egglog", "frittata.rewrites", "frittata.extract"):
            assert banned not in sys.modules, banned
        np.savez({str(tmp_path / 'out.npz')!r}, **out)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=str(tmp_path.parent), env=_env())
    got = np.load(tmp_path / "out.npz")
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


def _env():
    import os

    root = str(__import__("pathlib").Path(ft.__file__).parent.parent)
    return dict(os.environ, PYTHONPATH=root)


def test_round_trip_in_process(mod, tmp_path):
    mod.save(tmp_path / "m.ftm")
    again = load(tmp_path / "m.ftm", threads=1)
    assert again.report == mod.report
    for name, value in mod.run(**inputs()).items():
        np.testing.assert_array_equal(again.run(**inputs())[name], value)


@pytest.mark.parametrize("damage", ["truncate", "flip", "magic", "version", "empty"])
def test_damaged_files_are_refused(mod, tmp_path, damage):
    path = tmp_path / "m.ftm"
    mod.save(path)
    data = bytearray(path.read_bytes())
    match damage:
        case "truncate":
            data = data[: len(data) - 10]
        case "flip":
            data[len(data) // 2] ^= 0xFF
        case "magic":
            data[0:8] = b"NOTAFILE"
        case "version":
            data[8] = 99
        case "empty":
            data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(ft.ModuleFormatError):
        load(path)


def test_vta_op_is_a_lowering_error():
    term = T.vta_pack(T.var("x", (1, 16), "int8"), "act", (1, 16, 16))
    with pytest.raises(ft.LoweringError, match="got vta_pack, a VTA accelerator op"):
        build(T.Program({"y": term}))
