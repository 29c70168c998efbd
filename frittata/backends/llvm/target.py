"""The "llvm" target: the host CPU, priced by the analytical CPU model, built through LLVM; and
the same for another machine named by a target string ("llvm -mtriple=aarch64-linux-gnu
-mcpu=cortex-a72"): its vector width in the cost model and the kernels, its code generator,
a `CrossModule` as the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from frittata.backends import fileformat
from frittata.backends.cross import CrossModule
from frittata.backends.jit import Machine, host, machine_of, runs_here
from frittata.backends.runtime import SAVED_KIND, SERIAL_BELOW_SECONDS, SOLO_STEP_SECONDS, Module
from frittata.backends.target import Target

if TYPE_CHECKING:
    from frittata.extract.cost import CostModel
    from frittata.rewrites.schedule import Schedule
    from frittata.terms.program import Program


def schedule() -> Schedule:
    """The library's default phases: simplify, fuse, lay out, tile."""
    from frittata.rewrites.schedule import DEFAULT_SCHEDULE

    return DEFAULT_SCHEDULE


def cost_model() -> CostModel:
    """The analytical CPU model with the compiling machine's vector width."""
    from frittata.extract.cpu_model import CpuModel

    return CpuModel.for_host()


def build_native(program: Program, threads: int | None) -> Module | CrossModule:
    """The llvm backend's build, imported when first asked for: loading a saved module needs
    only the runtime. A program too small to split runs on one thread (`SERIAL_BELOW_SECONDS`), a
    small step on the first thread alone (`SOLO_STEP_SECONDS`)."""
    from frittata.backends.llvm.build import build

    return build(program, threads=threads, serial_below=SERIAL_BELOW_SECONDS,
                 solo_below=SOLO_STEP_SECONDS)


def load(saved: fileformat.Saved, threads: int | None) -> Module | CrossModule:
    """A runnable module when the file's code runs here (this architecture, and every CPU feature
    it was compiled for), else a `CrossModule` (files without a triple are for this architecture)."""
    return Module(saved, threads) if runs_here(machine_of(saved)) else CrossModule(saved)


LLVM = Target("llvm", SAVED_KIND, schedule, cost_model, build_native, load)


def for_machine(spec: str) -> Target:
    """The llvm target for the machine the target string `spec` names (`jit.Machine.parse`)."""
    machine = Machine.parse(spec)
    if machine == host():
        return LLVM

    def model() -> CostModel:
        from frittata.extract.cpu_model import CpuModel

        return CpuModel.for_machine(machine.triple, machine.features, machine.cpu)

    def build_for(program: Program, threads: int | None) -> Module | CrossModule:
        from frittata.backends.llvm.build import build

        return build(program, threads=threads, target=machine, serial_below=SERIAL_BELOW_SECONDS,
                 solo_below=SOLO_STEP_SECONDS)

    return Target(spec, SAVED_KIND, schedule, model, build_for, load)
