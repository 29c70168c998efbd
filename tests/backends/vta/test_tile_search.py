"""The per-layer schedule search: bounded, never slower than the default, and what it finds
runs bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.lower import emit_vta_term
from frittata.backends.vta.lower_conv2d import ConvTiling
from frittata.backends.vta.tile_search import search_conv_schedule
from frittata.errors import LoweringError
from frittata.terms.interp import evaluate
from frittata.terms.program import Program

from tests.backends.vta.test_tensorize_lower import conv_node


def test_search_is_bounded_never_slower_and_its_choice_is_bit_exact(rng):
    cfg = VtaConfig()
    node, x = conv_node(rng, cfg, 14, 64, 128, 1, (2, 2), (0,) * 4)
    result = search_conv_schedule(node, cfg, budget=3)
    assert result.tried == 6 and result.fitting > 6 and result.stop == "budget: 3 per thread count"
    assert result.best.cycles <= result.default.cycles and result.default.threads == 2
    args = [evaluate(Program({"a": a}), {n: x for n in Program({"a": a}).inputs})["a"] for a in node.args]
    sim = Simulator(cfg, Dram())
    lowered = emit_vta_term(node, args, cfg, sim.machine.dram, result.best.threads, result.best.tiling)
    assert sim.run(lowered.program.image()).cycles == result.best.cycles
    np.testing.assert_array_equal(lowered.read(sim.machine.dram), evaluate(Program({"y": node}), {"x": x})["y"])


def test_a_small_layer_is_searched_exhaustively_and_a_tiling_that_does_not_fit_is_refused(rng):
    cfg = VtaConfig()
    node, _ = conv_node(rng, cfg, 4, 16, 32, 3, (1, 1), (1,) * 4)
    result = search_conv_schedule(node, cfg, budget=100)
    assert result.tried == result.fitting and result.stop.startswith("exhausted")
    args = [np.zeros(a.shape, a.dtype) for a in node.args]
    with pytest.raises(LoweringError, match="does not fit"):
        emit_vta_term(node, args, cfg, Dram(), 2, ConvTiling(th=4, tw=4, tco=2, tci=64))
