"""The runtime `Module`: a compiled program with named inputs and outputs, run natively.

A module owns a JIT engine, its parameters, one arena for intermediates (its size is the
planned peak), and a small team of threads that enter the native code together (ctypes
releases the GIL). Inputs are checked by name, shape and dtype before any native code runs.
Its code is a list of units (`jit.Unit`), saved as sections "NAME.ll" (optimized IR) and
"NAME.o" (object code for the CPU named in the metadata). Loading a saved module needs only
this module, `fileformat`, `jit` and llvmlite: never the compiler stages.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import statistics
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from frittata.backends import fileformat
from frittata.backends.jit import MAX_THREADS, Engine, machine_of, not_here, units_of
from frittata.backends.packing import ALIGN, aligned
from frittata.backends.peak import host_peak
from frittata.backends.profile import Profile, Timed, collect, samples
from frittata.backends.team import Team, TeamTrace, barrier_state
from frittata.errors import DeployError, ModuleFormatError, RuntimeInputError
from frittata.terms.dtypes import TensorType
from frittata.terms.interp import check_inputs
from frittata.terms.program import Program


SERIAL_BELOW_SECONDS = 10e-6
"""`compile` builds a module whose kernels the cost model prices below this to run on the
calling thread alone, whatever thread count was asked for: waking the helper team and the
barriers between its kernels cost more than splitting saves. The unit is the model's (seconds
split over its `cores`). Measured on the shared 2-core AMD EPYC (2026-12-05, quiet), since the
helpers wait for runs in native code: 64x64 matmul (modelled 3.3 us) 16 us on one thread, 1.06x
that on two; 128x128 matmul (21 us) and a 3x3 16-channel conv at 28x28 (21 us) 0.71x / 0.73x on
two; the zoo MLP at batch 1 (58 us) 0.79x; depthwise 3x3 32 at 112x112 (69 us) 0.53x. When the
team woke through a Python queue, the threshold was 100 us (the MLP then took 258 us on two)."""

SOLO_STEP_SECONDS = 20e-6
"""`compile` builds a step the cost model prices below this to run on thread 0 alone (the
other threads wait at the barrier after it, `frittata.backends.llvm.codegen`). The unit is the
model's: seconds of the kernel split over the model's `cores` (2), so a step at the threshold
is ~40 us of one thread's work, ~20 us more than an even split of it. Against that, on the shared
2-core AMD EPYC (2026-12, load 3) each step on two threads risks a wait for a descheduled
partner: ResNet-18's tap slices, 5-9 us on one thread, took 5-140 us each on two (13-18 us ones:
19-96 us). Zoo ResNet-18 at 2 threads, with this threshold compared as here: 0.865x and 0.886x
the time of the build without solo steps (wall medians, load 13-14); the threshold compared with
one thread's seconds instead (11 solo steps, not 24) ran 0.97x and 1.05x the time of this one
(wall medians of 40 and 80 interleaved rounds, load 12-14: no difference measured).
The model's seconds are at the host CPU's own rates (`build.step_facts`): priced at Sapphire
Rapids' 512-bit FMA rate, twice Zen 4's, 14 of zoo MobileNetV2's 54 steps ran solo on the Zen 4
EPYC (its 1x1 projection at 28x28, 68 us on one thread, and 12 depthwise layers at 14x14 and
7x7, 22-37 us), where one did at Zen 4's rate; two threads, loaded (load 13): 0.90x the time."""

SAVED_KIND = "llvm"
"""The "kind" a saved `Module` records in its metadata, which `frittata.load` dispatches on."""


def aligned_copy(array: np.ndarray) -> np.ndarray:
    out = aligned(array.nbytes, array.dtype.name, array.shape)
    out[...] = array
    return out


