"""The "vta" target: int8 GEMMs tensorized onto the (simulated) VTA, the rest on the host.

The schedule and the cost model live in modules that need the rewrite and extraction stages
(`tensorize`, `cost`), so they are imported when the driver asks for them; defining the
target, and loading a saved module through it, needs neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from frittata.backends.target import Target
from frittata.backends.vta.module import VtaModule
from frittata.backends.vta.saved import SAVED_KIND

if TYPE_CHECKING:
    from frittata.extract.cost import CostModel
    from frittata.rewrites.schedule import Schedule
    from frittata.terms.program import Program


def schedule() -> Schedule:
    """The CPU phases with zero-point recentring first and tensorization last."""
    from frittata.backends.vta.tensorize import VTA_SCHEDULE

    return VTA_SCHEDULE


def cost_model() -> CostModel:
    """Accelerator calls priced by the cycle model, host ops by the Pynq's CPU model."""
    from frittata.backends.vta.cost import VtaCostModel

    return VtaCostModel()


def rule_params() -> Mapping[str, object]:
    """$BATCH, $BLOCK_IN and $BLOCK_OUT of the tensorization rules: the default configuration's."""
    from frittata.backends.vta.hw.config import VtaConfig
    from frittata.backends.vta.tensorize import rule_parameters

    return rule_parameters(VtaConfig())


def build_accelerated(program: Program, threads: int | None) -> VtaModule:
    """The vta backend's build, imported when first asked for: loading a saved module needs
    only the module's loader."""
    from frittata.backends.vta.build import build

    return build(program, threads=threads)


VTA = Target("vta", SAVED_KIND, schedule, cost_model, build_accelerated, VtaModule.load, rule_params)
