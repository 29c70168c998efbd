"""The in-network check's decisions on injected measurements (no timing), and its candidates."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from frittata.errors import TuningError
from frittata import terms as T
from frittata.extract.measured import layer_of
from frittata.extract.records import Record, Records, Verdict, Workload, infer_output, workload_of
from frittata.tuning.in_network import (KEPT, MIN_GAIN, MIN_PAIRS, REJECTED, Candidate, candidates, decide, run_rounds,
                                        unpinned)
from tests.eight_lane_host import eight_lanes
from tests.tuning.programs import conv_schedule, conv_workload

DEVICE = "llvm/test/8-lanes/1-threads/00000000"


def _spread(center: float, width: float, n: int) -> list[float]:
    """n ratios spread evenly over center +- width."""
    return [center - width + 2 * width * i / (n - 1) for i in range(n)]


def test_a_candidate_is_kept_only_when_it_wins_in_place_by_more_than_the_noise():
    assert decide(_spread(1.10, 0.02, 20))[0] == KEPT
    assert decide(_spread(0.90, 0.02, 20))[0] == REJECTED
    assert decide(_spread(1.005, 0.002, 20))[0] == REJECTED  # a gain below MIN_GAIN is no reason to switch
    assert decide(_spread(1.10, 0.6, 20))[0] is None  # +10% inside +-60% per round: undecided
    assert decide(_spread(1.10, 0.02, MIN_PAIRS - 1))[0] is None  # too few pairs
    verdict, gain, noise = decide(_spread(1.10, 0.6, 400))  # the median's interval narrows with rounds
    assert verdict == KEPT and abs(gain - 0.10) < 1e-9 and gain - noise > MIN_GAIN


def test_a_ratio_that_is_not_positive_and_finite_is_an_error_not_a_verdict():
    with pytest.raises(TuningError, match="positive finite ratios"):
        decide([1.1] * MIN_PAIRS + [math.inf])
    with pytest.raises(TuningError, match=r"seconds \(baseline, tuned\) of workload lost in round 0, got None"):
        run_rounds(["lost"], lambda n: {}, max_rounds=2)
    with pytest.raises(TuningError, match=r"of workload zero in round 1, got \(0.0, 0.0\)"):
        run_rounds(["zero"], lambda n: {"zero": (1e-4, 1e-4) if n % 2 == 0 else (0.0, 0.0)}, max_rounds=2)


def _rounds(ratios: dict[str, float], spread: dict[str, float]):
    """A `Round` whose baseline / tuned ratio of key k cycles over ratios[k] +- spread[k]."""
    cycle = {k: _spread(r, spread[k], 5) for k, r in ratios.items()}
    return lambda n: {k: (values[n % 5] * 1e-4, 1e-4) for k, values in cycle.items()}


def test_rounds_stop_when_every_candidate_is_decided_or_the_budget_or_the_time_is_spent():
    clear = _rounds({"win": 1.2, "loss": 0.8}, {"win": 0.02, "loss": 0.02})
    _, decisions, rounds, stop = run_rounds(["win", "loss"], clear, max_rounds=100)
    assert decisions == {"win": KEPT, "loss": REJECTED} and rounds == 2 * MIN_PAIRS
    assert stop == f"every candidate decided after {2 * MIN_PAIRS} rounds"
    noisy = _rounds({"win": 1.2, "noisy": 1.02}, {"win": 0.02, "noisy": 0.5})
    ratios, decisions, rounds, stop = run_rounds(["win", "noisy"], noisy, max_rounds=41)
    assert decisions == {"win": KEPT, "noisy": None} and rounds == 40 == 2 * len(ratios["noisy"])
    assert stop == "round budget spent (40 rounds)"  # whole pairs only: the 41st round is not run
    _, decisions, rounds, stop = run_rounds(["win"], clear, max_rounds=40, deadline=time.perf_counter() - 1)
    assert (decisions, rounds, stop) == ({"win": None}, 0, "time limit after 0 rounds")


def test_candidates_are_the_fastest_schedules_other_than_the_default_not_judged_before():
    workload = conv_workload()
    default = workload_of(infer_output(workload), 8)[1]
    fast, slow = conv_schedule(2, 1, 8, parallel="pixel"), conv_schedule(4, 1, 16)
    times = {default: 5e-5, fast: 4e-5, slow: 6e-5}
    log = Records([Record(workload, s, DEVICE, {}, t, None, 1.0) for s, t in times.items()])
    defaults = {workload.key: default}
    (found,) = candidates(log, DEVICE, defaults)
    assert (found.workload, found.default, found.schedule) == (workload, default, fast)
    assert candidates(log, "another device", defaults) == []
    log.append(Verdict(workload, DEVICE, fast, default, False, 0.01, 0.05, 30, 1.5))
    assert [c.schedule for c in candidates(log, DEVICE, defaults)] == [fast]  # an old log's undecided outcome
    log.append(Verdict(workload, DEVICE, fast, default, False, -0.1, 0.01, 30, 2.0))
    assert candidates(log, DEVICE, defaults) == []  # judged: not checked again
    log.append(Record(workload, slow, DEVICE, {}, 3e-5, None, 3.0))
    log.append(Record(workload, slow, DEVICE, {}, 3e-5, None, 4.0))
    assert [c.schedule for c in candidates(log, DEVICE, defaults)] == [slow]  # a new fastest is
    log.append(Verdict(workload, DEVICE, slow, default, True, 0.1, 0.01, 30, 5.0))
    quicker = conv_schedule(8, 1, 16)
    log.append(Record(workload, quicker, DEVICE, {}, 2e-5, None, 6.0))
    (found,) = candidates(log, DEVICE, defaults)  # timed against the kept schedule, not the untuned default
    assert (found.default, found.schedule) == (slow, quicker)
    only_default = Records([Record(workload, fast, DEVICE, {}, 4e-5, None, 1.0)])
    assert candidates(only_default, DEVICE, defaults) == []  # the default was never measured beside it


def test_the_check_times_a_candidate_in_the_network_logs_its_decision_and_the_compile_obeys_it(tmp_path):
    """A dense layer whose other schedule was 'measured' 20% faster alone: the check compiles the
    network with and without it and times both (which wins is the machine's to say); a decision
    is logged and a compile with the log runs the schedule it pins, correctly; no decision (no
    rounds, or undecided) is not logged, the compile runs the default (before, the schedule
    faster alone), and the candidate is offered again."""
    import numpy as np

    import frittata as ft
    from frittata.tuning import host_device
    from frittata.tuning.in_network import check_in_network
    from frittata.tuning.tuner import program_tasks

    rng = np.random.default_rng(0)
    program = _dense_program(rng, relus=(True,))
    device = host_device(1)
    task = program_tasks(program, device)[0]  # the fused dense + bias + ReLU the extraction uses
    default = workload_of(infer_output(task.workload), device.lanes)[1]
    other = next(s for s in task.space(device.lanes) if s != default)
    log = Records([Record(task.workload, s, device.key, device.target(), t, None, 1.0)
                   for s, t in ((default, 5e-5), (other, 4e-5))])
    path = tmp_path / "log.jsonl"
    log.save(path)
    none = check_in_network(program, log, device, path, time_limit=0.0)
    assert (none.rounds, none.verdicts, Records.load(path).verdicts) == (0, [], [])
    assert none.decisions == {task.workload.key: None} and "undecided" in str(none)
    report = check_in_network(program, log, device, path, max_rounds=6 * MIN_PAIRS)  # offered again
    assert report.timed == [Candidate(task.workload, default, other)] and not report.skipped
    decision, logged = report.decisions[task.workload.key], Records.load(path).verdicts
    assert logged == report.verdicts and len(logged) == (decision is not None)
    assert [(v.candidate, v.default, v.kept, v.rounds) for v in logged] == \
        [(other, default, decision == KEPT, report.rounds)][:len(logged)]
    assert 2 * MIN_PAIRS <= report.rounds <= 6 * MIN_PAIRS and report.rounds % 2 == 0
    assert report.stop.startswith(("every candidate decided", "round budget spent"))
    runs = logged[0].schedule if logged else default  # undecided: it keeps its schedule, as the report says
    module = ft.compile(program, threads=1, records=path)
    (row,) = module.report["stages"]["extract"]["kernels"]
    assert (dict(default) if row["schedule"] == "default" else row["schedule"]) == dict(runs)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y0"], ft.evaluate(program, {"x": x})["y0"], rtol=1e-4, atol=1e-4)
    # A new fastest schedule is checked although a verdict pins the workload, against the pinned
    # schedule: the tuned network is compiled without that verdict, so extraction can choose it.
    third = next(s for s in task.space(device.lanes) if s not in (default, other))
    log.append(Record(task.workload, third, device.key, device.target(), 3e-5, None, 3.0), path)
    again = check_in_network(program, log, device, path, max_rounds=2 * MIN_PAIRS)
    baseline = logged[0].schedule if logged else default
    assert again.timed == [Candidate(task.workload, baseline, third)] and not again.skipped


@pytest.fixture
def eight_lane_host():
    """The test on an 8-lane host (`eight_lanes`): its layer's untuned default is the model's pick
    at 8 lanes (under `-p tests.sixteen_lane_host` the candidates differ)."""
    with eight_lanes():
        yield


def test_the_check_times_a_candidate_against_the_default_a_compile_with_the_records_runs(eight_lane_host):
    """A 1x1 layer whose untuned default (the model's pick, a tiling row) is recorded only as an
    error: a compile with the records runs the model's next pick among the schedules the e-graph
    holds (another tiling row), and the in-network check, given only the program, times the
    fastest schedule against that same one. Before, the check without the tuner's defaults chose
    the default among the untiled kernel and the recorded algorithms (none here): the untiled
    kernel, which the compile never runs."""
    import frittata as ft
    from frittata.extract.algorithms import untuned_schedule
    from frittata.extract.cost import term_infos
    from frittata.extract.cpu_model import CpuModel
    from frittata.tuning import host_device
    from frittata.tuning.in_network import check_in_network
    from frittata.tuning.tasks import program_tasks

    rng = np.random.default_rng(0)
    w = T.param("w", (rng.standard_normal((192, 32, 1, 1)) * 0.1).astype(np.float32))
    b = T.reshape(T.param("b", rng.standard_normal(192).astype(np.float32)), (1, 192, 1, 1))
    program = ft.Program({"y": T.relu(T.add(T.conv2d(T.var("x", (1, 32, 14, 14)), w), b))})
    device = host_device(1)
    (task,) = [t for t in program_tasks(program, device) if t.in_program]
    untiled = workload_of(infer_output(task.workload), device.lanes)[1]
    held = untuned_schedule(task.workload, device.lanes, CpuModel.for_host(), [s for s in task.proposed
                                                                               if s != task.default])
    assert len({untiled, task.default, held}) == 3  # the model prefers two tiling rows to the untiled kernel
    fastest = next(s for s in task.proposed if s not in (untiled, task.default, held))
    times = {s: 6e-5 for s in task.proposed if s != task.default} | {held: 5e-5, fastest: 2e-5}
    records = Records([Record(task.workload, s, device.key, device.target(), t, None, 1.0) for s, t in times.items()])
    records.append(Record(task.workload, task.default, device.key, device.target(), None, "wrong result", 1.0))
    module = ft.compile(program, threads=1, records=records)
    assert [found[1] for found in (workload_of(i, device.lanes) for _, i in term_infos(module.program)) if found] \
        == [held]
    report = check_in_network(program, records, device, time_limit=0.0)
    assert report.timed == [Candidate(task.workload, held, fastest)]


def _dense_program(rng, relus: tuple[bool, ...]):
    """relu?(dense(x, w_i) + b_i) per entry of `relus`, all of one geometry (x: 4 x 64, w: 96 x 64)."""
    import frittata as ft
    from frittata import terms as T

    outputs = {}
    for i, relu in enumerate(relus):
        w = T.param(f"w{i}", (rng.standard_normal((96, 64)) * 0.1).astype(np.float32))
        b = T.param(f"b{i}", rng.standard_normal(96).astype(np.float32))
        y = T.add(T.dense(T.var("x", (4, 64)), w), b)
        outputs[f"y{i}"] = T.relu(y) if relu else y
    return ft.Program(outputs)


def test_a_layer_is_timed_by_its_own_kernels_not_by_another_workload_of_its_geometry():
    """Two dense layers of one geometry (with and without ReLU): the candidate's steps are its own
    kernel's, not the other workload's; of two candidates of one geometry one check times the first."""
    import frittata as ft
    from frittata.tuning import host_device
    from frittata.tuning.in_network import _layer_steps, _timeable
    from frittata.tuning.tuner import program_tasks

    program = _dense_program(np.random.default_rng(0), relus=(True, False))
    device = host_device(1)
    first, second = (t.workload for t in program_tasks(program, device))
    assert layer_of(first) == layer_of(second) and first.key != second.key
    module = ft.compile(program, threads=1)
    default = workload_of(infer_output(first), device.lanes)[1]
    one = Candidate(first, default, default)
    (steps,) = _layer_steps(module, [one], {second.key}, device.lanes)
    assert len(steps) == 1  # its kernel (fused with bias and ReLU); the other layer's is not counted
    two = Candidate(second, default, default)
    chosen, skipped = _timeable([one, two], {(first.key, default), (second.key, default)})
    assert chosen == [one] and skipped == {str(second): "another candidate of its contraction is timed first; "
                                                        "offered again next check"}
    chosen, skipped = _timeable([one, two], {(second.key, default)})
    assert chosen == [two] and skipped == {str(first): "extraction did not choose it in the tuned network"}


def test_a_layer_the_network_runs_only_as_another_tuned_workload_is_timed_by_its_contraction():
    """One dense layer with ReLU: the module runs it fused (a tuned workload), so a candidate of its
    bias-only workload has no step of its own; loose, its layer is the fused kernel."""
    import frittata as ft
    from frittata.tuning import host_device
    from frittata.tuning.in_network import _layer_steps
    from frittata.tuning.tuner import program_tasks

    program = _dense_program(np.random.default_rng(0), relus=(True,))
    device = host_device(1)
    fused, plain = sorted((t.workload for t in program_tasks(program, device)),
                          key=lambda w: -len(dict(w.attrs)["epilogue"]))
    module = ft.compile(program, threads=1)
    default = workload_of(infer_output(plain), device.lanes)[1]
    candidate = Candidate(plain, default, default)
    assert _layer_steps(module, [candidate], {fused.key}, device.lanes) == [[]]
    (steps,) = _layer_steps(module, [candidate], {fused.key}, device.lanes, loose={0})
    assert len(steps) == 1 and _layer_steps(module, [Candidate(fused, default, default)], {plain.key},
                                            device.lanes) == [steps]


def test_the_tuned_network_leaves_out_verdicts_on_the_candidates_layers_not_only_their_workloads():
    workload = conv_workload()
    attrs = tuple((k, (("clip", 0.0, 6.0),) if k == "epilogue" else v) for k, v in workload.attrs)
    clipped, wider = Workload(workload.op, workload.operands, workload.constant, attrs), conv_workload(channels=8)
    default, fast = workload_of(infer_output(workload), 8)[1], conv_schedule(2, 1, 8, parallel="pixel")
    on = [Verdict(w, DEVICE, fast, default, False, -0.1, 0.01, 30, 2.0) for w in (workload, clipped, wider)]
    free = unpinned(Records([], on), [Candidate(workload, default, fast)])
    assert free.verdicts == [on[2]]  # the clipped workload's verdict pins the same contraction
    assert free.free == {workload.key}  # extraction may choose the candidate's schedules, no other's


def test_a_ratio_is_taken_over_a_pair_of_rounds_so_the_cost_of_running_first_cancels():
    """Whichever module runs first takes 20% longer, the layer's own time being equal: a ratio
    per round would alternate 1.2 and 1/1.2 (undecided); per pair it is 1 (rejected, no gain)."""
    def first_pays(n: int) -> dict[str, tuple[float, float]]:
        return {"same": (1.2e-4, 1e-4) if n % 2 == 0 else (1e-4, 1.2e-4)}

    ratios, decisions, rounds, _ = run_rounds(["same"], first_pays, max_rounds=100)
    assert ratios["same"] == [1.0] * MIN_PAIRS and decisions == {"same": REJECTED} and rounds == 2 * MIN_PAIRS
