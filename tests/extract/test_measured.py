"""Extraction with measured costs: records decide between schedules the analytical model ranks
otherwise (or ties), and the report says what priced each chosen kernel."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import frittata as ft
from frittata.backends.registry import get_target
from frittata.extract.measured import layer_of
from frittata.extract.records import Record, Records, infer_output, is_algorithm
from frittata.terms.ops import Op
from frittata.terms.tiled import schedule_of
from frittata.tuning.device import host_device
from frittata.tuning.tuner import program_tasks
from tests.eight_lane_host import eight_lanes
from tests.tuning.programs import conv_program, conv_schedule, conv_workload


def _records(times: dict[tuple, float], free: bool = True) -> Records:
    """Records of the convolution's schedules; `free` leaves extraction free to choose among them
    as the in-network check's tuned compile does (else it runs its verdict's pin or its default)."""
    device = host_device(1)
    return Records([Record(conv_workload(), s, device.key, device.target(), t, None, 1.0) for s, t in times.items()],
                   free=frozenset({conv_workload().key}) if free else frozenset())


def _kernel(module):
    (conv,) = [t for t in module.program.terms() if t.op.value in ("tiled_conv2d", "fused_conv2d")]
    return conv


def _proposed() -> tuple:
    """The direct kernel's schedules the e-graph holds for the convolution: its default and the
    tiling table's (its Winograd forms, the algorithm rules', are left to the tests of
    test_algorithm_tuning.py)."""
    (task, _) = program_tasks(conv_program(), host_device(1))
    assert task.workload == conv_workload()
    return tuple(s for s in task.proposed if not is_algorithm(s))


def test_extraction_picks_the_schedule_measured_fastest_against_the_model():
    program = conv_program()
    fast = conv_schedule(2, 1, 8, parallel="pixel")
    proposed = _proposed()
    assert fast not in proposed  # the analytical extraction cannot pick it: the tuner found it
    times = {s: 5e-5 for s in proposed} | {fast: 1e-5}
    module = ft.compile(program, threads=1, records=_records(times))
    assert _kernel(module).op.value == "tiled_conv2d" and tuple(schedule_of(_kernel(module)).items()) == fast
    (row,) = module.report["stages"]["extract"]["kernels"]
    assert row["priced_by"] == "measured" and row["seconds"] == 1e-5
    x = np.random.default_rng(1).standard_normal((1, 16, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)


def test_measurements_break_a_tie_of_the_analytical_model():
    a, b = conv_schedule(4, 1, 16, parallel="oc"), conv_schedule(4, 1, 16, parallel="pixel")
    info = infer_output(conv_workload())
    model = get_target("llvm").cost_model()
    priced = [model.node_cost(replace(info, op=Op.TILED_CONV2D, attrs=info.attrs + (("schedule", s),)))
              for s in (a, b)]
    assert priced[0] == priced[1]  # both loops split evenly and stream from L2: the model ties
    slower = {s: 5e-5 for s in _proposed()}
    for fast, slow in ((a, b), (b, a)):
        module = ft.compile(conv_program(), threads=1, records=_records(slower | {fast: 1e-5, slow: 2e-5}))
        assert tuple(schedule_of(_kernel(module)).items()) == fast


def test_unmeasured_contractions_are_scaled_and_other_ops_priced_by_the_model():
    """Among the direct kernel's schedules (the algorithm family's Winograd form is off), on an
    8-lane host: at 16 lanes the model prices another direct schedule below the measured one."""
    with eight_lanes():
        _unmeasured_contractions_are_scaled()


def _unmeasured_contractions_are_scaled():
    module = ft.compile(conv_program(), threads=1, records=_records({conv_schedule(4, 2, 16): 1e-5}),
                        disable=["algorithm"])
    rows = module.report["stages"]["extract"]["kernels"]
    assert [r["priced_by"] for r in rows] == ["measured"]
    assert module.report["stages"]["extract"]["model"].startswith("measured(1 kernels)")


def test_the_learned_model_prices_unmeasured_schedules_of_measured_workloads():
    from frittata.extract.measured import MeasuredCost
    from frittata.tuning.model import LearnedPrice
    from frittata.tuning.tasks import generated_space

    device = host_device(1)
    model = get_target("llvm").cost_model()
    info = infer_output(conv_workload())

    def tiled(s):
        return replace(info, op=Op.TILED_CONV2D, attrs=info.attrs + (("schedule", s),))

    space = generated_space(conv_workload(), device.lanes)
    measured = space[::7][:12]
    records = _records({s: 2 * model.node_cost(tiled(s)) for s in measured})
    price = LearnedPrice(list(records), device.lanes, device.threads)
    assert conv_workload().key in price.lines
    cost = MeasuredCost(records, device.key, model, device.lanes, price)
    unmeasured = [tiled(s) for s in space if s not in measured][:6]
    assert [cost.source(i) for i in unmeasured] == ["learned"] * 6
    assert all(0 < cost.node_cost(i) < 1.0 for i in unmeasured)
    assert cost.source(tiled(measured[0])) == "measured"


def _plain(size: int):
    """The plain conv2d of the layer of `conv_workload(size=size)` (no bias, no epilogue)."""
    fused = infer_output(conv_workload(size=size))
    attrs = tuple((k, v) for k, v in fused.attrs if k != "epilogue")
    return replace(fused, op=Op.CONV2D, attrs=attrs, operands=fused.operands[:2], constant_operands=(False, True))


def _tiled(workload, schedule):
    info = infer_output(workload)
    return replace(info, op=Op.TILED_CONV2D, attrs=info.attrs + (("schedule", schedule),))


def _at_ratio(model, workload, schedule, ratio: float) -> Record:
    """A record of `schedule` whose loops ran `ratio` times the model's price (its epilogue as priced)."""
    device = host_device(1)
    info = _tiled(workload, schedule)
    epilogue = model.epilogue_seconds(info)
    seconds = ratio * (model.node_cost(info) - epilogue) + epilogue
    return Record(workload, schedule, device.key, device.target(), seconds, None, 1.0)


