"""LLVM target and JIT for compiled modules: host target machine, verify, optimize, load.

A compiled module is a list of `Unit`s (one per distinct kernel, plus the entry point), each
an optimized LLVM IR text and, when built on this CPU, its object code. Used both by the llvm
backend (at compile time) and by `frittata.load`, which links the object code as it is when the
CPU matches and otherwise JIT-compiles the optimized IR, so loading never runs the optimizer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from llvmlite import binding as llvm

from frittata.backends import fileformat
from frittata.backends.llvm_targets import check_cpu, check_machine, llvm_target
from frittata.backends.x86_features import vector_features
from frittata.errors import LoweringError, ModuleFormatError, TargetError
from frittata.terms.cpu_geometry import byte_quads, vector_lanes

ENTRY = "frittata_run"
ENTRY_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p)
MAX_THREADS = 256
"""The largest team a module runs (each thread has a word of the team's state, `BARRIER_WORDS`)."""
BARRIER_WORDS = 16 + MAX_THREADS
"""int32 words of the team's shared state the entry's last argument points at (8-byte aligned):
the barrier's arrival count, the phase and work counter kernels take items from (one 64-bit
word), the items done in the phase, the counts of threads asleep on the phase and on the items
done, and from word 16 on each thread's own phase (`frittata.backends.llvm.barrier`, `STATE_*`)."""
NATIVE, PROFILE, PYTHON, STOP = 0, 1, 2, 3
"""Job kinds of the native team loop (`frittata.backends.llvm.serve`, posted by
`frittata.backends.team`): the entry `(slots, tid, n, state)`, the profiling entry with its extra
argument `(slots, tid, n, state, extra)`, a job Python runs, the end of the helpers."""
PROFILE_ENTRY = "frittata_profile"
PROFILE_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p,
                                ctypes.c_void_p)
"""`frittata_profile(slots, tid, nthreads, barrier, ns)`: the entry's calls, each followed by a
clock reading into ns (one int64 per call, plus one on entry and one when the team has met)."""
TRACE_ENTRY = "frittata_trace"
"""`frittata_trace(slots, tid, nthreads, barrier, ns)` (`PROFILE_TYPE`), in modules built with
`trace`: every thread's clock readings around each barrier of the team (`runtime.Module.run_traced`)."""


@cache
def _initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    libm = ctypes.util.find_library("m")
    if libm:
        llvm.load_library_permanently(libm)


