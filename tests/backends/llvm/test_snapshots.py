"""Readable text snapshots of the LLVM IR emitted (before optimization) for small kernels.

Regenerate a snapshot by deleting its .ll file and running the test once (it is rewritten and
the test fails, so a changed snapshot is always looked at in review). Beside each snapshot, its
text itself is JIT-compiled, run and compared with the reference interpreter, so a snapshot
records code that is known to compute the right thing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends import fileformat
from frittata.backends.jit import Machine, Unit, saved_units, verify
from frittata.backends.llvm.codegen import emit_module, split_units
from frittata.backends.llvm.plan import make_plan
from frittata.backends.runtime import Module
from tests.strategies import inputs_for

SNAPSHOTS = Path(__file__).parent / "snapshots"
AVX2 = Machine("x86_64-unknown-linux-gnu", "znver3", "+avx,+avx2,+fma")


def _programs() -> dict[str, ft.Program]:
    x = T.var("x", (4, 8))
    w = np.arange(12, dtype=np.int8).reshape(3, 4)
    return {
        "fused_elementwise": ft.Program({"y": T.fused_elementwise(
            x, T.var("b", (8,)), expr=("relu", ("add", ("mul", ("arg", 0), ("const", 2.0, "float32")), ("arg", 1))))}),
        "reduce_sum": ft.Program({"y": T.reduce_sum(x, axes=(1,))}),
        "int8_dense": ft.Program({"y": T.dense(T.var("q", (2, 4), "int8"), T.param("wq", w))}),
    }


@pytest.mark.parametrize("name", ["fused_elementwise", "int8_dense", "reduce_sum"])
def test_ir_snapshot(name):
    program = _programs()[name]
    text = emit_module(make_plan(program, lambda t: 0), AVX2, name=name).text()
    for unit, ir_text in split_units(text).items():
        verify(ir_text, f"{name} {unit}")
    path = SNAPSHOTS / f"{name}.ll"
    if not path.exists():
        path.write_text(text)
        pytest.fail(f"snapshot {path.name} written; review it and run again")
    assert text == path.read_text()


@pytest.mark.parametrize("name", ["fused_elementwise", "int8_dense", "reduce_sum"])
def test_snapshot_text_runs_equal_to_the_interpreter(name):
    program = _programs()[name]
    plan = make_plan(program, lambda t: 0)
    emitted = emit_module(plan, AVX2, name=name)
    units = [Unit(unit, ir_text) for unit, ir_text in split_units((SNAPSHOTS / f"{name}.ll").read_text()).items()]
    meta = {"inputs": {n: [list(t.shape), t.dtype] for n, t in program.inputs.items()},
            "outputs": {n: [list(t.shape), t.dtype] for n, t in program.outputs.items()},
            "arena_bytes": plan.arena_bytes, "cpu": AVX2.cpu, "features": AVX2.features, "threads": 1,
            "units": [u.name for u in units]}
    params = {n: plan.params[n] for n in emitted.params}
    module = Module(fileformat.Saved(meta, saved_units(units), params), threads=1)
    inputs = inputs_for(program, seed=3)
    want = ft.evaluate(program, inputs)
    for out, value in module.run(**inputs).items():
        np.testing.assert_allclose(value, want[out], rtol=1e-6, atol=1e-6, err_msg=out)
