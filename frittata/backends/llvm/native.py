"""Compile an emitted program's units to object code: each distinct kernel once, from the
kernel cache when it is there, at the optimization level its code deserves, on every core.

Kernels of generic loops get the full pipeline (O3 with loop and SLP vectorization): LLVM's
vectorizer makes their speed. Fast-path kernels (`fastpath`, `batched`) are written with explicit
vectors and register blocking already, and get O1: on ResNet-18 (AMD EPYC znver3, one thread)
O1 took 5.3 s of CPU for all kernels against 7.7 s at O3, for the same run time (120 ms).
The entry unit is glue (table fills, calls and a spin barrier) and gets O1 too. LLVM calls from
Python threads serialize (llvmlite holds one lock around them), so when there is enough work
(`PARALLEL_UNITS` units to compile, `PARALLEL_BYTES` of IR) the units are compiled in worker
processes, the largest first. The workers are forked: a spawned or fork-server worker would run
the user's main script again (a script calling `compile` at top level would recurse), and a
forked one only calls into LLVM with the text it is handed.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from frittata.backends.jit import Machine, Unit, UnitTimes, compile_unit
from frittata.backends.kernel_cache import EntryCache, kernel_key
from frittata.backends.llvm.codegen import Emitted

KERNEL_SPEED = 3
VECTORIZED_SPEED = 1
ENTRY_SPEED = 1
PARALLEL_UNITS = 4
PARALLEL_BYTES = 1 << 20
"""Below these, starting a worker pool costs more than it saves."""


@dataclass(frozen=True)
class Built:
    """One unit's result and where it came from (`times` is None for a cache hit)."""

    unit: Unit
    times: UnitTimes | None


def build_units(emitted: Emitted, target: Machine, cache: EntryCache | None,
                vectorized: frozenset[str] = frozenset()) -> dict[str, Built]:
    """Every kernel unit, then the entry unit (named "entry"), compiled or read from `cache`;
    `vectorized` names the kernels written with explicit vectors."""
    work = {symbol: (text, VECTORIZED_SPEED if symbol in vectorized else KERNEL_SPEED)
            for symbol, text in emitted.kernels.items()}
    work["entry"] = (emitted.entry, ENTRY_SPEED)
    keys = {name: kernel_key(text, target, speed) for name, (text, speed) in work.items()}
    hits = {name: cache.get(key) for name, key in keys.items()} if cache is not None else {}
    missing = {name: job for name, job in work.items() if hits.get(name) is None}
    fresh = _compile_all(missing, target)
    built = {}
    for name in work:
        hit = hits.get(name)
        if hit is not None:
            built[name] = Built(hit, None)
            continue
        unit, times = fresh[name]
        if cache is not None:
            cache.put(keys[name], unit)
        built[name] = Built(unit, times)
    return built


def _compile_all(jobs: dict[str, tuple[str, int]], target: Machine) -> dict[str, tuple[Unit, UnitTimes]]:
    workers = min(len(jobs), os.cpu_count() or 1)
    size = sum(len(text) for text, _ in jobs.values())
    if workers < 2 or len(jobs) < PARALLEL_UNITS or size < PARALLEL_BYTES:
        return {name: compile_unit(name, text, target, speed) for name, (text, speed) in jobs.items()}
    context = multiprocessing.get_context("fork")
    largest_first = sorted(jobs, key=lambda name: -len(jobs[name][0]))
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {name: pool.submit(compile_unit, name, jobs[name][0], target, jobs[name][1])
                   for name in largest_first}
        return {name: futures[name].result() for name in jobs}
