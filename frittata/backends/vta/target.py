"""The "vta" target: int8 GEMMs tensorized onto the (simulated) VTA, the rest on the host.

`vta_target(cfg)` is the target for one hardware configuration: its tensorization rules'
`$parameters`, its cost model, its lowering and simulator all read that one `VtaConfig`.
`VTA` is the default configuration's; `VTA.with_config(config)` (what `compile(..., config=)`
calls) takes a `VtaConfig`, a dict of `vta_config.json` keys, a path or a shipped board name.

The schedule and the cost model live in modules that need the rewrite and extraction stages
(`tensorize`, `cost`), so they are imported when the driver asks for them; defining the
target, and loading a saved module through it, needs neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from frittata.backends.target import Target
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import as_config, config_to_dict
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


def vta_target(cfg: VtaConfig) -> Target:
    """The "vta" target for `cfg`."""

    def cost_model() -> CostModel:
        """Accelerator calls priced by the cycle model at `cfg`'s clock, host ops by the Pynq's
        CPU model."""
        from frittata.backends.vta.cost import VtaCostModel

        return VtaCostModel(cfg=cfg)

    def rule_params() -> Mapping[str, object]:
        """$BATCH, $BLOCK_IN and $BLOCK_OUT of the tensorization rules: `cfg`'s GEMM block."""
        from frittata.backends.vta.tensorize import rule_parameters

        return rule_parameters(cfg)

    def build_accelerated(program: Program, threads: int | None) -> VtaModule:
        """The vta backend's build, imported when first asked for: loading a saved module needs
        only the module's loader."""
        from frittata.backends.vta.build import build

        return build(program, cfg, threads=threads)

    return Target("vta", SAVED_KIND, schedule, cost_model, build_accelerated, VtaModule.load,
                  rule_params, configure=lambda config: vta_target(as_config(config)),
                  config=config_to_dict(cfg))


VTA = vta_target(VtaConfig())
