"""A design's layers tuned: per conv layer the fastest tiling and virtual-thread count by the
cycle model (`tile_search`), against the lowering's default schedule.

The explorer times each layer with the default tiling and the better of one and two virtual
threads (cheap enough for hundreds of designs); this is the second, per-operator stage for the
few designs worth it (the best one, the baseline), as TVM tunes the operators of its chosen
VTA design.  Dense layers keep the default (their tiling has no alternatives the traffic model
ranks below its choice).  A layer's seconds are counted as the explorer counts them: cycles at
the design's clock plus its operand and result bytes over the host link.
"""

from __future__ import annotations

from dataclasses import dataclass

from frittata.backends.vta.dse.evaluate import DesignResult, call_seconds, layer_term, link_bytes
from frittata.backends.vta.dse.workload import Workload
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import config_from_dict
from frittata.backends.vta.tile_search import SearchResult, search_conv_schedule


@dataclass(frozen=True, slots=True)
class TunedDesign:
    """A design's per-layer search results (VTA conv layers only) and its end-to-end latency
    with the tuned schedules in place of the explorer's."""

    design: str
    searches: dict[str, SearchResult]
    latency_s: float


def tune_design(result: DesignResult, workload: Workload, budget: int = 8) -> TunedDesign:
    """Search every conv layer `result` ran on VTA (see the module docstring)."""
    cfg: VtaConfig = config_from_dict(result.config)
    searches: dict[str, SearchResult] = {}
    latency = result.latency_s
    for layer in workload.layers:
        timed = result.layers[layer.name]
        if layer.kind != "conv2d" or timed.on != "vta":
            continue
        node = layer_term(layer, cfg)
        found = search_conv_schedule(node, cfg, budget)
        tuned = call_seconds(found.best.cycles, link_bytes(node), cfg)
        latency += (tuned - timed.seconds) * layer.count
        searches[layer.name] = found
    return TunedDesign(result.design, searches, latency)