def test_an_unmeasured_alternative_is_scaled_by_its_own_layers_measurements():
    """The plain conv2d of a measured layer (its bias and relu a separate pass) costs the
    analytical price times that layer's measured ratio, not the median of every layer's: with
    the median (here 0.5 from two measurements of another layer) it undercut the measured fused
    kernel (3x the model). A layer with no measurement takes the median."""
    from frittata.extract.measured import SCALED, MeasuredCost

    device = host_device(1)
    model = get_target("llvm").cost_model()
    layers = {12: 3.0, 24: 0.5}
    records = [_at_ratio(model, conv_workload(size=size), conv_schedule(oc, 1, 16, size=size), ratio)
               for size, ratio in layers.items() for oc in ((4, 8) if size == 24 else (4,))]
    cost = MeasuredCost(Records(records), device.key, model, device.lanes)
    assert cost.scale == pytest.approx(0.5)
    for size, ratio in (12, 3.0), (20, 0.5):
        info = _plain(size)
        assert cost.source(info) == SCALED
        assert cost.node_cost(info) == pytest.approx(model.node_cost(info) * ratio)


def test_a_scaled_contraction_takes_the_ratio_of_its_own_schedule_where_it_was_measured():
    """The plain conv2d runs its layer's default schedule: measured at 4x the model with that
    schedule, the layer's other schedules at 1x (their median 1x), the plain conv2d costs 4x."""
    from frittata.extract.measured import MeasuredCost
    from frittata.extract.records import workload_of

    device = host_device(1)
    model = get_target("llvm").cost_model()
    workload = conv_workload()
    (_, default), others = workload_of(infer_output(workload), device.lanes), [(4, 1, 16), (2, 1, 8), (8, 1, 16)]
    records = [_at_ratio(model, workload, default, 4.0)]
    records += [_at_ratio(model, workload, conv_schedule(*block), 1.0) for block in others]
    cost = MeasuredCost(Records(records), device.key, model, device.lanes)
    assert cost.node_cost(_plain(12)) == pytest.approx(4.0 * model.node_cost(_plain(12)))


