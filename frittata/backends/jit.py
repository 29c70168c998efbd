"""LLVM target and JIT for compiled modules: host target machine, verify, optimize, load.

A compiled module is a list of `Unit`s (one per distinct kernel, plus the entry point), each
an optimized LLVM IR text and, when built on this CPU, its object code. Used both by the llvm
backend (at compile time) and by `frittata.load`, which links the object code as it is when the
CPU matches and otherwise JIT-compiles the optimized IR, so loading never runs the optimizer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from llvmlite import binding as llvm

from frittata.errors import LoweringError, ModuleFormatError

ENTRY = "frittata_run"
ENTRY_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p)


@cache
def _initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    libm = ctypes.util.find_library("m")
    if libm:
        llvm.load_library_permanently(libm)


@dataclass(frozen=True)
class HostTarget:
    """The host CPU as LLVM sees it: triple, features string and fp32 vector lanes."""

    triple: str
    cpu: str
    features: str

    @property
    def lanes(self) -> int:
        """fp32 lanes of the widest vector register (16 with AVX-512F, 8 with AVX2, else 4)."""
        enabled = set(self.features.split(","))
        return 16 if "+avx512f" in enabled else 8 if "+avx2" in enabled else 4

    def machine(self) -> llvm.TargetMachine:
        """The target machine; with AVX-512 the 256-bit preference is switched off (as the
        function attribute "prefer-vector-width"="512" would, which llvmlite cannot attach)."""
        target = llvm.Target.from_triple(self.triple)
        features = self.features + (",-prefer-256-bit" if self.lanes == 16 else "")
        return target.create_target_machine(cpu=self.cpu, features=features, opt=3,
                                             reloc="default", codemodel="jitdefault")


@cache
def host() -> HostTarget:
    _initialize()
    return HostTarget(llvm.get_process_triple(), llvm.get_host_cpu_name(),
                      llvm.get_host_cpu_features().flatten())


def verify(text: str, where: str) -> llvm.ModuleRef:
    """Parse and verify LLVM IR text; a malformed module is a compiler bug reported as LoweringError."""
    _initialize()
    try:
        module = llvm.parse_assembly(text)
        module.verify()
    except RuntimeError as error:
        raise LoweringError(f"{where}: expected valid LLVM IR, got: {error}") from None
    return module


def optimize(module: llvm.ModuleRef, target: HostTarget, speed: int = 3) -> None:
    """The new pass manager's pipeline at `speed` (0-3) for the host machine; loop and SLP
    vectorization from level 2 up."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=speed)
    tuning.loop_vectorization = speed >= 2
    tuning.slp_vectorization = speed >= 2
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
    """Seconds spent on one unit: parse and verify, optimize, code generation."""

    parse: float
    optimize: float
    codegen: float


def compile_unit(name: str, text: str, target: HostTarget, speed: int) -> tuple[Unit, UnitTimes]:
    """Verify, optimize at `speed` and emit object code for one unit of IR."""
    start = time.perf_counter()
    module = verify(text, name)
    parsed = time.perf_counter()
    optimize(module, target, speed)
    optimized = time.perf_counter()
    obj = target.machine().emit_object(module)
    done = time.perf_counter()
    return Unit(name, str(module), obj), UnitTimes(parsed - start, optimized - parsed, done - optimized)


class Engine:
    """Compiled units linked in one JIT, and the ctypes entry point
    `frittata_run(slots, tid, nthreads, barrier)`. The object code is used as it is when `cpu`
    and `features` are this host's; otherwise the IR is compiled again for this host (after
    checking it has every feature the IR was optimized for)."""

    def __init__(self, units: Sequence[Unit], cpu: str, features: str) -> None:
        target = host()
        self.from_objects = (cpu, features) == (target.cpu, target.features) and all(u.obj for u in units)
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target.machine())
        if self.from_objects:
            for unit in units:
                self._engine.add_object_file(llvm.ObjectFileRef.from_data(unit.obj))
        else:
            _check_features(features, target)
            for unit in units:
                self._engine.add_module(_parse(unit))
        self._engine.finalize_object()
        self.entry = ENTRY_TYPE(self._engine.get_function_address(ENTRY))


def _check_features(features: str, target: HostTarget) -> None:
    missing = set(f for f in features.split(",") if f.startswith("+")) - set(target.features.split(","))
    if missing:
        raise ModuleFormatError(f"module: expected a CPU with {sorted(missing)}, got {target.cpu}")


def _parse(unit: Unit) -> llvm.ModuleRef:
    try:
        module = llvm.parse_assembly(unit.ir)
        module.verify()
    except RuntimeError as error:
        raise ModuleFormatError(f"module unit {unit.name}: expected valid LLVM IR, got: {error}") from None
    return module
