"""Tests that kill surviving mutants of frittata.rewrites (bench/mutation_score.py)."""

import numpy as np
from egglog import ruleset

from frittata.rewrites import egraph, saturate
from frittata.terms import builders as tb
from frittata.terms import zoo
from frittata.terms.program import Program


def _size(program) -> tuple[int, int]:
    data, _ = saturate(program)
    return len(data.nodes), len(data.classes)


def test_the_analysis_rules_rebuilt_at_run_time_saturate_alike(monkeypatch):
    # egraph.ANALYSIS is built once at import; rebuilding it from _analysis_rules() inside a
    # test checks the rule builder itself (types and param-only facts drive guards and folds)
    for program in (zoo.get("mlp"), _conv_bn_relu()):
        _same_after_rebuild(program, monkeypatch)


def _conv_bn_relu() -> Program:
    """A convolution whose batch norm folds (param-only facts) and whose bias fuses (types)."""
    rng = np.random.default_rng(0)
    x = tb.var("x", (1, 3, 6, 6))
    w = tb.param("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    stats = [tb.param(n, rng.random(4).astype(np.float32) + 0.5) for n in ("s", "b", "m", "v")]
    return Program({"y": tb.relu(tb.batch_norm(tb.conv2d(x, w, pads=1), *stats))})


def _same_after_rebuild(program: Program, monkeypatch) -> None:
    expected = _size(program)
    rebuilt = ruleset(*egraph._analysis_rules(), name="frittata-analysis-rebuilt")
    with monkeypatch.context() as patch:
        patch.setattr(egraph, "ANALYSIS", rebuilt)
        assert _size(program) == expected