def test_a_large_measured_ratio_never_unfuses_the_epilogue_into_a_separate_pass():
    """Every schedule of the layer measured at 200x the model: scaled by the same ratio, the fused
    epilogue cost 200x what the model says while the separate bias-and-relu pass of the plain
    conv2d costs what the model says, and extraction took conv2d + pass. The ratio calibrates the
    loops; the epilogue is priced as the model prices the pass, so the fused kernel stays."""
    model = get_target("llvm").cost_model()
    records = Records([_at_ratio(model, conv_workload(), s, 200.0) for s in _proposed()])
    module = ft.compile(conv_program(), threads=1, records=records, disable=["algorithm"])
    ops = {t.op for t in module.program.terms()}
    assert Op.CONV2D not in ops and ops & {Op.TILED_CONV2D, Op.FUSED_CONV2D}, ops


def test_a_schedule_replaces_the_default_only_when_measured_faster_by_more_than_the_margin():
    """The default measured at 50 us: another schedule at 49 us (2% faster, inside the noise)
    leaves the default; at 45 us (10% faster) it replaces it. Either way the ReLU stays fused (the
    same loops without it, scaled by their schedule's ratio, plus a separate ReLU pass undercut a
    margined fused kernel while the margin applied to measured prices only)."""
    from frittata.extract.measured import SWITCH_MARGIN
    from frittata.extract.records import workload_of

    device = host_device(1)
    default = workload_of(infer_output(conv_workload()), device.lanes)[1]
    other = conv_schedule(2, 1, 8, parallel="pixel")
    assert other != default and 0.98 > 1 / (1 + SWITCH_MARGIN) > 0.9
    for seconds, chosen in ((4.9e-5, default), (4.5e-5, other)):
        times = {s: 1e-4 for s in _proposed()} | {default: 5e-5, other: seconds}
        module = ft.compile(conv_program(), threads=1, records=_records(times), disable=["algorithm"])
        kernel = _kernel(module)
        assert (tuple(schedule_of(kernel).items()) if kernel.op == Op.TILED_CONV2D else default) == chosen
        assert dict(kernel.attrs)["epilogue"] == (("relu",),)  # the margin is no reason to unfuse


def test_a_verdict_of_the_in_network_check_pins_the_schedule_extraction_runs():
    """Another schedule measured 20% faster alone (which replaces the default without a verdict,
    as in the margin test above) runs the default when a verdict rejected it in the network and
    itself when a verdict kept it; the pinned workload's other schedules cost inf."""
    import math

    from frittata.extract.measured import MeasuredCost
    from frittata.extract.records import Verdict, workload_of

    device = host_device(1)
    default = workload_of(infer_output(conv_workload()), device.lanes)[1]
    other = conv_schedule(2, 1, 8, parallel="pixel")
    times = {s: 1e-4 for s in _proposed()} | {default: 5e-5, other: 4e-5}
    for kept, chosen in ((False, default), (True, other)):
        records = _records(times)
        records.append(Verdict(conv_workload(), device.key, other, default, kept, 0.1 if kept else -0.1, 0.01, 10, 2.0))
        module = ft.compile(conv_program(), threads=1, records=records, disable=["algorithm"])
        kernel = _kernel(module)
        assert (tuple(schedule_of(kernel).items()) if kernel.op == Op.TILED_CONV2D else default) == chosen
    model = get_target("llvm").cost_model()
    tiled = replace(infer_output(conv_workload()), op=Op.TILED_CONV2D)
    unfused = replace(tiled, attrs=tuple((k, () if k == "epilogue" else v) for k, v in tiled.attrs))
    for kept, pinned in ((True, other), (False, default)):
        records = _records(times)
        records.append(Verdict(conv_workload(), device.key, other, default, kept, 0.1 if kept else -0.1, 0.01, 10, 2.0))
        cost = MeasuredCost(records, device.key, model, device.lanes)
        for node in (tiled, unfused):  # the unfused variant of the layer obeys the verdict too
            priced = {s: cost.node_cost(replace(node, attrs=node.attrs + (("schedule", s),))) for s in (default, other)}
            assert [s for s, seconds in priced.items() if math.isinf(seconds)] == [s for s in priced if s != pinned]
    assert cost.node_cost(replace(tiled, attrs=tiled.attrs + (("schedule", default),))) == pytest.approx(5e-5)


