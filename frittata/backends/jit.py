"""LLVM target and JIT for compiled modules: host target machine, verify, optimize, load.

Used both by the llvm backend (at compile time) and by `frittata.load` (which only parses and
JITs already-optimized IR, so loading never needs the compiler's front half).
"""

from __future__ import annotations

import ctypes
import ctypes.util
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


def optimize(module: llvm.ModuleRef, target: HostTarget) -> None:
    """The O3 pipeline for the host machine, with loop and SLP vectorization."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=3)
    tuning.loop_vectorization = True
    tuning.slp_vectorization = True
    builder = llvm.create_pass_builder(target.machine(), tuning)
    builder.getModulePassManager().run(module, builder)
    module.verify()


class Engine:
    """A JIT-compiled module and the ctypes entry point `frittata_run(slots, tid, nthreads, barrier)`."""

    def __init__(self, ir_text: str, features: str) -> None:
        target = host()
        missing = set(f for f in features.split(",") if f.startswith("+")) - set(target.features.split(","))
        if missing:
            raise ModuleFormatError(f"module: expected a CPU with {sorted(missing)}, got {target.cpu}")
        try:
            module = llvm.parse_assembly(ir_text)
            module.verify()
        except RuntimeError as error:
            raise ModuleFormatError(f"module: expected valid LLVM IR, got: {error}") from None
        self._engine = llvm.create_mcjit_compiler(module, target.machine())
        self._engine.finalize_object()
        self.entry = ENTRY_TYPE(self._engine.get_function_address(ENTRY))