class CompiledCode:
    """What every llvm module has, whether its code runs on this machine or not: the saved form
    (code units, parameters, metadata), the signature and report; it saves and exports itself."""

    def __init__(self, saved: fileformat.Saved) -> None:
        meta = saved.meta
        self._saved = saved
        self.inputs = {n: TensorType(tuple(s), d) for n, (s, d) in meta["inputs"].items()}
        self.outputs = {n: TensorType(tuple(s), d) for n, (s, d) in meta["outputs"].items()}
        self.report: dict = meta.get("report", {})
        self.program: Program | None = None
        """The optimized program `compile` built this from (not saved with the module)."""
        self.peak_bytes: int = meta["arena_bytes"]
        self.triple: str = machine_of(saved).triple
        """The LLVM triple of the machine the code is for."""

    def export_library(self, path: str | Path, cc: str | None = None) -> Path:
        """A shared library with a C API for this module (see `frittata.backends.export`), and
        its header beside it; returns the library's path."""
        from frittata.backends.export import export_library

        return export_library(self._saved, path, cc)

    def save(self, path: str | Path) -> None:
        """Write the module to one file (see `frittata.backends.fileformat`)."""
        Path(path).write_bytes(self.to_bytes())

    def to_bytes(self) -> bytes:
        """The bytes `save` writes."""
        meta = dict(self._saved.meta, kind=SAVED_KIND, report=self.report)
        return fileformat.encode(dataclasses.replace(self._saved, meta=meta))

    def signature(self) -> str:
        """The inputs and outputs with their types, `(x: float32[1, 3]) -> (y: float32[1, 10])`."""
        ins = ", ".join(f"{n}: {t}" for n, t in self.inputs.items())
        outs = ", ".join(f"{n}: {t}" for n, t in self.outputs.items())
        return f"({ins}) -> ({outs})"


_MODULES: weakref.WeakSet[Module] = weakref.WeakSet()
"""Every live module, so that a forked child can give each a fresh lock (`_after_fork`)."""