def _clipped_workload():
    """A workload of the same contraction as `conv_workload` (its geometry) with another epilogue."""
    attrs = tuple((k, (("clip", 0.0, 6.0),) if k == "epilogue" else v) for k, v in conv_workload().attrs)
    return replace(conv_workload(), attrs=attrs)


def test_a_layer_is_pinned_only_where_the_verdicts_on_its_workloads_agree():
    """Two workloads of one geometry (ReLU and clip epilogues): verdicts that pin the same schedule
    pin the layer (its unfused variant too); verdicts that disagree pin each workload only, in
    whichever order they were logged, and the unfused variant, which no verdict covers, runs its
    default as any variant of measured loops without a verdict does."""
    import math

    from frittata.extract.measured import MeasuredCost
    from frittata.extract.records import Verdict, workload_of

    device = host_device(1)
    relu, clipped = conv_workload(), _clipped_workload()
    default = workload_of(infer_output(relu), device.lanes)[1]
    other = conv_schedule(2, 1, 8, parallel="pixel")
    measured = [Record(w, s, device.key, device.target(), t, None, 1.0)
                for w in (relu, clipped) for s, t in ((default, 5e-5), (other, 4e-5))]
    tiled = replace(infer_output(relu), op=Op.TILED_CONV2D)
    unfused = replace(tiled, attrs=tuple((k, () if k == "epilogue" else v) for k, v in tiled.attrs))
    clipped_tiled = replace(infer_output(clipped), op=Op.TILED_CONV2D)

    def pinned_out(cost, node):
        priced = {s: cost.node_cost(replace(node, attrs=node.attrs + (("schedule", s),))) for s in (default, other)}
        return {s for s, seconds in priced.items() if math.isinf(seconds)}

    model = get_target("llvm").cost_model()
    agree = Records(measured, [Verdict(w, device.key, other, default, True, 0.1, 0.01, 10, 2.0)
                               for w in (relu, clipped)])
    cost = MeasuredCost(agree, device.key, model, device.lanes)
    assert cost.pinned_layers == {layer_of(relu): other} and pinned_out(cost, unfused) == {default}
    kept = Verdict(relu, device.key, other, default, True, 0.1, 0.01, 10, 2.0)
    rejected = Verdict(clipped, device.key, other, default, False, -0.1, 0.01, 10, 3.0)
    for verdicts in ([kept, rejected], [rejected, kept]):
        cost = MeasuredCost(Records(measured, verdicts), device.key, model, device.lanes)
        assert cost.pinned_layers == {}
        assert (pinned_out(cost, tiled), pinned_out(cost, clipped_tiled), pinned_out(cost, unfused)) == \
            ({default}, {other}, {other})


