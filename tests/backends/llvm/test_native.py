"""Units compile while the rest are emitted: in worker processes once enough work waits, here
otherwise, with the same object code either way; the pool stops when emission fails."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends.jit import host
from frittata.backends.llvm import build, native
from frittata.backends.llvm.native import UnitBuilds
from tests.backends.llvm.helpers import rand
from tests.strategies import inputs_for


def _program() -> ft.Program:
    x = T.var("x", (4, 32))
    hidden = T.relu(T.dense(x, T.param("w1", rand((32, 32), seed=1))))
    return ft.Program({"y": T.sigmoid(T.dense(hidden, T.param("w2", rand((32, 32), seed=2))))})


def _units(module) -> dict[str, bytes]:
    return {name: data for name, data in module._saved.sections.items()}


def test_units_compiled_by_workers_during_emission_are_the_units_compiled_here(monkeypatch):
    program = _program()
    monkeypatch.setenv("FRITTATA_CACHE", "0")
    monkeypatch.setattr(native.os, "cpu_count", lambda: 2)
    here = build(program, threads=2)
    monkeypatch.setattr(native, "PARALLEL_UNITS", 2)
    monkeypatch.setattr(native, "PARALLEL_BYTES", 1)
    started = []
    real_submit = UnitBuilds._submit
    monkeypatch.setattr(UnitBuilds, "_submit", lambda self: started.append(len(self._keys)) or real_submit(self))
    workers = build(program, threads=2)
    assert started[0] == 2, "the pool starts when the second unit waits, before emission ends"
    assert workers.report["backend"]["distinct_kernels"] == here.report["backend"]["distinct_kernels"] >= 2
    assert _units(workers) == _units(here)
    inputs = inputs_for(program, seed=5)
    np.testing.assert_allclose(workers.run(**inputs)["y"], ft.evaluate(program, inputs)["y"], rtol=1e-5, atol=1e-5)


def test_the_pool_stops_when_emission_fails(monkeypatch):
    monkeypatch.setattr(native.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(native, "PARALLEL_UNITS", 1)
    monkeypatch.setattr(native, "PARALLEL_BYTES", 1)
    unit = 'define void @"f"() {\nentry:\n  ret void\n}\n'
    with pytest.raises(ft.LoweringError, match="emitting"):
        with UnitBuilds(host(), None, units=2) as builds:
            builds.add("f", unit, native.KERNEL_SPEED)
            pool = builds._pool
            raise ft.LoweringError("emitting failed")
    assert pool is not None
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(print)


def test_the_pool_has_no_more_workers_than_units(monkeypatch):
    """Forked workers all start with the pool: a 64-core host compiling 3 units forks 3."""
    monkeypatch.setattr(native.os, "cpu_count", lambda: 64)
    assert UnitBuilds(host(), None, units=3)._workers == 3
    monkeypatch.setattr(native.os, "cpu_count", lambda: 2)
    assert UnitBuilds(host(), None, units=30)._workers == 2


def test_a_unit_failing_in_a_worker_is_a_lowering_error_naming_it(monkeypatch):
    monkeypatch.setattr(native.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(native, "PARALLEL_UNITS", 1)
    monkeypatch.setattr(native, "PARALLEL_BYTES", 1)
    with UnitBuilds(host(), None, units=2) as builds:
        builds.add("broken", "define void @broken( {", native.KERNEL_SPEED)
        assert builds._pool is not None
        with pytest.raises(ft.LoweringError, match="broken"):
            builds.finish()
