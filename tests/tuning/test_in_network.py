"""The in-network check's decisions on injected measurements (no timing), and its candidates."""

from __future__ import annotations

import time

from frittata.extract.records import Record, Records, Verdict, Workload, infer_output, workload_of
from frittata.tuning.in_network import (KEPT, MIN_GAIN, MIN_ROUNDS, REJECTED, Candidate, candidates, decide, run_rounds,
                                        unpinned)
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
    assert decide(_spread(1.10, 0.02, MIN_ROUNDS - 1))[0] is None  # too few rounds
    verdict, gain, noise = decide(_spread(1.10, 0.6, 400))  # the median's interval narrows with rounds
    assert verdict == KEPT and abs(gain - 0.10) < 1e-9 and gain - noise > MIN_GAIN


def _rounds(ratios: dict[str, float], spread: dict[str, float]):
    """A `Round` whose baseline / tuned ratio of key k cycles over ratios[k] +- spread[k]."""
    cycle = {k: _spread(r, spread[k], 5) for k, r in ratios.items()}
    return lambda n: {k: (values[n % 5] * 1e-4, 1e-4) for k, values in cycle.items()}


def test_rounds_stop_when_every_candidate_is_decided_or_the_budget_or_the_time_is_spent():
    clear = _rounds({"win": 1.2, "loss": 0.8}, {"win": 0.02, "loss": 0.02})
    _, decisions, rounds, stop = run_rounds(["win", "loss"], clear, max_rounds=100)
    assert decisions == {"win": KEPT, "loss": REJECTED} and rounds == MIN_ROUNDS
    assert stop == f"every candidate decided after {MIN_ROUNDS} rounds"
    noisy = _rounds({"win": 1.2, "noisy": 1.02}, {"win": 0.02, "noisy": 0.5})
    ratios, decisions, rounds, stop = run_rounds(["win", "noisy"], noisy, max_rounds=40)
    assert decisions == {"win": KEPT, "noisy": None} and rounds == 40 == len(ratios["noisy"])
    assert stop == "round budget spent (40)"
    _, decisions, rounds, stop = run_rounds(["win"], clear, max_rounds=40, deadline=time.perf_counter() - 1)
    assert (decisions, rounds, stop) == ({"win": None}, 0, "time limit after 0 rounds")


def test_candidates_are_the_fastest_schedules_other_than_the_default_not_judged_before():
    workload = conv_workload()
    default = workload_of(infer_output(workload), 8)[1]
    fast, slow = conv_schedule(2, 1, 8, parallel="pixel"), conv_schedule(4, 1, 16)
    times = {default: 5e-5, fast: 4e-5, slow: 6e-5}
    log = Records([Record(workload, s, DEVICE, {}, t, None, 1.0) for s, t in times.items()])
    (found,) = candidates(log, DEVICE, 8)
    assert (found.workload, found.default, found.schedule) == (workload, default, fast)
    assert candidates(log, "another device", 8) == []
    log.append(Verdict(workload, DEVICE, fast, default, False, -0.1, 0.01, 30, 2.0))
    assert candidates(log, DEVICE, 8) == []  # judged: not checked again
    log.append(Record(workload, slow, DEVICE, {}, 3e-5, None, 3.0))
    log.append(Record(workload, slow, DEVICE, {}, 3e-5, None, 4.0))
    assert [c.schedule for c in candidates(log, DEVICE, 8)] == [slow]  # a new fastest is
    log.append(Verdict(workload, DEVICE, slow, default, True, 0.1, 0.01, 30, 5.0))
    quicker = conv_schedule(8, 1, 16)
    log.append(Record(workload, quicker, DEVICE, {}, 2e-5, None, 6.0))
    (found,) = candidates(log, DEVICE, 8)  # timed against the kept schedule, not the untuned default
    assert (found.default, found.schedule) == (slow, quicker)
    only_default = Records([Record(workload, fast, DEVICE, {}, 4e-5, None, 1.0)])
    assert candidates(only_default, DEVICE, 8) == []  # the default was never measured beside it


def test_the_check_times_a_candidate_in_the_network_logs_its_verdict_and_the_compile_obeys_it(tmp_path):
    """A dense layer whose other schedule was 'measured' 20% faster alone: the check compiles the
    network with and without it, times both (which wins is the machine's to say), logs one
    verdict, and a compile with the log runs the schedule the verdict pins, correctly."""
    import numpy as np

    import frittata as ft
    from frittata import terms as T
    from frittata.tuning import host_device
    from frittata.tuning.in_network import check_in_network
    from frittata.tuning.tuner import program_tasks

    rng = np.random.default_rng(0)
    w = T.param("w", (rng.standard_normal((96, 64)) * 0.1).astype(np.float32))
    b = T.param("b", rng.standard_normal(96).astype(np.float32))
    program = ft.Program({"y": T.relu(T.add(T.dense(T.var("x", (4, 64)), w), b))})
    device = host_device(1)
    task = program_tasks(program, device)[0]  # the fused dense + bias + ReLU the extraction uses
    default = workload_of(infer_output(task.workload), device.lanes)[1]
    other = next(s for s in task.space(device.lanes) if s != default)
    log = Records([Record(task.workload, s, device.key, device.target(), t, None, 1.0)
                   for s, t in ((default, 5e-5), (other, 4e-5))])
    path = tmp_path / "log.jsonl"
    log.save(path)
    report = check_in_network(program, log, device, path, max_rounds=3 * MIN_ROUNDS)
    (verdict,) = Records.load(path).verdicts
    assert (verdict.candidate, verdict.default, verdict.rounds) == (other, default, report.rounds)
    assert report.verdicts == [verdict] and MIN_ROUNDS <= report.rounds <= 3 * MIN_ROUNDS
    assert report.stop.startswith(("every candidate decided", "round budget spent"))
    module = ft.compile(program, threads=1, records=path)
    (row,) = module.report["stages"]["extract"]["kernels"]
    assert (dict(default) if row["schedule"] == "default" else row["schedule"]) == dict(verdict.schedule)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)
    # A new fastest schedule is checked although a verdict pins the workload: the tuned network
    # is compiled without that verdict, so extraction can choose the new candidate.
    third = next(s for s in task.space(device.lanes) if s not in (default, other))
    log.append(Record(task.workload, third, device.key, device.target(), 3e-5, None, 3.0), path)
    again = check_in_network(program, log, device, path, max_rounds=MIN_ROUNDS)
    assert [v.candidate for v in again.verdicts] == [third] and not again.skipped


def test_the_tuned_network_leaves_out_verdicts_on_the_candidates_layers_not_only_their_workloads():
    workload = conv_workload()
    attrs = tuple((k, (("clip", 0.0, 6.0),) if k == "epilogue" else v) for k, v in workload.attrs)
    clipped, wider = Workload(workload.op, workload.operands, workload.constant, attrs), conv_workload(channels=8)
    default, fast = workload_of(infer_output(workload), 8)[1], conv_schedule(2, 1, 8, parallel="pixel")
    on = [Verdict(w, DEVICE, fast, default, False, -0.1, 0.01, 30, 2.0) for w in (workload, clipped, wider)]
    free = unpinned(Records([], on), [Candidate(workload, default, fast)])
    assert free.verdicts == [on[2]]  # the clipped workload's verdict pins the same contraction
