"""The "llvm" target: the host CPU, priced by the analytical CPU model, built through LLVM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from frittata.backends.runtime import SAVED_KIND, Module
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


def build_native(program: Program, threads: int | None) -> Module:
    """The llvm backend's build, imported when first asked for: loading a saved module needs
    only the runtime."""
    from frittata.backends.llvm.build import build

    return build(program, threads=threads)


LLVM = Target("llvm", SAVED_KIND, schedule, cost_model, build_native, Module)
