"""The compile cache: a second compile of the same program and options is read back (same
outputs, same optimized program), anything else that changes the result misses, options that
are code are not cached, a damaged entry is rebuilt with a warning, and an entry's parameters
are used where they lie in the file read back (aligned, uncopied)."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import compile_cache
from frittata.backends import fileformat
from frittata import terms as T
from frittata.backends.kernel_cache import CacheWarning, EntryCache
from frittata.extract.cpu_model import CpuModel
from frittata.terms import zoo


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FRITTATA_CACHE_DIR", str(tmp_path))
    return tmp_path


def _check(module, program: ft.Program) -> None:
    inputs = zoo.example_input(program)
    np.testing.assert_allclose(module.run(**inputs)["y"], ft.evaluate(program, inputs)["y"], rtol=1e-4, atol=1e-5)


def test_a_second_compile_is_read_back(cache_dir):
    program = zoo.get("mlp")
    first = ft.compile(program, threads=1)
    again = ft.compile(program, threads=1)
    assert "cached" not in first.report and again.report["cached"]["key"]
    assert again.report["stages"]["cache"]["hit"] and "saturate" in again.report["stages"]
    assert again.program.outputs["y"] is first.program.outputs["y"]
    _check(again, program)


def test_other_weights_or_options_miss(cache_dir):
    ft.compile(zoo.get("mlp"), threads=1)
    assert "cached" not in ft.compile(zoo.get("mlp", seed=1), threads=1).report
    assert "cached" not in ft.compile(zoo.get("mlp"), threads=1, disable=["fuse-dense-bias"]).report


def test_a_host_posing_with_other_vector_lanes_misses():
    """The host's kernels and the model's picks follow its lanes, which a test can pin
    (`tests.eight_lane_host`, `tests.sixteen_lane_host`): a compile at other lanes is another key."""
    import frittata.backends.jit as jit

    program, options = zoo.get("mlp"), {"threads": 1}
    key = compile_cache.compile_key(program, "llvm", options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jit, "vector_lanes", lambda triple, features: 4)
        assert jit.host().lanes == 4 and compile_cache.compile_key(program, "llvm", options) != key
    assert compile_cache.compile_key(program, "llvm", options) == key


def test_options_that_are_code_are_not_cached(cache_dir):
    program = zoo.get("mlp")
    assert compile_cache.compile_key(program, "llvm", {"cost": CpuModel.for_host()}) is None
    ft.compile(program, threads=1, cost=CpuModel.for_host())
    assert "cached" not in ft.compile(program, threads=1, cost=CpuModel.for_host()).report


def test_cache_off_compiles_every_time(cache_dir, monkeypatch):
    monkeypatch.setenv("FRITTATA_CACHE", "0")
    program = zoo.get("mlp")
    ft.compile(program, threads=1)
    assert "cached" not in ft.compile(program, threads=1).report
    assert not (cache_dir / "compiles").exists()


def test_a_damaged_entry_is_rebuilt_with_a_warning(cache_dir):
    program = zoo.get("mlp")
    ft.compile(program, threads=1)
    (entry,) = EntryCache(cache_dir, "compiles").entries()
    data = entry.read_bytes()
    entry.write_bytes(data[:200] + b"\xff" * 64 + data[264:])
    with pytest.warns(CacheWarning, match="corrupted or foreign"):
        rebuilt = ft.compile(program, threads=1)
    assert "cached" not in rebuilt.report
    _check(rebuilt, program)
    assert "cached" in ft.compile(program, threads=1).report


def test_an_edited_rule_file_misses(cache_dir, tmp_path):
    program = ft.Program({"y": T.clip(T.relu(T.var("x", (2, 8))), 0.0, 0.5)})
    path = tmp_path / "mine.rules"
    path.write_text("(family mine)\n(rule mine-a (clip (relu ?x) :lo 0.0 :hi ?hi) => (clip ?x :lo 0.0 :hi ?hi))\n")
    ft.compile(program, rules=[str(path)])
    path.write_text(path.read_text().replace("mine-a", "mine-b"))
    edited = ft.compile(program, rules=[str(path)])
    assert "cached" not in edited.report and edited.report["stages"]["saturate"]["fired"].get("mine-b", 0) >= 1


def test_an_entry_gives_aligned_parameters_where_they_lie(cache_dir):
    first = ft.compile(zoo.get("mlp"), threads=1)
    (entry,) = EntryCache(cache_dir, "compiles").entries()
    _, saved = compile_cache.lookup(entry.stem)
    assert saved.params and all(a.ctypes.data % fileformat.ALIGN == 0 and not a.flags.owndata
                                for a in saved.params.values())
    _check(ft.compile(zoo.get("mlp"), threads=1), first.program)


def test_a_vta_module_is_read_back_with_its_host_parts(cache_dir):
    """The cache stores a module's `to_bytes`; a VTA module's holds its native host parts (here
    the float scaling after the accelerator's int32 dense) as saved llvm modules."""
    rng = np.random.default_rng(2)
    x = T.var("x", (16, 64), "int8")
    w = T.param("w", rng.integers(-128, 128, (32, 64)).astype(np.int8))
    program = ft.Program({"y": T.mul(T.cast(T.dense(x, w), "float32"), 1e-3)})
    first = ft.compile(program, target="vta")
    again = ft.compile(program, target="vta")
    assert first.report["backend"]["split"]["vta"] == ["vta_dense"]
    assert again.report["cached"]["key"] and again.report["backend"] == first.report["backend"]
    inputs = {"x": rng.integers(-128, 128, (16, 64)).astype(np.int8)}
    np.testing.assert_array_equal(again.run(**inputs)["y"], first.run(**inputs)["y"])
    _check(again, program)


def test_a_compile_stopped_by_a_time_limit_is_not_cached(cache_dir, monkeypatch):
    """Its result depends on the machine's load, not only on what went in (a limits= option is
    code, never cached, so the default limits are what a busy machine runs into)."""
    import functools

    from frittata.rewrites import schedule

    program = zoo.get("mlp")
    with monkeypatch.context() as patch:
        patch.setattr(schedule, "Limits", functools.partial(schedule.Limits, seconds=0.0))
        first = ft.compile(program, threads=1)
        assert {p["stop"] for p in first.report["stages"]["saturate"]["phases"]} == {"time-limit"}
        assert first.report["stages"]["store"]["stored"] is False
        assert "cached" not in ft.compile(program, threads=1).report
    ft.compile(program, threads=1)
    assert ft.compile(program, threads=1).report["cached"]
