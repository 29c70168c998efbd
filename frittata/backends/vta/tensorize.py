"""The VTA target's rewrite schedule and its tensorization rules for any configuration.

The schedule recentres 8-bit activations with zero points onto int8 (`quant_vta.rules`, any
configuration) before fusion, and tensorizes after the CPU phases.

The library file `rewrites/rules/tensorize_vta.rules` is written for the default block
[1 16 16]; `tensorize_rules(cfg)` returns its text re-targeted to `cfg`'s block (the block
literal, the padding multiples and the rule names), to pass as `rules=` with
`disable=["tensorize_vta"]` and a phase running the returned family.
"""

from __future__ import annotations

from importlib import resources

from frittata.backends.vta.config import VtaConfig
from frittata.rewrites.schedule import DEFAULT_SCHEDULE, Phase

FAMILY = "tensorize_vta"
RECENTER_FAMILY = "quant_vta"


def vta_schedule(tensorize_family: str) -> tuple[Phase, ...]:
    """Simplify; recentre zero points and uint8 activations onto int8; fuse and lay out as for
    the CPU; then tensorize the int8 kernels with `tensorize_family`."""
    simplify, *rest = DEFAULT_SCHEDULE
    recenter = Phase("recenter", (RECENTER_FAMILY,))
    return (simplify, recenter, *rest, Phase("tensorize", (tensorize_family, "cancel")))


VTA_SCHEDULE = vta_schedule(FAMILY)
"""The schedule of the default configuration."""


def library_text() -> str:
    return (resources.files("frittata.rewrites") / "rules" / f"{FAMILY}.rules").read_text()


def tensorize_rules(cfg: VtaConfig) -> tuple[str, str]:
    """(family, rule text) of the tensorization rules for `cfg`'s GEMM block."""
    b, bi, bo = cfg.batch, cfg.block_in, cfg.block_out
    family = f"tensorize-vta-{b}x{bi}x{bo}"
    text = library_text().replace("[1 16 16]", f"[{b} {bi} {bo}]")
    text = text.replace("(dim ?x 0) 1)", f"(dim ?x 0) {b})").replace("(dim ?x 1) 16", f"(dim ?x 1) {bi}")
    text = text.replace("(dim ?w 0) 16", f"(dim ?w 0) {bo}").replace("(dim ?w 1) 16", f"(dim ?w 1) {bi}")
    text = text.replace(" 15) 16) 16)", " -1) -1) -1)")
    for size, dims in ((bi, ("?x 1", "?w 1")), (bo, ("?w 0",))):
        for dim in dims:
            text = text.replace(f"(+ (dim {dim}) -1) -1) -1)", f"(+ (dim {dim}) {size - 1}) {size}) {size})")
    text = text.replace("(rule tensorize-vta-", f"(rule {family}-")
    text = text.replace("(rule cancel-vta-", f"(rule {family}-cancel-")
    return family, f"(family {family})\n{text}"


def schedule_for(cfg: VtaConfig) -> tuple[tuple[Phase, ...], list[str], list[str]]:
    """(schedule, extra rules, disabled families) that tensorize for `cfg`."""
    if cfg == VtaConfig():
        return VTA_SCHEDULE, [], []
    family, text = tensorize_rules(cfg)
    return vta_schedule(family), [text], [FAMILY]