@dataclass(frozen=True)
class Machine:
    """A CPU as LLVM sees it: triple, CPU name and features string. `host()` is the one this
    process runs on; `Machine.parse` reads another from a target string (cross-compilation)."""

    triple: str
    cpu: str
    features: str

    @classmethod
    def parse(cls, spec: str) -> Machine:
        """The machine a target string names, TVM-style: "llvm -mtriple=aarch64-linux-gnu
        -mcpu=cortex-a72 -mattr=+neon"; plain "llvm" is the host, and an option left out is the host's triple or
        LLVM's generic default (CPU "generic", no extra features); -mcpu=native is the host's CPU
        and its features, and a CPU LLVM does not know for the triple is refused before LLVM
        sees it (`llvm_targets.check_cpu`: LLVM would end the process), as is a CPU and
        features LLVM cannot generate code for (`llvm_targets.check_machine`, unless they are
        the host's). An x86 machine's vector ISA
        features are as LLVM's CPU has them with -mattr applied (`x86_features.vector_features`):
        "llvm -mcpu=sapphirerapids" gets the AVX-512 kernels, "-mattr=+avx2,-avx" has no AVX2."""
        options = _options(spec)
        if not options:
            return host()
        triple = options.get("-mtriple", host().triple)
        llvm_target(triple, f"target {spec!r}")
        cpu, features = options.get("-mcpu", "generic"), _feature_list(f"target {spec!r}", options.get("-mattr", ""))
        if cpu == "native":
            cpu, features = host().cpu, [f for f in host().features.split(",") if f] + features
        if options.get("-mcpu", "native") != "native":
            check_cpu(triple, cpu, f"target {spec!r}")
        resolved = last_wins(features)
        if _is_host(triple, cpu, resolved):
            return host()
        check_machine(triple, cpu, resolved, f"target {spec!r}")
        return cls(triple, cpu, vector_features(triple, cpu, resolved))

    @property
    def arch(self) -> str:
        """The triple's architecture: x86_64, aarch64, wasm32, ..."""
        return self.triple.split("-", 1)[0]

    @property
    def lanes(self) -> int:
        """fp32 lanes of the widest vector register (`cpu_geometry.vector_lanes`)."""
        return vector_lanes(self.triple, self.features)

    @property
    def byte_quads(self) -> bool:
        """Whether the int8 kernel multiplies quads of bytes here (`cpu_geometry.byte_quads`)."""
        return byte_quads(self.triple, self.features)

    def machine(self, shared: bool = False) -> llvm.TargetMachine:
        """The target machine; `shared` makes position-independent code for a shared library
        (else the JIT's code model for the host's triple, the default one for another: code for
        another triple is never JIT-linked here, and i686's code generator asserts on a call in
        the JIT's large model). With AVX-512 the 256-bit preference is switched off (as the
        function attribute "prefer-vector-width"="512" would, which llvmlite cannot attach). A
        machine built directly, not by `parse`, is checked first (`checked`)."""
        target = llvm_target(self.triple, f"machine {self.cpu!r}")
        checked(self)
        features = self.features + (",-prefer-256-bit" if self.lanes == 16 else "")
        if shared:
            return target.create_target_machine(cpu=self.cpu, features=features, opt=3, reloc="pic",
                                                codemodel="default")
        codemodel = "jitdefault" if self.triple == host().triple else "default"
        return target.create_target_machine(cpu=self.cpu, features=features, opt=3, reloc="default",
                                            codemodel=codemodel)


@cache
def checked(machine: Machine) -> None:
    """A TargetError unless LLVM can make code for `machine` (a CPU name it knows, features
    '+name' / '-name', a CPU and features it can generate code for: `llvm_targets`), for a machine
    not made by `Machine.parse` (built directly, read from a file): LLVM would end the process.
    The host's own machine needs no check; another costs one or two child processes, once."""
    if _is_host(machine.triple, machine.cpu, machine.features):
        return
    where = f"machine {machine.cpu or 'generic'!r} for {machine.triple}"
    llvm_target(machine.triple, where)
    if machine.cpu:
        check_cpu(machine.triple, machine.cpu, where)
    _feature_list(where, machine.features)
    check_machine(machine.triple, machine.cpu, machine.features, where)


def _is_host(triple: str, cpu: str, features: str) -> bool:
    """Whether `triple`, `cpu` and `features` (one entry per feature) are this host's own."""
    here = host()
    return (triple, cpu, set(features.split(","))) == (here.triple, here.cpu, set(here.features.split(",")))


def _options(spec: str) -> dict[str, str]:
    """A target string's -mtriple=, -mcpu=, -mattr= values by option, after the word "llvm"."""
    words = spec.split()
    if not words or words[0] != "llvm":
        raise TargetError(f"target {spec!r}: expected 'llvm' followed by -mtriple=, -mcpu=, -mattr= options")
    options: dict[str, str] = {}
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key not in ("-mtriple", "-mcpu", "-mattr") or not value:
            raise TargetError(f"target {spec!r}: expected options -mtriple=, -mcpu=, -mattr= each "
                              f"with a value, got {word!r}")
        options[key] = value
    return options


FEATURE = re.compile(r"[+-][\w.-]+")
"""One entry of an -mattr list: a feature LLVM switches on ("+avx2") or off ("-avx512f")."""


def _feature_list(where: str, mattr: str) -> list[str]:
    """-mattr's entries, each checked to be "+name" or "-name" (LLVM aborts the process on an
    entry without the sign); `where` names what asked."""
    entries = mattr.split(",") if mattr else []
    for entry in entries:
        if not FEATURE.fullmatch(entry):
            raise TargetError(f"{where}: expected -mattr entries '+feature' or '-feature' separated by "
                              f"commas (e.g. +avx2,-avx512f), got {entry!r}")
    return entries