class Module(CompiledCode):
    """A compiled program. `mod.run(x=...)` or `mod(x=...)` returns a dict of numpy arrays."""

    def __init__(self, saved: fileformat.Saved, threads: int | None = None) -> None:
        super().__init__(saved)
        meta = saved.meta
        self.steps: list[dict] = meta.get("steps", [])
        """Each kernel call in program order: name, op, flops, bytes, the model's seconds, the
        index of its term in `program.terms()` (None for an output copy) and whether it runs on
        thread 0 alone (`solo`; absent from modules saved before it was recorded)."""
        self.in_place: tuple[str, ...] = tuple(meta.get("in_place", ()))
        """The outputs `run_in_place` writes into the input array of the same name (the plan
        proved each input element is read before the same output element is written)."""
        self._checks: list = meta.get("checks", [])
        """[arena offset of a status record, op, what its indices address, indices shape] per
        kernel that checks run-time indices."""
        reason = not_here(machine_of(saved))
        if reason is not None:
            raise DeployError(f"module: {reason} (frittata.load gives a CrossModule for such code)")
        self._engine = Engine(units_of(saved), meta.get("cpu", ""), meta["features"])
        # The kernels read a parameter as a C-ordered block at its address: a strided view (the
        # importer's transposed, read-only weights, which `ParamRef` keeps as they are) is copied
        # even where its address happens to be aligned.
        self._params = [a if a.flags.c_contiguous and a.ctypes.data % ALIGN == 0 else aligned_copy(a)
                        for a in saved.params.values()]
        self._arena = aligned(max(self.peak_bytes, ALIGN))
        self._slots = np.zeros(1 + len(self.inputs) + len(self.outputs) + len(self._params), np.uint64)
        self._slots[0] = self._arena.ctypes.data
        for i, p in enumerate(self._params):
            self._slots[1 + len(self.inputs) + len(self.outputs) + i] = p.ctypes.data
        self._barrier = barrier_state()
        self._addresses = (self._slots.ctypes.data, self._barrier.ctypes.data)
        self._specs = [(n, t.shape, np.dtype(t.dtype)) for n, t in self.inputs.items()]
        self._lock = threading.Lock()
        self.threads = int(threads or meta.get("threads", 1))
        """The threads asked for; `team_threads` run: the build's choice for the count it was
        built for (one, for a program too small to split), else the count asked for here."""
        built_for = meta.get("threads", self.threads)
        self.team_threads = int(meta.get("team_threads", built_for)) if self.threads == built_for else self.threads
        if not 1 <= self.team_threads <= MAX_THREADS:
            raise DeployError(f"module: expected 1 to {MAX_THREADS} threads (the work counter's headroom), "
                              f"got {self.team_threads}")
        self._team = Team(self._engine.entry, self.team_threads)
        # Not at exit: a helper stuck in a run would make close wait forever; the helpers are
        # daemon threads, which end with the process.
        weakref.finalize(self, self._team.close).atexit = False
        _MODULES.add(self)

    @property
    def from_objects(self) -> bool:
        """True when the saved object code was linked as it is (same CPU), False when the IR
        was compiled again for this CPU."""
        return self._engine.from_objects

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Check inputs against the signature, run natively, return fresh output arrays."""
        return self._native(self._checked(inputs), None)

    __call__ = run

    def run_in_place(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """`run`, with each output of `in_place` written into the input array of its name and
        returned as that array (a training step updating its parameters and state without new
        buffers). An input array that cannot take it (not a C-contiguous writable array of the
        exact type, or sharing memory with another input) gets a fresh output instead."""
        checked = self._checked(inputs)
        arrays = dict(zip(self.inputs, checked))
        into = {}
        for name in self.in_place:
            given = inputs[name]
            others = (a for n, a in arrays.items() if n != name)
            if (given is arrays[name] and given.flags.writeable and given.dtype == self.outputs[name].dtype
                    and not any(np.shares_memory(given, other) for other in others)):
                into[name] = given
        return self._native(checked, None, into)

    def _native(self, arrays: list[np.ndarray], entry, into: Mapping[str, np.ndarray] | None = None,
                extra: int = 0) -> dict[str, np.ndarray]:
        """Run the entry point (or `entry`: see `Team.run`, with `extra`) on the team over the
        checked input `arrays`, raise for an index out of range, return the output arrays
        (fresh ones, or those of `into`)."""
        chosen = into or {}
        outputs = {n: chosen[n] if n in chosen else np.empty(t.shape, t.dtype) for n, t in self.outputs.items()}
        with self._lock:
            for i, array in enumerate(arrays + list(outputs.values()), start=1):
                self._slots[i] = _address(array)
            self._team.run(*self._addresses, entry, extra)
            self._raise_bad_index()
        return outputs

    def run_timed(self, **inputs: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """`run` through the profiling entry point: the outputs, and seconds on thread 0: first
        the wait for the team's threads to start, then each step's (from the end of the
        previous step to the end of this one)."""
        if self._engine.profile_entry is None or len(self.steps) == 0:
            raise ModuleFormatError("module: expected a profiling entry point and step table, got a module "
                                    "saved without them; compile it again with this version")
        stamps = np.zeros(len(self.steps) + 2, np.int64)
        outputs = self._native(self._checked(inputs), self._engine.profile_entry, extra=stamps.ctypes.data)
        return outputs, np.diff(stamps) * 1e-9

    def run_traced(self, **inputs: np.ndarray) -> tuple[dict[str, np.ndarray], TeamTrace]:
        """`run` through the tracing entry of a module built with `trace`: the outputs, and every
        thread's clock readings around each barrier of the team (`team.TeamTrace`)."""
        phases = self._saved.meta.get("trace_phases")
        if self._engine.trace_entry is None or phases is None:
            raise ModuleFormatError("module: expected a tracing entry point, got a module built without one; "
                                    "build it with trace=True")
        stamps = np.zeros((self.team_threads, 2 + 2 * len(phases)), np.int64)
        outputs = self._native(self._checked(inputs), self._engine.trace_entry, extra=stamps.ctypes.data)
        self._team.wait()
        return outputs, TeamTrace(tuple(phases), stamps)

    def profile(self, inputs: Mapping[str, np.ndarray], repeat: int = 10, warmup: int = 1) -> Profile:
        """Measured time per kernel (`frittata.backends.profile.Profile`): `repeat` profiled runs
        interleaved with as many plain ones, after `warmup` of each."""
        given = dict(inputs)
        kernels = samples(self.steps, self.program.terms() if self.program is not None else None)

        def profiled() -> Timed:
            return [(k, float(s), None) for k, s in zip(kernels, self.run_timed(**given)[1])]

        return collect("llvm", lambda: self.run(**given), profiled, repeat, warmup, host_peak(self.team_threads))

    def _raise_bad_index(self) -> None:
        """Raise RuntimeInputError for the first kernel whose status record says an index was
        out of range (the kernel skipped its accesses; the outputs are not returned)."""
        for offset, op, what, shape in self._checks:
            error = index_error(self._arena[offset:offset + 32].view(np.int64), op, what, shape)
            if error is not None:
                raise error

    def _checked(self, given: Mapping[str, object]) -> list[np.ndarray]:
        """The inputs in signature order, C-contiguous; anything but exactly the expected arrays
        goes through `check_inputs`, which raises (or accepts a numpy scalar for a 0-d input)."""
        arrays = []
        for name, shape, dtype in self._specs:
            value = given.get(name)
            if type(value) is not np.ndarray or value.shape != shape or value.dtype != dtype:
                break
            arrays.append(value)
        if len(arrays) != len(self._specs) or len(given) != len(self._specs):
            check_inputs(self.inputs, given, "module")
            arrays = [given[name] for name in self.inputs]  # type: ignore[misc]
        return [np.ascontiguousarray(a) for a in arrays]

    def benchmark(self, inputs: Mapping[str, np.ndarray], repeat: int = 20, warmup: int = 2) -> dict[str, float]:
        """Wall time of `run` in milliseconds: median, min and max over `repeat` runs."""
        return time_runs(self.run, inputs, repeat, warmup)

    def __repr__(self) -> str:
        return f"<Module {self.signature()}; {self.team_threads} thread(s), peak {self.peak_bytes} bytes>"


