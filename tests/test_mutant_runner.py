"""bench/mutant_runner.py's verdicts: one mutant's run, its two phases (the tests reaching it, then the
rest), a whole judging run."""

from __future__ import annotations

import io
import os
import time

import pytest

import bench.mutant_runner
from bench.mutant_runner import (PART_FILES, TIMEOUT_FACTOR, TIMEOUT_FLOOR, Verdict, _merged, control_target, hung,
                                 judge_all, judge_mutant, nearest_first, parts)


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


class _FakePytest:
    """Stands in for `_pytest`: answers each run from `answer(args, mutant)`, records the runs."""

    def __init__(self, answer) -> None:
        self.answer, self.runs = answer, []

    def __call__(self, args, mutant, cap):
        self.runs.append((list(args), mutant))
        return self.answer(list(args), mutant)


def test_a_test_failing_unmutated_too_is_deselected_and_the_rest_decide(monkeypatch):
    """One such test used to end the run as "suspicious", the tests after it never run."""
    def answer(args, mutant):
        if not mutant:  # the control, unmutated: t::flaky fails either way, t::real passes
            return (1 if args[-1] == "t::flaky" else 0), ""
        if "--deselect=t::flaky" in args:
            return 1, "FAILED t::real - assert"
        return 1, "FAILED t::flaky - assert"

    fake = _FakePytest(answer)
    monkeypatch.setattr(bench.mutant_runner, "_pytest", fake)
    verdict = judge_mutant("m.x_f__mutmut_1", ["t::flaky", "t::real"], [], 60.0)
    assert (verdict.status, verdict.test) == ("killed", "t::real")
    fake.answer = lambda args, mutant: (0, "") if "--deselect=t::flaky" in args else answer(args, mutant)
    assert judge_mutant("m.x_f__mutmut_1", ["t::flaky", "t::real"], [], 60.0).status == "suspicious"


@pytest.mark.parametrize("mapped, status", [(True, "suspicious"), (False, "killed")])
def test_a_failure_in_a_run_that_never_called_the_mutant_is_not_a_kill(monkeypatch, mapped, status):
    """A flaky test failing once with the mutant and passing in the control read "killed";
    when the map saw every run of the function, a run that never reached it cannot be a kill."""
    fake = _FakePytest(lambda args, mutant: (0, "") if not mutant or "--deselect=t::x" in args else
                       (1, "FAILED t::x - flaky"))
    monkeypatch.setattr(bench.mutant_runner, "_pytest", fake)
    assert judge_mutant("m.x_f__mutmut_1", ["t::x"], [], 60.0, mapped).status == status


@pytest.mark.parametrize("again, control, status", [
    (1, 0, "killed"),  # fails again with the mutant, passes without it
    (0, 0, "suspicious"),  # passes when rerun with the mutant: a flaky test, whatever the control says
    (None, 0, "killed"),  # hangs when rerun with the mutant: still not a pass
    (1, 1, "suspicious"),  # fails without the mutant too
])
def test_a_kill_is_confirmed_by_the_failing_test_failing_again_with_the_mutant(monkeypatch, again, control, status):
    """A test failing once under the mutant and passing unmutated read "killed" even when its
    failure was luck (the seed-6 sample: test_round_trip_in_process "killed" a mutant of an
    unreachable arm); the failing test is rerun alone with the mutant, then without it."""
    def answer(args, mutant):
        if "-x" in args:  # the judging run: t::y passes
            return (0, "") if "--deselect=t::x" in args else (1, "FAILED t::x - assert")
        return (again if mutant else control), ""

    fake = _FakePytest(answer)
    monkeypatch.setattr(bench.mutant_runner, "_pytest", fake)
    verdict = judge_mutant("m.x_f__mutmut_1", ["t::x", "t::y"], ["-q"], 60.0)
    assert verdict.status == status
    reruns = [(args, mutant) for args, mutant in fake.runs if "-x" not in args]
    expected = [(["-q", "t::x"], "m.x_f__mutmut_1"), (["-q", "t::x"], "")]
    assert reruns == expected[:1 if again == 0 else 2]  # no control when the mutant's rerun passed
    if status == "suspicious":  # deselected, and the rest of the tests ran on
        assert any("--deselect=t::x" in args for args, _ in fake.runs)


def test_a_mutants_tests_run_in_growing_parts_by_file_in_their_order():
    assert PART_FILES == (4, 8, 16, 32, 64)
    tests = [f"f{k % 25}.py::t{k}" for k in range(50)]  # 25 files, each twice, interleaved

    def files(part):
        return list(dict.fromkeys(t.split("::")[0] for t in part))

    got = parts(tests)
    assert [files(part) for part in got] == [[f"f{k}.py" for k in r] for r in (range(4), range(4, 12), range(12, 25))]
    assert [len(files(part)) for part in parts([f"f{k}.py::t" for k in range(200)])] == [4, 8, 16, 32, 64, 76]
    assert all(part == [t for t in tests if t.split("::")[0] in files(part)] for part in got)
    assert parts(["a.py", "b.py"]) == [["a.py", "b.py"]]