def last_wins(entries: Sequence[str]) -> str:
    """A features string with one entry per feature, its last: LLVM applies the entries in order,
    so "+avx512f,-avx512f" is "-avx512f" (and a reader of the string may then treat it as a set)."""
    signs: dict[str, str] = {}
    for entry in entries:
        signs.pop(entry[1:], None)
        signs[entry[1:]] = entry[0]
    return ",".join(sign + name for name, sign in signs.items())


@cache
def host() -> Machine:
    _initialize()
    return Machine(llvm.get_process_triple(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten())


@cache
def marketing_name() -> str:
    """The host CPU's marketing name from /proc/cpuinfo, else what `platform` says (processor or
    machine: aarch64 Linux has no "model name" line, macOS no /proc), else "unknown"."""
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine() or "unknown"


def verify(text: str, where: str) -> llvm.ModuleRef:
    """Parse and verify LLVM IR text; a malformed module is a compiler bug reported as LoweringError."""
    _initialize()
    try:
        module = llvm.parse_assembly(text)
        module.verify()
    except RuntimeError as error:
        raise LoweringError(f"{where}: expected valid LLVM IR, got: {error}") from None
    return module


def optimize(module: llvm.ModuleRef, target: Machine, speed: int = 3) -> None:
    """The new pass manager's pipeline at `speed` (0-3) for the host machine; loop and SLP
    vectorization and loop unrolling from level 2 up. Level 1 is for code written with explicit
    vectors and register blocking, which LLVM's unroller only hurts: unrolling the reduction
    loop of a 12 x 1-vector convolution tile by two spilled accumulators to the stack (1x1
    convolution 160 -> 960 at 7x7, AMD EPYC znver3: 0.29 ms unrolled, 0.23 ms not)."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=speed)
    tuning.loop_vectorization = speed >= 2
    tuning.slp_vectorization = speed >= 2
    tuning.loop_unrolling = speed >= 2
    builder = llvm.create_pass_builder(target.machine(), tuning)
    builder.getModulePassManager().run(module, builder)
    module.verify()


@dataclass(frozen=True)
class Unit:
    """One separately compiled piece of a module: its optimized IR and its object code (empty
    when only the IR is known)."""

    name: str
    ir: str
    obj: bytes = b""


@dataclass(frozen=True)
class UnitTimes:
    """CPU seconds spent on one unit: parse and verify, optimize, code generation (CPU time, so
    a worker descheduled on a busy machine does not inflate them)."""

    parse: float
    optimize: float
    codegen: float


def compile_unit(name: str, text: str, target: Machine, speed: int) -> tuple[Unit, UnitTimes]:
    """Verify, optimize at `speed` and emit object code for one unit of IR (the target's data
    layout set first: pointer size and alignments differ between targets, wasm32's pointers are
    32-bit)."""
    start = time.thread_time()
    module = verify(text, name)
    module.data_layout = str(target.machine().target_data)
    parsed = time.thread_time()
    optimize(module, target, speed)
    optimized = time.thread_time()
    obj = target.machine().emit_object(module)
    done = time.thread_time()
    return Unit(name, str(module), obj), UnitTimes(parsed - start, optimized - parsed, done - optimized)


class Engine:
    """Compiled units linked in one JIT, and the ctypes entry points
    `frittata_run(slots, tid, nthreads, barrier)` and `frittata_profile` (`PROFILE_TYPE`). The
    object code is used as it is when `cpu` and `features` are this host's; otherwise the IR is
    compiled again for this host (after checking it has every feature the IR was optimized for)."""

    def __init__(self, units: Sequence[Unit], cpu: str, features: str) -> None:
        target = host()
        self.from_objects = (cpu, features) == (target.cpu, target.features) and all(u.obj for u in units)
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target.machine())
        if self.from_objects:
            for unit in units:
                self._engine.add_object_file(llvm.ObjectFileRef.from_data(unit.obj))
        else:
            reason = not_here(Machine(target.triple, cpu, features))
            if reason is not None:
                raise ModuleFormatError(f"module: {reason}")
            for unit in units:
                self._engine.add_module(_parse(unit))
        self._engine.finalize_object()
        self.entry = ENTRY_TYPE(self._engine.get_function_address(ENTRY))
        profile = self._engine.get_function_address(PROFILE_ENTRY)
        self.profile_entry = PROFILE_TYPE(profile) if profile else None
        """The timing entry, or None in a module saved before it existed."""
        trace = self._engine.get_function_address(TRACE_ENTRY)
        self.trace_entry = PROFILE_TYPE(trace) if trace else None
        """The tracing entry of a module built with `trace`, else None."""


def missing_features(features: str, target: Machine) -> set[str]:
    """The features (+name) of the comma-separated `features` that `target` lacks."""
    return set(f for f in features.split(",") if f.startswith("+")) - set(target.features.split(","))


def not_here(machine: Machine) -> str | None:
    """Why code compiled for `machine` cannot run on this host, or None when it can: the host
    must have the same triple and every feature (+name) the code was compiled for (AVX-512 code
    does not run on an AVX2 host)."""
    here = host()
    if machine.triple != here.triple:
        return f"expected to run on a {machine.triple} machine, this one is {here.triple}"
    missing = missing_features(machine.features, here)
    if missing:
        return f"expected a CPU with {sorted(missing)}, this one ({here.cpu}) lacks them"
    return None


def runs_here(machine: Machine) -> bool:
    """Whether code compiled for `machine` runs on this host (see `not_here`)."""
    return not_here(machine) is None


def _parse(unit: Unit) -> llvm.ModuleRef:
    try:
        module = llvm.parse_assembly(unit.ir)
        module.verify()
    except RuntimeError as error:
        raise ModuleFormatError(f"module unit {unit.name}: expected valid LLVM IR, got: {error}") from None
    return module


def saved_units(units: list[Unit]) -> dict[str, bytes]:
    """The file sections holding `units`: NAME.ll for each IR, NAME.o for each object code."""
    sections = {f"{u.name}.ll": u.ir.encode() for u in units}
    return sections | {f"{u.name}.o": u.obj for u in units if u.obj}


def machine_of(saved: fileformat.Saved) -> Machine:
    """The machine a saved llvm module's code was compiled for, as its header names it (a file
    without a triple, written before cross-compilation, is for this machine's architecture; one
    without a CPU, for LLVM's generic CPU). Not checked: running a module saved for another CPU
    compiles its IR for this host and never asks LLVM for the header's machine
    (`machine_for_code` is for code made for it)."""
    meta = saved.meta
    return Machine(meta.get("triple", host().triple), meta.get("cpu", ""), meta.get("features", ""))


def machine_for_code(saved: fileformat.Saved) -> Machine:
    """`machine_of(saved)` for making code for it (export), checked as a machine built directly is
    (`checked`): a module saved by an LLVM that knows a CPU this one does not (znver5 on an older
    install) is a ModuleFormatError."""
    machine = machine_of(saved)
    try:
        checked(machine)
    except TargetError as error:
        raise ModuleFormatError(f"module header: {error}; the module was saved for a machine this LLVM cannot "
                                "generate code for: compile the program again here") from None
    return machine


def units_of(saved: fileformat.Saved) -> list[Unit]:
    """The units a saved module lists (a version 1 file holds one, "module", as IR only)."""
    names = saved.meta.get("units", ["module"])
    missing = [n for n in names if f"{n}.ll" not in saved.sections]
    if missing:
        raise ModuleFormatError(f"module: expected the IR of units {missing}, got sections {sorted(saved.sections)}")
    return [Unit(n, saved.sections[f"{n}.ll"].decode(), saved.sections.get(f"{n}.o", b"")) for n in names]
