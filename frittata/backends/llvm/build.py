"""`build(program) -> Module`: plan, emit, compile (each distinct kernel once, cached) and link
a program for the host CPU. The kernels compile while the next ones are emitted, so the
report's `emit_wall_s` is planning and emission and `compile_wall_s` the wait for the units
after it. The report's keys say which clock they read: `*_wall_s` are wall seconds of this
process, `*_cpu_s` CPU seconds of LLVM's work on the units compiled anew (in whichever process
compiled them).

The planner, the emitters and the unit compiler are imported when `build` first runs, not with
this module: `frittata.load` imports the llvm package (its target's loader) and needs none of
them (they were a third of a fresh process's load of ResNet-18)."""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING

from frittata.backends import fileformat
from frittata.backends.cross import CrossModule
from frittata.backends.jit import Machine, host, runs_here, saved_units
from frittata.backends.kernel_cache import default_cache
from frittata.backends.runtime import Module
from frittata.errors import LoweringError
from frittata.terms import expansion
from frittata.terms.dtypes import CORE_DTYPES
from frittata.terms.program import Program
from frittata.terms.term import Term
from frittata.terms.walk import postorder

if TYPE_CHECKING:
    from frittata.backends.llvm.codegen import Emitted
    from frittata.backends.llvm.native import Built
    from frittata.backends.llvm.plan import Plan

SLOWEST = 5
HELPER = re.compile(r'^define [^@]*@"(fk_\w+\.\w+)"', re.MULTILINE)
"""A function a kernel unit defines beside its kernel (a micro-kernel, say): fk_<hash>.<part>."""


def build(program: Program, threads: int | None = None, target: Machine | None = None,
          serial_below: float = 0.0, solo_below: float = 0.0, trace: bool = False) -> Module | CrossModule:
    """Compile `program` to native code; `threads` defaults to the number of CPUs, `target` to
    the host. Another x86 target (e.g. AVX2 on an AVX-512 machine) picks that ISA's kernels and
    the module runs where the CPU has the target's features; a target whose features this host
    lacks (AVX-512 on an AVX2 machine), or another architecture (AArch64, say), gives a
    `CrossModule`, which exports and saves but does not run here. A program whose
    kernels the cost model prices below `serial_below` seconds runs on one thread, and a step it
    prices below `solo_below` seconds on the first thread alone (`compile` passes
    `runtime.SERIAL_BELOW_SECONDS` and `runtime.SOLO_STEP_SECONDS`). With `trace` the module can
    also `run_traced` (every thread's clock readings around each barrier; a plain run is the
    same code)."""
    from frittata.backends.llvm import fastpath, indexing
    from frittata.backends.llvm.codegen import emit_module, step_name, team_phases
    from frittata.backends.llvm.native import ENTRY_SPEED, UnitBuilds, speed
    from frittata.backends.llvm.plan import in_place_outputs, make_plan

    check_dtypes(program)
    threads = max(1, int(threads or os.cpu_count() or 1))
    target = target or host()
    start = time.perf_counter()
    plan = make_plan(program, lambda t: fastpath.scratch_bytes(t, target.lanes))

    fast = [s.copy_of is None and fastpath.schedule(s.term, target.lanes) is not None for s in plan.steps]
    fast_step = {id(s): f for s, f in zip(plan.steps, fast)}
    steps = step_facts(program, plan, [step_name(i, s) for i, s in enumerate(plan.steps)], target)
    modelled = sum(step["model_s"] for step in steps)
    team = 1 if steps and modelled < serial_below else threads
    for step in steps:
        step["solo"] = team > 1 and step["model_s"] < solo_below
    solo = [step["solo"] for step in steps]
    with UnitBuilds(target, default_cache(), units=len(plan.steps) + 1) as builds:
        emitted = emit_module(plan, target, solo=solo, trace=trace,
                              on_kernel=lambda symbol, text, s: builds.add(symbol, text, speed(fast_step[id(s)])))
        builds.add("entry", emitted.entry, ENTRY_SPEED)
        for step, call in zip(steps, emitted.calls):
            step["claims"] = call.claim_total is not None
        emit_done = time.perf_counter()
        built = builds.finish()
    compiled = time.perf_counter()
    meta = {
        "team_threads": team,
        "inputs": {n: [list(t.shape), t.dtype] for n, t in program.inputs.items()},
        "outputs": {n: [list(t.shape), t.dtype] for n, t in program.outputs.items()},
        "arena_bytes": plan.arena_bytes, "triple": target.triple, "cpu": target.cpu, "features": target.features,
        "threads": threads,
        "units": list(built), "steps": steps,
        "checks": [[s.status.offset, *indexing.check_message(s.term)] for s in plan.steps if s.status is not None],
        "in_place": list(in_place_outputs(plan, program)),
    }
    if trace:
        meta["trace_phases"] = team_phases(emitted.calls)
    params = {name: plan.params[name] for name in emitted.params}
    derived = {name: plan.derived[name] for name in params if name in plan.derived}
    saved = fileformat.Saved(meta, saved_units([b.unit for b in built.values()]), params, derived)
    mod = Module(saved) if runs_here(target) else CrossModule(saved)
    mod.report["backend"] = {
        "target": f"{target.triple} {target.cpu} ({target.lanes} fp32 lanes)",
        "fast_paths": [s.term.op.value for s, is_fast in zip(plan.steps, fast) if is_fast],
        "peak_bytes": plan.arena_bytes, "threads": threads, "team_threads": meta["team_threads"],
        **_kernel_report(emitted, built),
        "emit_wall_s": round(emit_done - start, 4), "compile_wall_s": round(compiled - emit_done, 4),
        "link_wall_s": round(time.perf_counter() - compiled, 4),
    }
    return mod


