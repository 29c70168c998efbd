"""Bounded saturation: limits and stop reasons, user rules firing, zoo models stay equal."""

import numpy as np
import pytest

from frittata.rewrites import Limits, Phase, fold_params, original_choice, saturate, smallest_choice
from frittata.terms import Program, add, const, conv2d, evaluate, neg, param, relu, transpose, var, zoo
from frittata.terms.ops import Op
from tests.conftest import SATURATION_PHASE_SECONDS


def _prefer(data, ops):
    """The smallest extraction, except that nodes of `ops` win wherever they exist."""
    choice = smallest_choice(data)
    for cls, eclass in enumerate(data.classes):
        for node in eclass.nodes:
            if data.nodes[node].op in ops:
                choice[cls] = node
    return choice


def test_user_rule_file_fires(tmp_path):
    path = tmp_path / "mine.rules"
    path.write_text("(family mine)\n(rule mine-double-transpose\n"
                    "  (transpose (transpose ?x :perm ?p) :perm ?q) => ?x :if (perm-inverse ?p ?q))\n")
    x = var("x", (2, 3, 4))
    program = Program({"y": relu(transpose(transpose(x, (1, 2, 0)), (2, 0, 1)))})
    data, report = saturate(program, rules=[path], disable=["cancel"])
    assert report.fired().get("mine-double-transpose", 0) >= 1
    assert [p.name for p in report.phases][-1] == "mine"
    assert smallest_choice(data) and data.to_program(smallest_choice(data)).op_counts() == {"input": 1, "relu": 1}


def test_rule_given_as_a_string_fires():
    program = Program({"y": relu(relu(var("x", (3,))))})
    _, report = saturate(program, rules=["(rule mine-relu (relu (relu ?x)) => (relu ?x))"], library=False)
    assert set(report.fired()) == {"mine-relu"}


def test_iteration_and_node_limits_stop_and_keep_a_valid_egraph():
    program = zoo.get("resnet18")
    data, report = saturate(program, limits=Limits(iterations=1))
    assert {p.stop_reason for p in report.phases} == {"iter-limit"}
    limit = report.phases[0].nodes + 300
    small, report = saturate(program, limits=Limits(nodes=limit))
    assert any(p.stop_reason == "node-limit" for p in report.phases)
    assert all(p.nodes <= limit for p in report.phases)
    assert small.to_program(original_choice(small)).op_counts() == program.op_counts()


def test_time_limit_is_reported():
    _, report = saturate(zoo.get("mlp"), limits=Limits(seconds=0.0))
    assert {p.stop_reason for p in report.phases} == {"time-limit"}


def test_the_time_limit_counts_cpu_seconds_not_the_wall_clock(monkeypatch):
    """On a host so loaded that every step seems to take 100 s of wall time the phases still
    saturate (the limit is a backstop on this process's CPU seconds); the report's seconds are wall."""
    import itertools
    import time
    import types

    import frittata.rewrites.schedule as schedule

    ticks = itertools.count(0.0, 100.0)
    monkeypatch.setattr(schedule, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks),
                                                                process_time=time.process_time))
    _, report = saturate(zoo.get("mlp"))
    assert {p.stop_reason for p in report.phases} == {"saturated"}
    assert all(p.seconds >= 100.0 for p in report.phases if p.iterations)


def test_schedule_is_a_value():
    schedule = (Phase("only-cancel", ("cancel",)),)
    _, report = saturate(zoo.get("mlp"), schedule=schedule)
    assert [p.name for p in report.phases] == ["only-cancel"]
    assert report.phases[0].stop_reason == "saturated"


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "mlp", "transformer_block"])
def test_zoo_fused_and_folded_equals_original(name, zoo_saturated):
    program = zoo.get(name)
    data, report = zoo_saturated(name)
    fused = fold_params(data.to_program(_prefer(data, {Op.FUSED_CONV2D, Op.FUSED_DENSE})))
    assert fused.op_counts().get("batch_norm", 0) == 0
    assert report.fired(), str(report)
    inputs = zoo.example_input(program)
    want, got = evaluate(program, inputs)["y"], evaluate(fused, inputs)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * float(np.abs(want).max()))


