"""`build(program) -> Module`: plan, emit, verify, optimize and JIT a program for the host CPU."""

from __future__ import annotations

import os
import time

from frittata.backends import fileformat
from frittata.backends.jit import host, optimize, verify
from frittata.backends.llvm import fastpath
from frittata.backends.llvm.codegen import emit_module
from frittata.backends.llvm.plan import make_plan
from frittata.backends.runtime import Module
from frittata.errors import LoweringError
from frittata.terms.dtypes import CORE_DTYPES
from frittata.terms.program import Program


def build(program: Program, threads: int | None = None) -> Module:
    """Compile `program` to native code; `threads` defaults to the number of CPUs."""
    check_dtypes(program)
    threads = max(1, int(threads or os.cpu_count() or 1))
    target = host()
    start = time.perf_counter()
    plan = make_plan(program, lambda t: fastpath.scratch_bytes(t, target.lanes))
    module = emit_module(plan, target)
    emitted = time.perf_counter()
    llmod = verify(str(module), "llvm backend")
    optimize(llmod, target)
    optimized = time.perf_counter()
    meta = {
        "inputs": {n: [list(t.shape), t.dtype] for n, t in program.inputs.items()},
        "outputs": {n: [list(t.shape), t.dtype] for n, t in program.outputs.items()},
        "arena_bytes": plan.arena_bytes, "features": target.features, "threads": threads,
    }
    saved = fileformat.Saved(meta, str(llmod), plan.params)
    mod = Module(saved, threads)
    mod.report["backend"] = {
        "target": f"{target.triple} {target.cpu} ({target.lanes} fp32 lanes)",
        "kernels": [f.name for f in module.functions if f.name.startswith("k") and f.blocks],
        "fast_paths": [s.term.op.value for s in plan.steps if fastpath.schedule(s.term, target.lanes) is not None],
        "peak_bytes": plan.arena_bytes, "threads": threads,
        "codegen_s": round(emitted - start, 4), "optimize_s": round(optimized - emitted, 4),
        "jit_s": round(time.perf_counter() - optimized, 4),
    }
    return mod


def check_dtypes(program: Program) -> None:
    """Raise LoweringError at the first term of a dtype the backend does not compute in."""
    for t in program.terms():
        if t.dtype not in CORE_DTYPES:
            raise LoweringError(f"llvm: expected dtypes in {CORE_DTYPES}, got {t.dtype} at {t.op.value} {t.type}"
                                " (ft.evaluate runs it; cast to a supported dtype to compile)")
