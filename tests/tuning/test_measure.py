"""Measuring candidates in worker processes: checked against the interpreter, failures recorded."""

from __future__ import annotations

from frittata.tuning.measure import Job, candidate_program, reference_output, run_job
from frittata.tuning.runners import LocalRunner
from tests.tuning.programs import conv_schedule, conv_workload
from tests.tuning.workers import ANSWER, CRASH, HANG

WORKLOAD = conv_workload()


def test_a_candidate_is_built_checked_against_the_interpreter_and_timed():
    reference = reference_output(WORKLOAD, 0)
    program, _ = candidate_program(WORKLOAD, conv_schedule(4, 2, 8), 0)
    assert program.outputs["y"].op.value == "tiled_conv2d"
    result = run_job(Job(WORKLOAD, conv_schedule(4, 2, 8), threads=1, reference=reference, repeat=3))
    assert result.error is None and result.seconds is not None and result.seconds >= 0


def test_a_wrong_result_is_an_error_not_a_time():
    reference = reference_output(WORKLOAD, 0) + 1.0
    result = run_job(Job(WORKLOAD, conv_schedule(4, 2, 8), threads=1, reference=reference, repeat=1))
    assert result.seconds is None and result.error.startswith("wrong result: max abs difference")


def test_an_invalid_schedule_is_a_build_error():
    bad = tuple((k, 5 if k == "oc_tail" else v) for k, v in conv_schedule(4, 1, 8))
    result = run_job(Job(WORKLOAD, bad, threads=1))
    assert result.seconds is None and "build failed: FrittataTypeError" in result.error and "oc_tail" in result.error


def test_crashes_and_timeouts_become_error_results_and_the_runner_goes_on():
    good = Job(WORKLOAD, conv_schedule(4, 1, 16), threads=1)
    jobs = [good, Job(WORKLOAD, good.schedule, 1, seed=CRASH), Job(WORKLOAD, good.schedule, 1, seed=HANG), good]
    with LocalRunner(timeout=2.0, work="tests.tuning.workers:faulty") as runner:  # the good job answers at once
        results = runner.run(jobs)
    assert [r.error is None for r in results] == [True, False, False, True]
    assert results[1].error.startswith("worker crashed (exit code")
    assert results[2].error == "timeout after 2 s"
    assert results[0] == results[3] == ANSWER