def step_facts(program: Program, plan: Plan, names: list[str], target: Machine) -> list[dict]:
    """What a profile needs of each step (saved with the module): its name and op, its FLOPs
    and bytes (`cpu_work.work`), the cost model's seconds for it at the rates of the target's CPU
    (`CpuModel.for_host` for the host, `for_machine` of another target's triple,
    features and CPU name: Zen 4 runs the 16-lane kernels at 8 lanes' rate), and
    the index of its term in `program.terms()` (an output copy is not a term of the program: its
    bytes, priced as a plain copy, and no term); `build` adds whether the step runs solo and whether the
    barrier after it waits for its claimed work rather than every thread (`claims`). The
    extractor's modules are imported here, not with this module: the llvm package is imported
    when a saved module is loaded, which must not need the compiler stages."""
    from frittata.extract.cost import term_infos
    from frittata.extract.cpu_model import CpuModel
    from frittata.extract.cpu_work import Kind, Work, work

    if target == host():
        model = CpuModel.for_host()
    else:
        model = CpuModel.for_machine(target.triple, target.features, target.cpu)
    infos = {id(term): info for term, info in term_infos(program)}
    index = {id(term): i for i, term in enumerate(program.terms())}
    facts = []
    for name, step in zip(names, plan.steps):
        if step.copy_of is not None:
            moved = 2.0 * step.term.type.nbytes
            copy_s = model.launch_seconds + model.memory_seconds(Work(0.0, moved, Kind.COPY))
            facts.append({"name": name, "op": "copy", "flops": 0.0, "bytes": moved, "model_s": copy_s, "term": None})
            continue
        info = infos[id(step.term)]
        done = work(info, model.transcendental_flops, model.vector_lanes)
        facts.append({"name": name, "op": step.term.op.value, "flops": done.flops, "bytes": done.bytes,
                      "model_s": model.node_cost(info), "term": index[id(step.term)]})
    return facts


EVERY_DTYPE = ("leaf", "elementwise", "reduction", "movement", "indexed", "contraction")
"""The op classes whose kernels compute in every dtype (through the scalar primitives, by
copying, or the plain contraction loops: the fast paths take float32 only); the other kernels
(pooling, normalization, fused and tiled kernels) compute in the core dtypes only."""


def _inside(t: Term) -> list[Term]:
    """The plain terms a kernel op stands for (its expansion over placeholders of its operands'
    types, so not the operands' own terms), or the term itself."""
    if t.op.expand is None:
        return [t]
    return postorder([t.op.expand(t.op, tuple(expansion.placeholders([a.type for a in t.args])), dict(t.attrs))])


def check_dtypes(program: Program) -> None:
    """Raise LoweringError at the first term whose kernel does not compute in its dtypes; a
    kernel op is judged by its expansion (a fused expression's casts, say)."""
    for t in program.terms():
        for u in _inside(t):
            extra = sorted({v.dtype for v in (u, *u.args)} - set(CORE_DTYPES))
            if extra and not any(u.op.is_a(c) for c in EVERY_DTYPE):
                where = "" if u is t else f" inside {t.op.value} {t.type}"
                raise LoweringError(f"llvm: expected {u.op.value} over dtypes in {CORE_DTYPES} (only elementwise,"
                                    f" reduction, movement and contraction kernels take {extra[0]} too), got"
                                    f" {u.op.value} {u.type}{where} (ft.evaluate runs it; cast to float32 to compile)")


def _kernel_report(emitted: Emitted, built: dict[str, Built]) -> dict:
    """Steps, distinct kernels, cache hits, LLVM's CPU seconds per phase over the units compiled
    anew, and the slowest kernels (emission wall time, LLVM CPU time)."""
    steps: dict[str, list[str]] = {}
    emit_s: dict[str, float] = {}
    for call in emitted.calls:
        steps.setdefault(call.symbol, []).append(call.step)
        emit_s[call.symbol] = emit_s.get(call.symbol, 0.0) + call.emit_seconds
    fresh = {name: b.times for name, b in built.items() if b.times is not None}
    slowest = sorted((s for s in fresh if s in steps), key=lambda s: -(fresh[s].optimize + fresh[s].codegen))
    rows = [{"kernel": steps[s][0], "steps": len(steps[s]), "emit_wall_s": round(emit_s[s], 4),
             "optimize_cpu_s": round(fresh[s].optimize, 4), "codegen_cpu_s": round(fresh[s].codegen, 4)}
            for s in slowest]
    return {
        "kernels": [call.step for call in emitted.calls],
        "helpers": [name for text in emitted.kernels.values() for name in HELPER.findall(text)],
        "distinct_kernels": len(emitted.kernels), "cache_hits": len(built) - len(fresh),
        "parse_cpu_s": round(sum(t.parse for t in fresh.values()), 4),
        "optimize_cpu_s": round(sum(t.optimize for t in fresh.values()), 4),
        "codegen_cpu_s": round(sum(t.codegen for t in fresh.values()), 4),
        "slowest": rows[:SLOWEST],
    }
