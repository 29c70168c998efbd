"""The VTA target's rewrite schedule and its tensorization rules for any configuration.

The schedule recentres 8-bit activations with zero points onto int8 (`quant_vta.rules`, any
configuration) before fusion, fuses contractions with their epilogues to saturation before the
time-limited fuse phase, and tensorizes after the CPU phases.

The library file `rewrites/rules/tensorize_vta.rules` is written over the parameters $BATCH,
$BLOCK_IN and $BLOCK_OUT; `rule_parameters(cfg)` binds them to `cfg`'s GEMM block when the
rules are loaded (`saturate(..., params=rule_parameters(cfg))`).
"""

from __future__ import annotations

from frittata.backends.vta.hw.config import VtaConfig
from frittata.rewrites.schedule import DEFAULT_SCHEDULE, Phase

FAMILY = "tensorize_vta"
RECENTER_FAMILY = "quant_vta"


def vta_schedule() -> tuple[Phase, ...]:
    """Simplify; recentre zero points and uint8 activations onto int8; fuse each contraction
    with its whole epilogue (family `fusion` alone); fuse and lay out as for the CPU; then
    tensorize the int8 kernels.

    The contraction phase is what makes placement deterministic: a requantized layer's epilogue
    (bias, relu, shift, clip, cast) takes one step per op, and in the CPU's fuse phase the
    elementwise-fusion rules grow the e-graph alongside (ResNet-18 at 224x224: 0.6k -> 6.4k rows in
    5 steps, the fifth one 3 s), so its time limit could stop before the fifth step on a loaded
    machine, and the stem, without its int8 fused form, stayed a float conv on the host.  Alone,
    the contraction rules saturate in a few cheap steps."""
    simplify, fuse, *rest = DEFAULT_SCHEDULE
    recenter = Phase("recenter", (RECENTER_FAMILY,))
    contraction = Phase("fuse-contraction", ("fusion",))
    return (simplify, recenter, contraction, fuse, *rest, Phase("tensorize", (FAMILY, "cancel")))


VTA_SCHEDULE = vta_schedule()
"""The schedule of every configuration (the configuration binds the rules' parameters)."""


def rule_parameters(cfg: VtaConfig) -> dict[str, int]:
    """The `$parameters` of `tensorize_vta.rules` for `cfg`: its GEMM block, to pass as the rule
    loader's `params` (the file's defaults are the default configuration's)."""
    return {"BATCH": cfg.batch, "BLOCK_IN": cfg.block_in, "BLOCK_OUT": cfg.block_out}
