"""Compile an emitted program's units to object code: each distinct kernel once, from the
kernel cache when it is there, at the optimization level its code deserves, on every core.

Kernels of generic loops get the full pipeline (O3 with loop and SLP vectorization): LLVM's
vectorizer makes their speed. Fast-path kernels (`fastpath`, `batched`) are written with explicit
vectors and register blocking already, and get O1: on ResNet-18 (AMD EPYC znver3, one thread)
O1 took 5.3 s of CPU for all kernels against 7.7 s at O3, for the same run time (120 ms).
The entry unit is glue (table fills, calls and a spin barrier) and gets O1 too. LLVM calls from
Python threads serialize (llvmlite holds one lock around them), so when there is enough work
(`PARALLEL_UNITS` units to compile, `PARALLEL_BYTES` of IR) the units are compiled in worker
processes as they are emitted (`UnitBuilds`). The workers are forked: a spawned or fork-server
worker would run the user's main script again (a script calling `compile` at top level would
recurse), and a forked one only calls into LLVM with the text it is handed.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from frittata.backends.jit import Machine, Unit, UnitTimes, compile_unit
from frittata.backends.kernel_cache import EntryCache, kernel_key
from frittata.errors import LoweringError

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


def speed(vectorized: bool) -> int:
    """The optimization level of a kernel unit (written with explicit vectors, or not)."""
    return VECTORIZED_SPEED if vectorized else KERNEL_SPEED


class UnitBuilds:
    """Units compiled while the rest are still being emitted: `add` each unit as it is made
    (read from `cache` when it is there), `finish` for all of them. Once `PARALLEL_UNITS` units
    and `PARALLEL_BYTES` of IR wait, a pool of worker processes starts and takes every unit from
    then on, so LLVM runs on the other cores while this process emits the next kernels; a
    program below both limits compiles here, after emission. Use it as a context manager: the
    pool stops with it, also when emission fails. `units` bounds how many units will be added:
    the pool has no more workers than that or the host's cores (forked workers all start with the
    pool)."""

    def __init__(self, target: Machine, cache: EntryCache | None, units: int) -> None:
        self._target, self._cache = target, cache
        self._keys: dict[str, str] = {}
        self._hits: dict[str, Unit] = {}
        self._waiting: dict[str, tuple[str, int]] = {}
        self._futures: dict[str, Future[tuple[Unit, UnitTimes]]] = {}
        self._workers = min(units, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> UnitBuilds:
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def add(self, name: str, text: str, level: int) -> None:
        """Compile unit `name` at optimization `level`, unless the cache holds it."""
        self._keys[name] = kernel_key(text, self._target, level)
        hit = self._cache.get(self._keys[name]) if self._cache is not None else None
        if hit is not None:
            self._hits[name] = hit
            return
        self._waiting[name] = (text, level)
        waiting_bytes = sum(len(text) for text, _ in self._waiting.values())
        if (self._pool is None and self._workers > 1 and len(self._waiting) >= PARALLEL_UNITS
                and waiting_bytes >= PARALLEL_BYTES):
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("fork"))
        if self._pool is not None:
            self._submit()

    def finish(self) -> dict[str, Built]:
        """Every unit added, in the order added."""
        if self._pool is not None:
            self._submit()
        fresh = {name: compile_unit(name, text, self._target, level) for name, (text, level) in self._waiting.items()}
        fresh |= {name: _result(name, future) for name, future in self._futures.items()}
        built = {}
        for name, key in self._keys.items():
            if name in self._hits:
                built[name] = Built(self._hits[name], None)
                continue
            unit, times = fresh[name]
            if self._cache is not None:
                self._cache.put(key, unit)
            built[name] = Built(unit, times)
        return built

    def _submit(self) -> None:
        assert self._pool is not None
        for name in sorted(self._waiting, key=lambda name: -len(self._waiting[name][0])):
            text, level = self._waiting.pop(name)
            self._futures[name] = self._pool.submit(compile_unit, name, text, self._target, level)


def _result(name: str, future: Future[tuple[Unit, UnitTimes]]) -> tuple[Unit, UnitTimes]:
    """A worker's unit; a worker that failed or died is a LoweringError naming the unit."""
    try:
        return future.result()
    except LoweringError:
        raise
    except Exception as error:
        raise LoweringError(f"compiling unit {name} in a worker process: expected object code, "
                            f"got {type(error).__name__}: {error}") from error
