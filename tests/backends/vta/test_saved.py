"""VTA modules save to one checksummed file and load (in a fresh process, without egglog, the
rewrites or the extractor) into a module computing the same outputs as the reference
interpreter (the oracle independent of the saved file)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata.errors import RuntimeInputError
from frittata.terms import builders as tb


@pytest.fixture(scope="module")
def compiled():
    """An int8 conv on VTA feeding an int32 dense on VTA, then softmax on the host."""
    rng = np.random.default_rng(3)
    x = tb.var("x", (1, 64, 14, 14), "int8")
    w = tb.param("w", rng.integers(-128, 128, (64, 64, 3, 3)).astype(np.int8))
    b = tb.param("b", rng.integers(-1000, 1000, (1, 64, 1, 1)).astype(np.int32))
    y = tb.cast(tb.clip(tb.right_shift(tb.add(tb.conv2d(x, w, pads=1), b), 9), -127, 127), "int8")
    z = tb.dense(tb.reshape(y, (14, 64 * 14)), tb.param("wd", rng.integers(-128, 128, (256, 896)).astype(np.int8)))
    program = ft.Program({"z": tb.softmax(tb.mul(tb.cast(z, "float32"), 1e-4)), "acc": z})
    mod = ft.compile(program, target="vta")
    assert mod.report["backend"]["split"]["vta"] == ["vta_conv2d", "vta_dense"]
    return mod, program


@pytest.fixture(scope="module")
def module(compiled):
    return compiled[0]


def _assert_matches_interpreter(compiled, got: dict) -> None:
    """The int32 accumulators bit-exact, the float softmax to rounding."""
    want = ft.evaluate(compiled[1], {"x": _x()})
    np.testing.assert_array_equal(got["acc"], want["acc"])
    np.testing.assert_allclose(got["z"], want["z"], rtol=1e-5, atol=1e-7)


def _x() -> np.ndarray:
    return np.random.default_rng(9).integers(-128, 128, (1, 64, 14, 14)).astype(np.int8)


def test_round_trip_in_process(compiled, module, tmp_path):
    module.save(tmp_path / "m.ftm")
    again = ft.load(tmp_path / "m.ftm")
    assert again.report == module.report and again.outputs == module.outputs
    want, got = module.run(x=_x()), again.run(x=_x())
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    _assert_matches_interpreter(compiled, got)
    assert module.check_calls(x=_x()) == [True, True]
    with pytest.raises(RuntimeInputError, match="check_calls: expected a module from compile"):
        again.check_calls(x=_x())


def test_load_in_fresh_process_without_the_compiler(compiled, module, tmp_path):
    path, data = tmp_path / "m.ftm", tmp_path / "x.npy"
    module.save(path)
    np.save(data, _x())
    script = textwrap.dedent(f"""
        import sys, numpy as np
        import frittata as ft
        mod = ft.load({str(path)!r})
        out = mod.run(x=np.load({str(data)!r}))
        for banned in ("egglog", "frittata.rewrites", "frittata.extract"):
            assert banned not in sys.modules, banned
        np.savez({str(tmp_path / 'out.npz')!r}, **out)
    """)
    root = str(Path(ft.__file__).parent.parent)
    subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ, PYTHONPATH=root))
    got = dict(np.load(tmp_path / "out.npz"))
    for name, value in module.run(x=_x()).items():
        np.testing.assert_array_equal(got[name], value)
    _assert_matches_interpreter(compiled, got)


def test_an_altered_file_is_rejected(module, tmp_path):
    path = tmp_path / "m.ftm"
    module.save(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ft.ModuleFormatError, match="checksum"):
        ft.load(path)