def test_a_kill_in_the_first_part_ends_the_run_and_a_reach_in_any_part_counts(monkeypatch):
    """A fast test of the first files decides without collecting the rest (a cap used to run out
    while pytest collected the files of 150 tests); a survivor runs every part."""
    tests = [f"f{k}.py::t" for k in range(6)]

    def answer(args, mutant):
        if "-x" not in args:  # the confirmation reruns: fails with the mutant, passes without
            return (1 if mutant else 0), ""
        return (1, "FAILED f1.py::t - assert") if "f1.py::t" in args else (0, "")

    fake = _FakePytest(answer)
    monkeypatch.setattr(bench.mutant_runner, "_pytest", fake)
    verdict = judge_mutant("m.x_f__mutmut_1", tests, [], 60.0)
    assert (verdict.status, verdict.test) == ("killed", "f1.py::t")
    judging = [args for args, _ in fake.runs if "-x" in args]
    assert [[t for t in args if t in tests] for args in judging] == [tests[:4]]
    fake.runs.clear()
    fake.answer = lambda args, mutant: (0, "")
    assert judge_mutant("m.x_f__mutmut_1", tests, [], 60.0).status == "no tests"  # no part reached it
    assert [[t for t in args if t in tests] for args, _ in fake.runs] == [tests[:4], tests[4:]]


def test_test_ids_pytest_cannot_find_again_run_as_their_files(monkeypatch):
    fake = _FakePytest(lambda args, mutant: (4, "") if "a.py::t[1]" in args else (0, ""))
    monkeypatch.setattr(bench.mutant_runner, "_pytest", fake)
    assert judge_mutant("m.x_f__mutmut_1", ["a.py::t[1]", "a.py::u", "b.py::v"], [], 60.0).status == "no tests"
    assert fake.runs[-1][0][-2:] == ["a.py", "b.py"]


def test_judge_all_rejudges_survivors_and_names_code_only_failing_tests_run(tmp_path, monkeypatch):
    """An earlier survivor is judged again on all its tests (a one-phase plan too); a function
    run only by tests failing unmutated is "failing tests only", not "no tests"."""
    plans = {"m.x_one__mutmut_1": (["t::a"], []), "m.x_two__mutmut_1": (["t::a"], ["b.py"]),
             "m.x_bad__mutmut_1": ([], ["b.py"])}
    judged: list[tuple[str, list[str]]] = []

    class Map:
        def __init__(self, path):
            pass

        def update(self, *args, **kwargs):
            pass

        def failing(self):
            return ["t::broken"]

        def failing_only(self, module, function):
            return function == "bad"

        def tests_of(self, module, function):
            return None

    def judge(name, tests, options, cap, mapped):
        judged.append((name, tests))
        assert "--deselect=t::broken" in options
        return Verdict("survived")

    for attr, value in [("sync_tests", lambda: None), ("ReachMap", Map), ("judge_mutant", judge),
                        ("plan", lambda name, files, reach: plans[name]), ("selected_files", lambda *a: [])]:
        monkeypatch.setattr(bench.mutant_runner, attr, value)
    earlier = {n: Verdict("survived") for n in ("m.x_one__mutmut_1", "m.x_two__mutmut_1")}
    verdicts, _ = judge_all(list(plans), 100.0, time.time() + 3600, lambda v: None, earlier, io.StringIO())
    assert judged == [("m.x_two__mutmut_1", ["t::a"]), ("m.x_one__mutmut_1", ["t::a"]),  # earlier survivors first
                      ("m.x_two__mutmut_1", ["b.py"]), ("m.x_bad__mutmut_1", ["b.py"])]
    assert verdicts["m.x_bad__mutmut_1"].status == "survived"
    judged.clear()
    monkeypatch.setattr(bench.mutant_runner, "judge_mutant", lambda *a: Verdict("no tests"))
    verdicts, _ = judge_all(["m.x_bad__mutmut_1"], 100.0, time.time() + 3600, lambda v: None, None, io.StringIO())
    assert verdicts["m.x_bad__mutmut_1"].status == "failing tests only"


def test_a_mutants_own_module_tests_run_first_then_its_importers_then_the_rest():
    """A function every compile runs is reached by hundreds of faster tests; its own module's
    test file goes first (seed 7's `CpuModel.compute_seconds` 15 ran out of its cap before)."""
    name = "frittata.extract.cpu_model.x\u01c1CpuModel\u01c1compute_seconds__mutmut_15"
    tests = ["tests/test_cli.py::test_compile", "tests/extract/test_cpu_model_tables.py::test_a",
             "tests/backends/llvm/test_conv.py::test_compute_seconds", "tests/extract/test_cpu_model.py::test_b",
             "tests/terms/test_ops.py::test_c"]
    assert nearest_first(name, tests) == [tests[1], tests[3], tests[2], tests[0], tests[4]]
    assert nearest_first("frittata.terms.alu.x_f__mutmut_1", tests) == tests  # no name matches: order kept


def test_a_mutants_run_keeps_the_command_lines_order_whatever_the_conftest_sorts(tmp_path):
    """The suite's conftest runs `long_running` tests first; the runner's order must win."""
    import subprocess
    import sys

    (tmp_path / "conftest.py").write_text("def pytest_collection_modifyitems(items):\n    items.reverse()\n")
    (tmp_path / "test_a.py").write_text("def test_one():\n    pass\n\n\ndef test_two():\n    pass\n")
    (tmp_path / "test_b.py").write_text("def test_three():\n    pass\n")
    ids = ["test_b.py::test_three", "test_a.py::test_two", "test_a.py::test_one"]
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *ids]
    ran = {}
    for plugin in ([], ["-p", "bench.keep_order"]):
        out = subprocess.run([*command[:3], *plugin, *command[3:]], cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(bench.mutant_runner.ROOT),
                                  "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}).stdout
        ran[bool(plugin)] = [line.split()[0] for line in out.splitlines() if " PASSED" in line]
    assert ran == {False: ids[::-1], True: ids}
