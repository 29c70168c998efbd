"""The kernel cache: hits give the same outputs, bad entries are rebuilt with a warning, it can
be turned off, listed and cleared, and concurrent compiles share it safely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends.kernel_cache import CacheWarning, EntryCache, cache_root
from frittata.backends.llvm import build
from frittata.terms import zoo
from tests.backends.llvm.helpers import rand
from tests.strategies import inputs_for


def _program() -> ft.Program:
    x = T.var("x", (4, 32))
    hidden = T.relu(T.dense(x, T.param("w1", rand((32, 32), seed=1))))
    return ft.Program({"y": T.relu(T.dense(hidden, T.param("w2", rand((32, 32), seed=2))))})


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FRITTATA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _run(module, program: ft.Program) -> None:
    inputs = inputs_for(program, seed=5)
    want = ft.evaluate(program, inputs)
    np.testing.assert_allclose(module.run(**inputs)["y"], want["y"], rtol=1e-5, atol=1e-5)


def test_identical_steps_share_one_kernel_and_a_second_build_hits_the_cache(cache_dir):
    program = _program()
    cold = build(program, threads=2)
    assert cold.report["backend"]["kernels"] == ["k0_dense", "k1_relu", "k2_dense", "k3_relu"]
    assert cold.report["backend"]["distinct_kernels"] == 2
    assert cold.report["backend"]["cache_hits"] == 0
    warm = build(program, threads=2)
    assert warm.report["backend"]["cache_hits"] == 3  # both kernels and the entry unit
    for module in (cold, warm):
        _run(module, program)
    assert EntryCache(cache_dir).info()["entries"] == 3


def test_the_cache_lives_where_the_environment_says(monkeypatch, tmp_path):
    monkeypatch.delenv("FRITTATA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "frittata"
    monkeypatch.setenv("FRITTATA_CACHE", "0")
    assert cache_root() is None


def test_cache_off_writes_nothing(cache_dir, monkeypatch):
    monkeypatch.setenv("FRITTATA_CACHE", "0")
    _run(build(_program(), threads=1), _program())
    assert not cache_dir.exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign"])
def test_a_bad_entry_is_rebuilt_with_a_warning_never_loaded(cache_dir, damage):
    program = _program()
    build(program, threads=1)
    entries = EntryCache(cache_dir).entries()
    victim, other = entries[0], entries[1]
    data = victim.read_bytes()
    match damage:
        case "flip":
            victim.write_bytes(data[:-100] + bytes(b ^ 0xFF for b in data[-100:]))
        case "truncate":
            victim.write_bytes(data[:len(data) // 2])
        case _:
            victim.write_bytes(other.read_bytes())
    with pytest.warns(CacheWarning, match="corrupted or foreign|holds no kernel unit"):
        module = build(program, threads=1)
    assert module.report["backend"]["cache_hits"] == 2
    _run(module, program)
    assert victim.read_bytes() == data  # rebuilt in place


SCRIPT = """
import sys
import numpy as np
import frittata as ft
from frittata.terms import zoo
program = zoo.get("mlp")
module = ft.compile(program, optimize=False, threads=1)
inputs = zoo.example_input(program)
print(float(np.abs(module.run(**inputs)["y"] - ft.evaluate(program, inputs)["y"]).max()))
"""


def test_two_processes_compiling_at_once_both_succeed(cache_dir):
    env = dict(os.environ, FRITTATA_CACHE_DIR=str(cache_dir))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert float(out.strip().splitlines()[-1]) < 1e-4
    assert not list(cache_dir.glob("kernels/*/.tmp-*"))
    again = build(zoo.get("mlp"), threads=1).report["backend"]
    assert again["cache_hits"] == again["distinct_kernels"] + 1 == EntryCache(cache_dir).info()["entries"]


def test_cache_info_and_clear_on_the_command_line(cache_dir):
    build(_program(), threads=1)

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "frittata", "cache", *args], capture_output=True,
                              text=True, timeout=300, env=dict(os.environ, FRITTATA_CACHE_DIR=str(cache_dir)))
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"cache {cache_dir / 'kernels'}: 3 entries" in cli("info")
    assert f"cache {cache_dir / 'kernels'}: removed 3 entries" in cli("clear")
    assert f"cache {cache_dir / 'kernels'}: 0 entries" in cli("info")