def test_fold_params_evaluates_parameter_arithmetic():
    w = param("w", np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1))
    x = var("x", (1, 3, 2, 2))
    program = Program({"y": conv2d(x, transpose(transpose(w, (1, 0, 2, 3)), (1, 0, 2, 3)))})
    folded = fold_params(program)
    assert folded.op_counts() == {"input": 1, "param": 1, "conv2d": 1}
    inputs = {"x": np.ones((1, 3, 2, 2), np.float32)}
    np.testing.assert_array_equal(evaluate(folded, inputs)["y"], evaluate(program, inputs)["y"])


def test_only_rules_that_can_fire_are_run():
    """A rule needing an operator the program lacks, and that no firable rule makes, is left out;
    one needing an operator a firable rule makes (fused_conv2d from conv2d) is kept."""
    from frittata.rewrites.library import select_rules
    from frittata.rewrites.schedule import firable

    x = var("x", (1, 8, 6, 6))
    program = Program({"y": relu(conv2d(x, param("w", np.ones((8, 8, 3, 3), np.float32)), pads=(1, 1, 1, 1)))})
    live = {r.name for r in firable(select_rules(), program)}
    assert "fuse-conv2d-relu" in live and "layout-fused-conv2d-nchw16c" in live
    assert not any(name.startswith(("tile-dense", "fuse-dense")) for name in live)
    _, report = saturate(program)
    assert report.firable == len(live) < report.selected
    assert set(report.fired()) <= live


@pytest.mark.parametrize("name", ["resnet18", "transformer_block"])
def test_leaving_out_rules_that_cannot_fire_changes_no_e_graph(name, monkeypatch, zoo_saturated):
    from frittata.rewrites import schedule

    program = zoo.get(name)
    data, report = zoo_saturated(name)
    monkeypatch.setattr(schedule, "firable", lambda rules, _: [d for r in rules for d in r.directions()])
    every, every_report = saturate(program, limits=Limits(seconds=SATURATION_PHASE_SECONDS))
    assert [(p.nodes, p.fired) for p in report.phases] == [(p.nodes, p.fired) for p in every_report.phases]
    assert len(data.nodes) == len(every.nodes)


@pytest.mark.parametrize("weights, fires", [
    (const(2.0), True), (param("w", np.ones((2, 3), np.float32)), True),
    (add(param("w", np.ones((2, 3), np.float32)), const(1.0)), True), (var("v", (2, 3)), False)])
def test_param_only_holds_for_parameters_constants_and_what_is_computed_from_them(weights, fires):
    rule = ('(rule neg-of-weights (neg ?w) => (mul ?w (const :value -1.0 :dtype "float32"))'
            " :if (param-only ?w))")
    _, report = saturate(Program({"y": add(var("x", (2, 3)), neg(weights))}), rules=[rule], library=False)
    assert ("neg-of-weights" in report.fired()) is fires


def test_a_saturation_leaves_no_egraph_for_another_threads_collector(monkeypatch):
    """egglog's e-graph may only be dropped on the thread that made it, but egglog's Python state
    sits in reference cycles, so the e-graph of a finished saturation (and of one whose phase
    raised, kept by its traceback's frames) was dropped by whichever thread next ran the cycle
    collector: "EGraph is unsendable, but is being dropped on another thread" (an unraisable
    error, seen on a team helper thread in CI)."""
    import gc
    import sys
    import threading

    from frittata.rewrites import schedule

    program = Program({"y": relu(var("x", (3,)))})
    saturate(program)

    def failing(*args, **kwargs):
        raise RuntimeError("a phase failed")

    monkeypatch.setattr(schedule, "run_phase", failing)
    with pytest.raises(RuntimeError, match="a phase failed"):
        saturate(program)
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: unraisable.append(str(info.exc_value)))
    collector = threading.Thread(target=gc.collect)
    collector.start()
    collector.join()
    assert not [m for m in unraisable if "unsendable" in m]