def test_a_kept_verdict_whose_schedule_was_never_measured_here_pins_nothing():
    """The verdict's schedule has no successful record on this device: the compile ignores it and
    runs the workload's default, not its fastest measured schedule (no decided verdict kept that);
    best() does not drop the workload."""
    from frittata.extract.records import Verdict, workload_of

    device = host_device(1)
    default = workload_of(infer_output(conv_workload()), device.lanes)[1]
    other, never = conv_schedule(2, 1, 8, parallel="pixel"), conv_schedule(4, 1, 16)
    records = _records({s: 1e-4 for s in _proposed()} | {default: 5e-5, other: 4e-5}, free=False)
    records.append(Record(conv_workload(), never, device.key, device.target(), None, "build failed: no", 1.5))
    records.append(Verdict(conv_workload(), device.key, never, default, True, 0.1, 0.01, 10, 2.0))
    assert records.pinned(device.key) == {} and records.best(device.key)[conv_workload().key].schedule == other
    module = ft.compile(conv_program(), threads=1, records=records, disable=["algorithm"])
    assert _running(module) == default


def _running(module, workload=None) -> tuple:
    """The schedule the module's convolution (of `workload`, by default the relu one) runs (its
    default's when untiled)."""
    from frittata.extract.cost import term_infos
    from frittata.extract.records import workload_of

    infos = dict((id(t), info) for t, info in term_infos(module.program))
    found = workload_of(infos[id(_kernel(module))], host_device(1).lanes)
    assert found is not None and found[0] == (workload or conv_workload())
    return found[1]


def test_a_schedule_measured_faster_alone_replaces_the_default_only_by_a_decided_kept_verdict():
    """Without a verdict, or with one whose figures do not decide (an in-network check stopped
    early), the compile runs the default although another schedule measured 5x faster alone; a
    decided kept verdict runs that one. Before, extraction took the fastest measured alone."""
    from frittata.extract.records import MIN_PAIRS, Verdict, workload_of

    device = host_device(1)
    default = workload_of(infer_output(conv_workload()), device.lanes)[1]
    fast = conv_schedule(2, 1, 8, parallel="pixel")
    times = {s: 1e-4 for s in _proposed()} | {default: 5e-5, fast: 1e-5}
    undecided = Verdict(conv_workload(), device.key, fast, default, True, 0.1, 0.2, MIN_PAIRS, 2.0)
    kept = replace(undecided, noise=0.01)
    for verdicts, runs in (([], default), ([undecided], default), ([kept], fast)):
        records = _records(times, free=False)
        for verdict in verdicts:
            records.append(verdict)
        module = ft.compile(conv_program(), threads=1, records=records, disable=["algorithm"])
        assert _running(module) == runs, verdicts


def test_an_unmeasured_variant_of_a_held_workloads_loops_runs_its_default_too():
    """relu(conv + b) measured 5x faster alone with a proposed schedule, and no verdict: conv + b
    (the same loops, another epilogue: a workload never measured, whose tiled e-node of that
    schedule extraction prices by the measured layer's ratio) runs its default too."""
    from frittata.extract.records import workload_of

    default = workload_of(infer_output(conv_workload()), host_device(1).lanes)[1]
    fast = next(s for s in _proposed() if s != default)
    records = _records({default: 5e-5, fast: 1e-5}, free=False)
    relu = conv_program().outputs["y"]
    module = ft.compile(ft.Program({"y": relu.args[0]}), threads=1, records=records, disable=["algorithm"])
    plain = conv_workload()
    plain = replace(plain, attrs=tuple((k, () if k == "epilogue" else v) for k, v in plain.attrs))
    assert _running(module, plain) == default



def test_with_no_measurement_a_contraction_is_priced_as_the_model_prices_it():
    """No layer measured: the scale of an unmeasured contraction is 1, not a guess."""
    from frittata.extract.measured import SCALED, MeasuredCost

    device = host_device(1)
    model = get_target("llvm").cost_model()
    cost = MeasuredCost(Records([]), device.key, model, device.lanes)
    info = _plain(12)
    assert cost.source(info) == SCALED and cost.scale == 1.0
    assert cost.node_cost(info) == pytest.approx(model.node_cost(info), rel=1e-12)
