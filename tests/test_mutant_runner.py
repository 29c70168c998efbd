"""bench/mutant_runner.py's verdict over its two phases (targeted tests, then the rest)."""

from __future__ import annotations

import pytest

from bench.mutant_runner import TIMEOUT_FACTOR, TIMEOUT_FLOOR, Verdict, _merged, control_target, hung


@pytest.mark.parametrize("cut", ["cap", "not run"])
@pytest.mark.parametrize("first", ["survived", "no tests"])
def test_a_mutant_whose_second_phase_was_cut_short_keeps_its_first_verdict(first, cut):
    """Left unjudged, a mutant that outlived its targeted tests would leave the denominator and
    raise the score; it counts as not killed instead."""
    assert _merged(Verdict(first, seconds=3.0), Verdict(cut, seconds=4.0)) == Verdict(first, "", 7.0)


def test_a_kill_in_the_second_phase_counts_and_a_reach_in_either_phase_counts():
    assert _merged(Verdict("survived", seconds=1.0), Verdict("killed", "t::x", 2.0)) == Verdict("killed", "t::x", 3.0)
    assert _merged(Verdict("survived"), Verdict("no tests")).status == "survived"
    assert _merged(None, Verdict("cap")).status == "cap"


@pytest.mark.parametrize("test, rerun", [
    ("tests/a.py::test_x", "tests/a.py::test_x"),
    ("tests/a.py::test_x[1-int8]", "tests/a.py::test_x[1-int8]"),
    ("tests/a.py::test_x[(rule", "tests/a.py::test_x"),  # an id with spaces, cut by the summary line
])
def test_the_control_reruns_the_failing_test_or_its_whole_function_when_its_id_was_cut(test, rerun):
    """A kill is confirmed by rerunning the failing test unmutated; a parametrized id holding a
    space (a rule text) reached the control cut at it, selected nothing, and read 'suspicious'."""
    assert control_target(test) == rerun


@pytest.mark.parametrize("stuck, alone, code, verdict", [
    (100.0, 3.0, 0, True),  # a 3 s test held 100 s by the mutant: it hung
    (100.0, 12.0, 0, False),  # not ten times its own time: a slow test on a loaded machine
    (15.0, 1.0, 0, False),  # below the floor
    (100.0, 3.0, 1, False),  # fails unmutated: no evidence about the mutant
    (100.0, 3.0, None, False),  # capped unmutated too
])
def test_a_capped_mutant_hung_only_if_its_test_ran_ten_times_its_unmutated_time(stuck, alone, code, verdict):
    assert (TIMEOUT_FACTOR, TIMEOUT_FLOOR) == (10, 20.0)
    assert hung(stuck, alone, code) is verdict
