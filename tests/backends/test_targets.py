"""Targets are values in a registry: the driver compiles for any registered target, `load`
reads a saved file with the loader of the kind it records, and a user's target plugs in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata.backends import fileformat
from frittata.backends.registry import get_target, load, target_names
from frittata.backends.target import Target, TargetRegistry
from frittata.extract import CpuModel
from frittata.rewrites.schedule import Phase
from frittata.terms import builders as tb

TOY_PROGRAMS: dict[str, ft.Program] = {}
"""What the toy target's saved files refer to (a toy has no code of its own to save)."""


class InterpModule:
    """The toy target's module: runs its program with the reference interpreter."""

    def __init__(self, program: ft.Program, threads: int | None, report: dict | None = None) -> None:
        self.program: ft.Program | None = program
        self.threads = threads
        self.inputs, self.outputs = program.inputs, {n: t.type for n, t in program.outputs.items()}
        self.report: dict = report if report is not None else {"backend": {"target": "reference interpreter"}}

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        assert self.program is not None
        return ft.evaluate(self.program, inputs)

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    def to_bytes(self) -> bytes:
        assert self.program is not None
        key = f"program{len(TOY_PROGRAMS)}"
        TOY_PROGRAMS[key] = self.program
        meta = {"kind": "toy-interp", "program": key, "report": self.report}
        return fileformat.encode(fileformat.Saved(meta))


def load_toy(saved: fileformat.Saved, threads: int | None) -> InterpModule:
    return InterpModule(TOY_PROGRAMS[saved.meta["program"]], threads, saved.meta["report"])


TOY = Target(name="toy", saved_kind="toy-interp",
             schedule=lambda: (Phase("toy-simplify", ("algebraic", "cancel")),),
             cost_model=CpuModel.for_host, build=InterpModule, load=load_toy)


def _program() -> ft.Program:
    x = tb.var("x", (4, 8))
    return ft.Program({"y": tb.relu(tb.add(tb.mul(x, 1.0), tb.param("b", np.ones((4, 8), np.float32))))})


def _x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)


@pytest.fixture
def toy():
    ft.register_target(TOY, replace=True)
    return TOY


def test_built_in_targets():
    assert {"llvm", "vta"} <= set(target_names())
    assert get_target("vta").saved_kind == "vta" and get_target("llvm").saved_kind == "llvm"


def test_unknown_target_names_the_known_ones():
    with pytest.raises(ft.FrittataError, match=r"expected one of \['llvm', .*'vta'.*\], got 'tpu'"):
        ft.compile(_program(), target="tpu")


def test_a_user_target_compiles_saves_and_loads(toy, tmp_path):
    module = ft.compile(_program(), target="toy", threads=3)
    assert isinstance(module, InterpModule) and module.threads == 3
    assert module.report["target"] == "toy"
    phases = [p["name"] for p in module.report["stages"]["saturate"]["phases"]]
    assert phases == ["toy-simplify"]
    assert module.report["stages"]["extract"]["model"] == CpuModel.for_host().name
    want = ft.evaluate(_program(), {"x": _x()})["y"]
    np.testing.assert_allclose(module.run(x=_x())["y"], want)
    module.save(tmp_path / "m.ftm")
    again = ft.load(tmp_path / "m.ftm")
    assert isinstance(again, InterpModule) and again.report == module.report
    np.testing.assert_allclose(again.run(x=_x())["y"], want)


def test_a_target_value_needs_no_registration():
    other = Target("other", "other-kind", TOY.schedule, TOY.cost_model, InterpModule, load_toy)
    assert ft.compile(_program(), target=other).report["target"] == "other"
    assert "other" not in target_names()


def test_load_dispatches_on_the_saved_kind(tmp_path):
    llvm = ft.compile(_program(), optimize=False)
    llvm.save(tmp_path / "m.ftm")
    assert type(load(tmp_path / "m.ftm")) is type(llvm)
    unknown = fileformat.Saved({"kind": "tpu"})
    (tmp_path / "tpu.ftm").write_bytes(fileformat.encode(unknown))
    with pytest.raises(ft.ModuleFormatError, match=r"expected a saved module of kind \[.*'llvm'.*\], got 'tpu'"):
        ft.load(tmp_path / "tpu.ftm")


def test_registry_refuses_silent_replacement():
    registry = TargetRegistry((TOY,))
    with pytest.raises(ft.FrittataError, match="already registered"):
        registry.register(TOY)
    registry.register(TOY, replace=True)
    thief = Target("thief", "toy-interp", TOY.schedule, TOY.cost_model, TOY.build, TOY.load)
    with pytest.raises(ft.FrittataError, match="expected a saved kind no other target loads"):
        registry.register(thief)
    assert registry.names() == ["toy"]
    assert registry.for_kind("toy-interp", "here") is TOY


def test_a_deferred_target_is_imported_when_its_name_or_kind_is_first_asked_for():
    imported: list[str] = []

    def toy() -> Target:
        imported.append("toy")
        return TOY

    by_name = TargetRegistry(deferred={"toy": toy})
    assert by_name.names() == ["toy"] and not imported
    assert by_name.get("toy") is TOY and imported == ["toy"]
    by_kind = TargetRegistry(deferred={"toy": toy})
    assert by_kind.for_kind("toy-interp", "here") is TOY and imported == ["toy", "toy"]
    thief = Target("thief", "toy-interp", TOY.schedule, TOY.cost_model, TOY.build, TOY.load)
    with pytest.raises(ft.FrittataError, match="expected a saved kind no other target loads"):
        TargetRegistry(deferred={"toy": toy}).register(thief)


class UnsavedModule:
    """A user module that cannot be written as bytes (no `save`, no `to_bytes`)."""

    def __init__(self, program: ft.Program, threads: int | None) -> None:
        self.program, self.report = program, {}
        self.inputs, self.outputs = program.inputs, {n: t.type for n, t in program.outputs.items()}

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        return ft.evaluate(self.program, inputs)


def test_a_module_without_to_bytes_is_compiled_each_time_not_cached():
    target = Target(name="toy-unsaved", saved_kind="toy-unsaved", schedule=TOY.schedule,
                    cost_model=CpuModel.for_host, build=UnsavedModule, load=load_toy)
    ft.register_target(target, replace=True)
    for _ in range(2):
        module = ft.compile(_program(), target="toy-unsaved")
        assert module.report["stages"]["cache"]["hit"] is False
        assert module.report["stages"]["store"]["stored"] is False
        np.testing.assert_array_equal(module.run(x=_x())["y"], ft.evaluate(_program(), {"x": _x()})["y"])