def _address(array: np.ndarray) -> int:
    """The address of a C-contiguous array's data: through a ctypes view of its buffer (a third
    of the time of `array.ctypes.data`), or `ctypes.data` for a read-only or empty array."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(array.data))
    except (TypeError, ValueError):
        return array.ctypes.data


def index_error(status: np.ndarray, op: str, what: str, shape: list[int]) -> RuntimeInputError | None:
    """The error a kernel's index-check status record {failed, value, flat position, bound}
    reports, or None when its indices were in range."""
    failed, value, position, bound = (int(w) for w in status)
    if not failed:
        return None
    at = tuple(int(i) for i in np.unravel_index(position, shape))
    return RuntimeInputError(f"{op}: index {value} at position {at} of the indices is outside the valid range "
                             f"[{-bound}, {bound}) of {what}")


def time_runs(run, inputs: Mapping[str, np.ndarray], repeat: int = 20, warmup: int = 2) -> dict[str, float]:
    """Wall time of `run(**inputs)` in milliseconds: median, min and max over `repeat` runs."""
    for _ in range(warmup):
        run(**inputs)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(**inputs)
        times.append((time.perf_counter() - start) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times), "repeat": repeat}


def _after_fork() -> None:
    """In a forked child: a module another thread was running at the fork has its lock held
    by a thread that did not come along; each module gets a fresh one (the child's team runs
    alone, `team._after_fork`)."""
    for module in list(_MODULES):
        module._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
