"""`tune` end to end on one small convolution: records logged, resume skips what was measured,
and a compile with the records runs the measured-best kernel correctly."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

import frittata as ft
from frittata.extract.records import Records
from tests.eight_lane_host import eight_lanes
from tests.tuning.programs import conv_program


@pytest.fixture
def eight_lane_host():
    """The test on an 8-lane host (`eight_lanes`): what it expects is the model's pick at 8 lanes."""
    with eight_lanes():
        yield


def test_tune_logs_records_resumes_without_remeasuring_and_compiles_with_them(local_run, tmp_path):
    first_log, first, seen = local_run
    assert first.trials == 4 and len(Records.load(first_log)) == 4
    assert seen[-1] == (4, 4) and [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert first.stop in ("trial budget spent (4)", "every task stopped")
    path = tmp_path / "resumed.jsonl"
    shutil.copy(first_log, path)
    program = conv_program()
    second = ft.tune(program, trials=3, records=path, batch=3, threads=1, search="learned", confirm=False)
    log = Records.load(path)
    tried = [(r.workload.key, r.schedule) for r in log]
    assert len(log) == 7 and len(set(tried)) == 7  # nothing measured twice
    assert sum(t.resumed for t in second.tasks) >= first.tasks[0].trials
    assert all(r.ok for r in log), [r.error for r in log if not r.ok]
    module = ft.compile(program, threads=1, records=path)
    rows = module.report["stages"]["extract"]["kernels"]
    # Priced through the records: by a measurement, or (an untiled conv2d is not a recorded
    # workload) by the roofline scaled to the measurements. Which of the two wins depends on the
    # measured times, which are noisy on a shared machine (CI picked the plain conv2d once);
    # tests/extract/test_measured.py checks the choice itself on fixed records.
    assert rows and all(row["priced_by"] in ("measured", "learned", "model x scale") for row in rows), rows
    x = np.random.default_rng(2).standard_normal((1, 16, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)


class _FixedRunner:
    """Answers every job with the same time: what the tune command does with a measurement is
    under test, not the machine (a live time decided which kernel the compile chose)."""

    name = "fixed"
    SECONDS = 5e-5

    def run(self, jobs):
        from frittata.tuning.measure import Result

        return [Result(self.SECONDS, None) for _ in jobs]

    def close(self) -> None:
        """Nothing to release."""


class _ByScheduleRunner:
    """Answers the default schedule with 50 us and every other with 40 us (nothing measured)."""

    name = "by schedule"

    def __init__(self, default) -> None:
        self.default = default

    def run(self, jobs):
        from frittata.tuning.measure import Result

        return [Result(5e-5 if job.schedule == self.default else 4e-5, None) for job in jobs]

    def close(self) -> None:
        """Nothing to release."""


def test_a_best_other_than_the_default_is_measured_again_beside_the_default(eight_lane_host, tmp_path):
    """4 trials (the default first: the Winograd form the analytical model picks here): the best
    is another schedule, so the task ends with one more measurement of it, then one of the
    default; with `confirm=False` it does not."""
    from frittata.extract.records import is_algorithm
    from frittata.tuning import host_device
    from frittata.tuning.tuner import program_tasks

    default = program_tasks(conv_program(), host_device(1))[0].default
    assert default is not None and is_algorithm(default)
    for confirm, extra in ((True, 2), (False, 0)):
        path = tmp_path / f"confirm-{confirm}.jsonl"
        report = ft.tune(conv_program(), trials=4, records=path, batch=2, threads=1, search="random",
                         runner=_ByScheduleRunner(default), max_tasks=1, confirm=confirm)
        (task,) = report.tasks
        log = Records.load(path).records
        assert task.trials == 4 and task.confirmed == extra and len(log) == 4 + extra
        assert log[0].schedule == default and task.best_schedule != default
        assert [r.schedule for r in log[4:]] == [task.best_schedule, default][:extra]
        assert ("2 confirmed" in str(report)) == confirm
        # Confirmed, the best is then checked in the compiled network (which runs Winograd here).
        assert (report.network is not None) == confirm and ("in-network check:" in str(report)) == confirm
    late = ft.tune(conv_program(), trials=4, records=tmp_path / "late.jsonl", threads=1, search="random",
                   runner=_ByScheduleRunner(default), max_tasks=1, time_limit=0.0)
    assert late.network is not None and "in-network check: not run (time limit)" in str(late)


def test_the_tune_command_refuses_to_overwrite_a_log_and_resumes_it(local_run, tmp_path, capsys, monkeypatch):
    from dataclasses import replace

    from frittata.cli import main

    path = tmp_path / "cli.jsonl"
    Records([replace(r, seconds=1e-4) for r in Records.load(local_run[0])]).save(path)
    assert main(["tune", "zoo:mlp", "--records", str(path), "--trials", "1"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    monkeypatch.setattr("frittata.tuning.tuner.LocalRunner", _FixedRunner)
    assert main(["-q", "tune", "zoo:mlp", "--records", str(path), "--trials", "1", "--resume",
                 "--threads", "1"]) == 0
    assert "1 trials" in capsys.readouterr().out and len(Records.load(path)) == 5
    (added,) = Records.load(path).records[4:]
    assert added.workload.op == "fused_dense" and added.seconds == _FixedRunner.SECONDS
    assert main(["-q", "compile", "zoo:mlp", "--records", str(path), "--report", "--threads", "1"]) == 0
    kernels = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("kernel ")]
    measured = [k for k in kernels if k[-1] == "measured"]
    assert measured == [["kernel", "fused_dense", "float32[1,", "512]", "0.050", "ms", "priced", "by", "measured"]]


def test_the_tune_command_offers_every_search(capsys):
    """`frittata tune --search` names the tuner's searches (the CLI does not import the tuner to
    parse its arguments, so the list is written there again)."""
    from frittata.cli import main
    from frittata.tuning.tuner import SEARCHES

    assert main(["tune", "--help"]) == 0
    usage = capsys.readouterr().out
    assert "{" + ",".join(SEARCHES) + "}" in usage


def test_tuning_curves_are_written_as_png_and_svg(local_run, tmp_path):
    import pytest

    from frittata.errors import TuningError
    from frittata.tuning.plot import plot_curves

    report = local_run[1]
    assert len(report.tasks[0].curve) == report.tasks[0].trials
    for name in ("curve.png", "curve.svg"):
        plot_curves({"random": report, "by hand": [1.0, 2.0, 2.0]}, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(TuningError, match="ending in"):
        plot_curves({"random": report}, tmp_path / "curve.pdf")


def test_a_replay_answers_from_the_log_and_an_unrecorded_candidate_is_an_error_record(local_run, tmp_path):
    from frittata.tuning import RecordedRunner, host_device

    table = Records.load(local_run[0])
    device = host_device(1).key
    runner = RecordedRunner(table, device)
    replayed = ft.tune(conv_program(), trials=6, records=tmp_path / "replay.jsonl", batch=2, threads=1,
                       search="random", runner=runner, confirm=False)
    logged = {(r.workload.key, r.schedule): r.seconds for r in table}
    answered = Records.load(tmp_path / "replay.jsonl")
    assert replayed.trials == 6 and len(answered) == 6
    for record in answered:
        if (record.workload.key, record.schedule) in logged:
            assert record.ok and record.seconds == logged[record.workload.key, record.schedule]
        else:
            assert not record.ok and "expected a record of this candidate" in str(record.error)
    assert sum(r.ok for r in answered) == len(table)  # both runs measure the proposed schedules first


class _ByWorkloadRunner:
    """Answers every candidate of a workload with that workload's time (nothing to gain in a task)."""

    name = "by workload"

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def run(self, jobs):
        from frittata.tuning.measure import Result

        return [Result(self.seconds[job.workload.key], None) for job in jobs]

    def close(self) -> None:
        """Nothing to release."""


def _tasks(figures, device):
    """A task per (count, FLOPs, model seconds), each a distinct small convolution, its default proposed."""
    from frittata.extract.records import infer_output, workload_of
    from frittata.tuning.tasks import Task
    from tests.tuning.programs import conv_workload

    shapes = [(16, 32, 12), (16, 32, 10), (8, 16, 12), (8, 16, 10)]
    tasks = []
    for shape, (count, flops, model_seconds) in zip(shapes, figures):
        workload = conv_workload(*shape)
        default = workload_of(infer_output(workload), device.lanes)[1]
        tasks.append(Task(workload, (default,), count, flops, model_seconds, default))
    return tasks


def test_trials_go_to_the_program_tasks_by_their_measured_time_in_the_network(eight_lane_host):
    """Three tasks of the program and a variant it does not run, the variant priced costliest by
    the model and the program's tasks priced against their measured times: every program task
    gets its first batch, then the budget follows count x measured time, and the variant gets
    nothing while the program's tasks have candidates left."""
    from dataclasses import replace

    from frittata.tuning import host_device
    from frittata.tuning.tuner import tune_tasks

    device = host_device(1)
    # (count, model seconds, measured seconds): model seconds rank the tasks the other way round;
    # all at the same low FLOP/s, so none is held back by its family's best rate
    figures = [(1, 1e-6, 1e-4), (2, 1e-5, 4e-4), (1, 1e-4, 1.6e-3), (1, 1e-3, 1e-2)]
    tasks = _tasks([(count, 1.0, model) for count, model, _ in figures], device)
    tasks[-1] = replace(tasks[-1], in_program=False)
    runner = _ByWorkloadRunner({t.workload.key: seconds for t, (_, _, seconds) in zip(tasks, figures)})
    report = tune_tasks(tasks, device, Records(), runner, trials=48, batch=4)
    trials = [t.trials for t in report.tasks]
    assert sum(trials) == 48 and all(n >= 2 for n in trials[:3]) and trials[3] == 0, trials
    # network seconds 1e-4, 8e-4, 1.6e-3: trials in about that proportion (one batch's rounding)
    assert trials[0] < trials[1] < trials[2] and trials[2] >= 2 * trials[1] - 4, trials
    assert "the run stopped: trial budget spent (48)" in str(report)


def test_a_resumed_run_shares_its_trials_like_one_straight_run_of_the_same_total():
    """A run of 24 trials then a resumed one of 24 more on the same log give each task what one
    run of 48 gives: the resumed run does not measure a full batch of every task in task order
    (the first batches, the tasks' proposed schedules, are in the log already)."""
    from frittata.tuning import host_device
    from frittata.tuning.tuner import tune_tasks

    device = host_device(1)
    figures = [(1, 1e-3, 1e-2), (1, 1e-4, 1e-4), (1, 1e-4, 1e-4), (1, 1e-4, 1e-4)]
    tasks = _tasks([(count, 1.0, model) for count, model, _ in figures], device)
    runner = _ByWorkloadRunner({t.workload.key: seconds for t, (_, _, seconds) in zip(tasks, figures)})
    straight = tune_tasks(tasks, device, Records(), runner, trials=48, batch=8)
    log = Records()
    first = tune_tasks(tasks, device, log, runner, trials=24, batch=8)
    resumed = tune_tasks(tasks, device, log, runner, trials=24, batch=8)
    split = [a.trials + b.trials for a, b in zip(first.tasks, resumed.tasks)]
    assert split == [t.trials for t in straight.tasks], (split, [t.trials for t in straight.tasks])
    assert [t.resumed for t in resumed.tasks] == [t.trials for t in first.tasks]


def test_a_task_far_below_its_familys_best_rate_gets_more_and_the_fastest_is_not_starved():
    """Two tasks of one family and equal time in the network, at 100 and 10 GFLOP/s: the slow one,
    whose time could fall to BETA x its work at the family's best rate, gets every trial after the
    first batches (Ansor's family term only raises a task's optimism). A family's fastest task
    holding 99% of the network's time keeps its share: its optimism is its best over its trials."""
    from frittata.tuning import host_device
    from frittata.tuning.tuner import tune_tasks

    device = host_device(1)
    tasks = _tasks([(1, 1e8, 1e-3), (1, 1e7, 1e-3)], device)
    runner = _ByWorkloadRunner({t.workload.key: 1e-3 for t in tasks})
    report = tune_tasks(tasks, device, Records(), runner, trials=24, batch=4)
    fast, slow = report.tasks
    assert fast.trials == len(tasks[0].first) == 2 and slow.trials == 22  # the default and its twin
    # HOT: 1e9 FLOPs in 10 ms (the family's best rate), SMALL 1e6 FLOPs in 0.1 ms: HOT's optimism
    # 10 ms / t stays above SMALL's 0.1 ms - 2 x 1e6 / 1e11 s = 80 us for 125 trials
    tasks = _tasks([(1, 1e9, 1e-2), (1, 1e6, 1e-4)], device)
    runner = _ByWorkloadRunner({t.workload.key: t.model_seconds for t in tasks})
    report = tune_tasks(tasks, device, Records(), runner, trials=40, batch=4)
    assert [t.trials for t in report.tasks] == [38, 2]
    # alone in their families (a convolution, a depthwise one), neither is held back by its own rate
    alone = [tasks[0], _depthwise_task(device)]
    runner = _ByWorkloadRunner({t.workload.key: 1e-3 for t in alone})
    report = tune_tasks(alone, device, Records(), runner, trials=24, batch=4)
    assert all(t.trials >= 8 for t in report.tasks), [t.trials for t in report.tasks]


def test_a_task_best_on_winograd_sets_no_rate_for_its_family():
    """Winograd computes fewer FLOPs than the direct convolution a task's FLOPs count: its rate
    (ResNet-18's 3x3 layers read 220-260 GFLOP/s, above one core's FMA peak) would make every
    direct-run task of the family look far from what it can reach. Run direct, it counts."""
    from frittata.tuning import host_device
    from frittata.tuning.tuner import TaskReport, _family_rates, _TaskSearch

    wide, narrow = _tasks([(1, 1e9, 1e-3), (1, 1e8, 1e-3)], host_device(1))
    winograd = (("kernel", "winograd"), ("tile", 4))
    searches = [_TaskSearch(TaskReport(wide, trials=4, best_seconds=1e-3, best_schedule=winograd), [], 0),
                _TaskSearch(TaskReport(narrow, trials=4, best_seconds=1e-3, best_schedule=narrow.default), [], 0)]
    keys = (wide.workload.key, narrow.workload.key)
    assert [_family_rates(searches)[k] for k in keys] == [1e11, 1e11]
    searches[0].report.best_schedule = wide.default
    assert [_family_rates(searches)[k] for k in keys] == [1e12, 1e12]


def test_a_tasks_priority_is_its_count_times_its_last_gain_and_its_optimism_weighted_by_alpha():
    """Best 1 ms after 4 trials, its last batch 0.1 ms per trial better, 3 in the network:
    3 x (0.2 x 0.1 ms + 0.8 x 1 ms / 4); with a family best rate of 1e10 FLOP/s over its 1e6
    FLOPs, the optimism 1 ms - 2 x 0.1 ms instead."""
    from frittata.tuning import host_device
    from frittata.tuning.tuner import TaskReport, _Session, _TaskSearch

    task = _tasks([(3, 1e6, 1e-3)], host_device(1))[0]
    search = _TaskSearch(TaskReport(task, trials=4, best_seconds=1e-3), [], 0, gain=1e-4)
    key = task.workload.key
    assert math.isclose(_Session._priority(search, {key: 0.0}), 3 * (0.2 * 1e-4 + 0.8 * 1e-3 / 4))
    assert math.isclose(_Session._priority(search, {key: 1e10}), 3 * (0.2 * 1e-4 + 0.8 * (1e-3 - 2e-4)))


def test_a_task_whose_every_candidate_fails_stops_after_its_first_batch():
    """A task priced 5x its peer by the model, every candidate of it an error: it stops ("every
    candidate failed") after its first batch and the rest of the budget goes to its peer."""
    from frittata.tuning import host_device
    from frittata.tuning.measure import Result
    from frittata.tuning.tuner import tune_tasks

    device = host_device(1)
    tasks = _tasks([(1, 1e6, 5e-3), (1, 1e6, 1e-3)], device)

    class Failing(_ByWorkloadRunner):
        def run(self, jobs):
            return [Result(None, "crash") if job.workload.key == tasks[0].workload.key
                    else Result(self.seconds[job.workload.key], None) for job in jobs]

    report = tune_tasks(tasks, device, Records(), Failing({tasks[1].workload.key: 1e-3}), trials=40, batch=4)
    failing, other = report.tasks
    assert (failing.trials, failing.errors, other.trials) == (2, 2, 38)
    assert failing.stop == "every candidate failed (2 errors)"


def _depthwise_task(device):
    """A 3x3 depthwise convolution of 16 channels at 12x12 (10 MFLOP/s at 1 ms), its default proposed."""
    from frittata.extract.records import Workload, infer_output, workload_of
    from frittata.tuning.tasks import Task

    attrs = (("strides", (1, 1)), ("pads", (1, 1, 1, 1)), ("dilations", (1, 1)), ("groups", 16), ("epilogue", ()))
    operands = (((1, 16, 12, 12), "float32"), ((16, 1, 3, 3), "float32"), ((16,), "float32"))
    workload = Workload("fused_conv2d", operands, (False, True, True), attrs)
    default = workload_of(infer_output(workload), device.lanes)[1]
    return Task(workload, (default,), 1, 1e7, 1e-3, default)
