"""bench/reach_map.py: which tests run which function, measured under coverage, and the plan
bench/mutant_runner.py makes from it for a mutant."""

from __future__ import annotations

import io
from pathlib import Path

from coverage import CoverageData

import bench.mutant_runner
import bench.reach_map
import pytest
from bench.mutant_runner import function_key, plan, selected_files
from bench.reach_map import FIXTURE, IMPORT, MeasureError, ReachMap, function_spans, measure, reach_from_coverage

MODULE = '''\
"""A module."""

LIMIT = 3


def called(x):
    """Doubles."""
    y = x * 2
    return y


def never(x):
    return x - 1


class Box:
    def open(self):
        return called(1)


def at_import():
    return 0
'''

TEST = '''\
from pkg.mod import Box, called, never

FOUR = never(5)


def test_called():
    assert called(2) == 4


def test_box():
    assert Box().open() == 2


def test_fails_unmutated():
    assert called(1) == 3
'''


MUTATED = '''\
"""MODULE as mutmut 3.8.1 generates it, its trampoline (`mutmut.mutation.trampoline`, not
installed in CI) written out: the decorated function calls its table's original's copy."""


def _mutmut_mutated(table):
    return lambda decorated: lambda *args, **kwargs: table["_mutmut_orig"](*args, **kwargs)


LIMIT = 3
mutants_x_called__mutmut = {}


@_mutmut_mutated(mutants_x_called__mutmut)
def called(x):
    """Doubles."""
    y = x * 2
    return y
def x_called__mutmut_orig(x):
    """Doubles."""
    y = x * 2
    return y
def x_called__mutmut_1(x):
    """Doubles."""
    y = x * 3
    return y

mutants_x_called__mutmut["_mutmut_orig"] = x_called__mutmut_orig
mutants_x_called__mutmut["x_called__mutmut_1"] = x_called__mutmut_1


def never(x):
    return x - 1
mutants_x\u01c1Box\u01c1open__mutmut = {}


class Box:
    @_mutmut_mutated(mutants_x\u01c1Box\u01c1open__mutmut)
    def open(self):
        return called(1)
    def x\u01c1Box\u01c1open__mutmut_orig(self):
        return called(1)
    def x\u01c1Box\u01c1open__mutmut_1(self):
        return called(2)

mutants_x\u01c1Box\u01c1open__mutmut["_mutmut_orig"] = lambda *args: Box.x\u01c1Box\u01c1open__mutmut_orig(*args)


def at_import():
    return 0
'''

EXTRA = '''\
def in_fixture():
    return 1


def in_child():
    return 2


def in_cache():
    return 3
'''

CONFTEST = '''\
import functools

import pytest

from pkg.extra import in_cache, in_fixture


@pytest.fixture(scope="session")
def lazy():
    return functools.cache(lambda: in_cache())


@pytest.fixture(scope="module")
def shared():
    return in_fixture()


@pytest.fixture
def broken():
    raise RuntimeError("setup fails")
'''

TEST_EXTRA = '''\
import os
import subprocess
import sys


def test_first(shared):
    assert shared == 1


def test_second(shared):  # the fixture's value is cached: its setup ran in test_first
    assert shared == 1


def test_fills_the_cache(lazy):
    assert lazy() == 3


def test_reads_the_cache(lazy):  # in_cache does not run again
    assert lazy() == 3


def test_child():
    code = "from pkg.extra import in_child; assert in_child() == 2"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_fixture_error(broken):
    pass


def test_environment_of_the_judging_runs():
    assert (os.environ["FRITTATA_TEST_PROFILE"], os.environ["MUTANT_UNDER_TEST"]) == ("ci", "")
'''


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg.mod import at_import\n\nZERO = at_import()\n")
    (tmp_path / "pkg" / "mod.py").write_text(MODULE)
    (tmp_path / "pkg" / "extra.py").write_text(EXTRA)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mod.py").write_text(TEST)
    (tmp_path / "tests" / "conftest.py").write_text(CONFTEST)
    (tmp_path / "tests" / "test_extra.py").write_text(TEST_EXTRA)
    return tmp_path


def test_a_function_body_leaves_out_its_def_line_and_docstring():
    spans = function_spans(MODULE)
    assert spans == {"called": (8, 9), "never": (13, 13), "Box.open": (18, 18), "at_import": (22, 22)}


def test_mutant_names_map_to_functions_and_methods():
    assert function_key("frittata.terms.activations.x__import_clip__mutmut_50") == \
        ("frittata.terms.activations", "_import_clip")
    assert function_key("frittata.rewrites.compile.x\u01c1_Query\u01c1lhs__mutmut_26") == \
        ("frittata.rewrites.compile", "_Query.lhs")


def test_each_line_is_credited_to_the_tests_that_ran_it(tmp_path):
    root = _project(tmp_path)
    data = CoverageData(basename=str(tmp_path / "coverage"))
    module = str(root / "pkg" / "mod.py")
    for context, lines in [(IMPORT, [3, 6, 12, 16, 17]), ("t::a", [8, 9]), ("t::b", [18, 8, 9])]:
        data.set_context(context)
        data.add_lines({module: lines})
    data.write()
    reach = reach_from_coverage(tmp_path / "coverage", root)
    assert reach == {"pkg.mod": {"called": ["t::a", "t::b"], "never": [], "Box.open": ["t::b"], "at_import": []}}


def test_the_plugin_measures_each_test_and_the_map_plans_from_it(tmp_path):
    """End to end: pytest under coverage with the plugin, on a project of one module as
    mutmut generates it (trampolines, the originals' copies, the mutants): what each test runs,
    what importing a test file runs, what importing the package runs."""
    root = _project(tmp_path)
    (root / "pkg" / "mod.py").write_text(MUTATED)
    reach, tests, files = measure(["tests/test_mod.py"], [], root, ["pkg"])
    assert files == {"tests/test_mod.py"}
    ids = {name: f"tests/test_mod.py::{name}" for name in ("test_called", "test_box", "test_fails_unmutated")}
    assert {t: r["passed"] for t, r in tests.items()} == {ids["test_called"]: True, ids["test_box"]: True,
                                                          ids["test_fails_unmutated"]: False}
    assert reach["pkg.mod"]["never"] == ["tests/test_mod.py"]  # run while the test file was imported
    assert set(reach["pkg.mod"]["called"]) == set(ids.values())
    assert reach["pkg.mod"]["Box.open"] == [ids["test_box"]]
    assert reach["pkg.mod"]["at_import"] == [IMPORT]  # the plugin imports the package before collection
    cached = ReachMap(tmp_path / "reach.json")
    cached.merge(set(), reach, tests)
    assert set(cached.tests_of("pkg.mod", "called")) == {ids["test_called"], ids["test_box"]}  # not the failing one
    assert set(cached.tests_of("pkg.mod", "never")) == {ids["test_called"], ids["test_box"]}  # all of the file's
    assert cached.tests_of("pkg.mod", "at_import") is None
    assert cached.tests_of("pkg.mod", "gone") is None and cached.tests_of("pkg.other", "f") is None


def _map(tmp_path: Path) -> ReachMap:
    cached = ReachMap(tmp_path / "reach.json")
    tests = {"tests/test_a.py::slow": 5.0, "tests/test_a.py::fast": 0.1, "tests/test_b.py::mid": 1.0}
    cached.merge(set(), {"m": {"f": sorted(tests), "g": [IMPORT, "tests/test_b.py::mid"], "h": []}},
                 {t: {"cpu": s, "passed": True} for t, s in tests.items()})
    return cached


def test_a_mutant_runs_the_tests_that_reach_it_fastest_first_then_the_rest_by_file(tmp_path, monkeypatch):
    """A test can use f's result without running f (a cache filled in another test): a survivor
    runs the rest, whole files, those reaching its module first, then those starting processes."""
    cached = _map(tmp_path)
    cached.merge(set(), {"n": {"k": ["tests/test_d.py::t"]}},
                 {"tests/test_c.py::spawns": {"cpu": 1.0, "passed": True, "spawned": True},
                  "tests/test_d.py::t": {"cpu": 1.0, "passed": True}})
    files = [bench.mutant_runner.ROOT / "tests" / f"test_{x}.py" for x in "edcba"]
    monkeypatch.setattr(bench.mutant_runner, "ordered_tests", lambda name, files: (files[:1], files[1:]))
    assert cached.tests_of("m", "f") == ["tests/test_a.py::fast", "tests/test_b.py::mid", "tests/test_a.py::slow"]
    rest = ["tests/test_a.py", "tests/test_b.py", "tests/test_c.py", "tests/test_e.py", "tests/test_d.py"]
    assert plan("m.x_f__mutmut_1", files, cached) == (cached.tests_of("m", "f"), rest)
    # no test runs h in any process: only the tests starting a process may reach it
    assert plan("m.x_h__mutmut_1", files, cached) == ([], ["tests/test_c.py::spawns"])


def test_tests_starting_a_process_run_after_the_others_whatever_their_own_cpu(tmp_path):
    """A test's CPU seconds leave out its children's: a CLI test that compiles in a subprocess
    reads as fast and went first."""
    cached = ReachMap(tmp_path / "reach.json")
    tests = {"tests/test_cli.py::compiles": {"cpu": 0.1, "passed": True, "spawned": True},
             "tests/test_a.py::slow": {"cpu": 5.0, "passed": True},
             "tests/test_a.py::fast": {"cpu": 0.2, "passed": True}}
    cached.merge(set(), {"m": {"f": sorted(tests)}}, tests)
    assert cached.tests_of("m", "f") == ["tests/test_a.py::fast", "tests/test_a.py::slow",
                                         "tests/test_cli.py::compiles"]


def test_code_run_at_import_runs_the_tests_that_run_it_then_the_older_plan(tmp_path, monkeypatch):
    cached = _map(tmp_path)
    assert cached.tests_of("m", "g") is None
    monkeypatch.setattr(bench.mutant_runner, "ordered_tests", lambda name, files: (files[:1], files[1:]))
    files = [bench.mutant_runner.ROOT / "tests" / "test_x.py", bench.mutant_runner.ROOT / "tests" / "test_y.py"]
    assert plan("m.x_g__mutmut_1", files, cached) == (["tests/test_b.py::mid", "tests/test_x.py"], ["tests/test_y.py"])


def test_only_test_files_added_or_changed_are_measured_again(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    a, b = tmp_path / "tests" / "test_a.py", tmp_path / "tests" / "test_b.py"
    a.write_text("def test_slow(): pass\n")
    b.write_text("def test_mid(): pass\n")
    measured: list[list[str]] = []

    def fake(files, options, root, source, output):
        measured.append(files)
        tests = {f"{f}::t{len(measured)}": {"cpu": 1.0, "passed": True} for f in files}
        return {"m": {"f": sorted(tests)}}, tests, set(files)

    monkeypatch.setattr(bench.reach_map, "measure", fake)
    cached = ReachMap(tmp_path / "reach.json")
    cached.update([a, b], [], tmp_path)
    b.write_text("def test_mid(): assert 1\n")
    again = ReachMap(tmp_path / "reach.json")  # read back from its file
    again.update([a, b], [], tmp_path)
    assert measured == [["tests/test_a.py", "tests/test_b.py"], ["tests/test_b.py"]]
    assert again.tests_of("m", "f") == ["tests/test_a.py::t1", "tests/test_b.py::t2"]
    again.update([a], [], tmp_path)  # test_b.py no longer selected: its tests are forgotten
    assert again.tests_of("m", "f") == ["tests/test_a.py::t1"] and len(measured) == 2


def test_the_selection_expands_folders_and_leaves_out_the_excluded_files(tmp_path):
    for name in ("tests/test_a.py", "tests/sub/test_b.py", "tests/sub/helpers.py", "tests/test_lint.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = selected_files(["tests"], {"tests/test_lint.py"}, tmp_path)
    assert [str(p.relative_to(tmp_path)) for p in found] == ["tests/sub/test_b.py", "tests/test_a.py"]



def test_fixtures_subprocesses_failures_and_the_environment_are_measured(tmp_path):
    """A module-scoped fixture's setup is credited to every test using it, not to the one it
    ran in; a function one test ran, to the tests sharing a session-scoped fixture argument
    with it (a cache); a function run only in a subprocess is credited to the test starting it; a fixture
    error is a failure; the map is measured in the judging runs' environment."""
    root = _project(tmp_path)
    reach, tests, _ = measure(["tests/test_extra.py"], [], root, ["pkg"])
    ids = {name: f"tests/test_extra.py::{name}" for name in
           ("test_first", "test_second", "test_child", "test_fixture_error", "test_environment_of_the_judging_runs")}
    assert reach["pkg.extra"] == {"in_fixture": [FIXTURE + "shared"], "in_child": [ids["test_child"]],
                                  "in_cache": ["tests/test_extra.py::test_fills_the_cache"]}
    assert {t for t, r in tests.items() if r["spawned"]} == {ids["test_child"]}
    assert {t for t, r in tests.items() if not r["passed"]} == {ids["test_fixture_error"]}
    cached = ReachMap(tmp_path / "reach.json")
    cached.merge(set(), reach, tests)
    assert set(cached.tests_of("pkg.extra", "in_fixture")) == {ids["test_first"], ids["test_second"]}
    assert set(cached.tests_of("pkg.extra", "in_cache")) == {f"tests/test_extra.py::test_{name}_the_cache"
                                                              for name in ("fills", "reads")}
    assert cached.spawning() == [ids["test_child"]] and cached.failing() == [ids["test_fixture_error"]]


def test_a_measuring_run_that_fails_raises_with_its_output(tmp_path):
    root = _project(tmp_path)
    (root / "tests" / "test_broken.py").write_text("import no_such_module\n")
    output = tmp_path / "reach.log"
    with pytest.raises(MeasureError, match="exit code 0 or 1") as error:
        ReachMap(tmp_path / "reach.json").update([root / "tests" / "test_broken.py"], [], root, ["pkg"], output=output)
    assert "no_such_module" in str(error.value) and "no_such_module" in output.read_text()
    assert not (tmp_path / "reach.json").exists()


@pytest.mark.parametrize("change", ["helper", "conftest", "config", "options"])
def test_a_change_outside_the_test_files_measures_everything_again(tmp_path, monkeypatch, change):
    root = _project(tmp_path)
    (root / "tests" / "strategies.py").write_text("N = 1\n")
    (root / "pyproject.toml").write_text("[tool.mutmut]\npytest_add_cli_args = []\n")
    measured: list[list[str]] = []

    def fake(files, options, root, source, output):
        measured.append(files)
        return {}, {}, set(files)

    monkeypatch.setattr(bench.reach_map, "measure", fake)
    files = [root / "tests" / "test_mod.py", root / "tests" / "test_extra.py"]
    ReachMap(tmp_path / "reach.json").update(files, [], root, ["pkg"])
    ReachMap(tmp_path / "reach.json").update(files, [], root, ["pkg"])
    assert len(measured) == 1
    edited = {"helper": "tests/strategies.py", "conftest": "tests/conftest.py", "config": "pyproject.toml",
              "options": None}[change]
    if edited:
        with (root / edited).open("a") as sink:
            sink.write("\n# edited\n" if change != "config" else "[tool.frittata.mutation]\nexclude = []\n")
    ReachMap(tmp_path / "reach.json").update(files, ["-k", "not slow"] if change == "options" else [], root, ["pkg"])
    assert measured[-1] == ["tests/test_mod.py", "tests/test_extra.py"] and len(measured) == 2


def test_only_files_under_the_root_are_mapped(tmp_path):
    (tmp_path / "root").mkdir()
    root = _project(tmp_path / "root")
    outside = tmp_path / "other.py"
    outside.write_text("def f():\n    return 1\n")
    data = CoverageData(basename=str(tmp_path / "coverage"))
    data.set_context("t::a")
    data.add_lines({str(outside): [2], str(root / "pkg" / "extra.py"): [2]})
    data.write()
    assert set(reach_from_coverage(tmp_path / "coverage", root)) == {"pkg.extra"}


def test_a_measuring_run_cut_short_with_exit_code_0_raises(tmp_path):
    """A test ending the process (`os._exit(0)`) leaves no record of the session: exit code 0
    is not enough to trust the map."""
    root = _project(tmp_path)
    (root / "tests" / "test_exits.py").write_text("import os\n\n\ndef test_exits():\n    os._exit(0)\n")
    with pytest.raises(MeasureError, match="got 0"):
        measure(["tests/test_exits.py"], [], root, ["pkg"])


def test_a_file_measured_but_not_collected_is_measured_again(tmp_path, monkeypatch):
    root = _project(tmp_path)
    measured: list[list[str]] = []

    def fake(files, options, root, source, output):
        measured.append(files)
        return {}, {}, {"tests/test_mod.py"}

    monkeypatch.setattr(bench.reach_map, "measure", fake)
    files = [root / "tests" / "test_mod.py", root / "tests" / "test_extra.py"]
    ReachMap(tmp_path / "reach.json").update(files, [], root, ["pkg"])
    ReachMap(tmp_path / "reach.json").update(files, [], root, ["pkg"])
    assert measured == [["tests/test_mod.py", "tests/test_extra.py"], ["tests/test_extra.py"]]


def test_a_source_change_measures_again_only_the_test_files_that_ran_the_changed_module(tmp_path, monkeypatch):
    """A map of an hour is not thrown away for a commit elsewhere: a measured module's change
    makes stale the files that ran it; a change outside the measured source, none (logged)."""
    root = _project(tmp_path)
    (root / "pkg" / "other").mkdir()
    (root / "pkg" / "other" / "llvm.py").write_text("X = 1\n")
    measured: list[list[str]] = []

    def fake(files, options, root, source, output):
        measured.append(files)
        tests = {f"{f}::t": {"cpu": 1.0, "passed": True} for f in files}
        reach = {"pkg.mod": {"called": ["tests/test_mod.py::t"]}, "pkg.extra": {"in_child": ["tests/test_extra.py::t"]}}
        return reach, tests, set(files)

    monkeypatch.setattr(bench.reach_map, "measure", fake)
    files, source = [root / "tests" / "test_mod.py", root / "tests" / "test_extra.py"], ["pkg/mod.py", "pkg/extra.py"]
    ReachMap(tmp_path / "reach.json").update(files, [], root, source)
    for edited, again in [("pkg/other/llvm.py", None), ("pkg/mod.py", ["tests/test_mod.py"]),
                          ("pkg/extra.py", ["tests/test_extra.py"])]:
        with (root / edited).open("a") as sink:
            sink.write("\n# edited\n")
        log = io.StringIO()
        ReachMap(tmp_path / "reach.json").update(files, [], root, source, log=log)
        assert measured[-1] == (again or ["tests/test_mod.py", "tests/test_extra.py"])
        assert ("1 modules outside the measured source changed" in log.getvalue()) == (again is None)
    assert len(measured) == 3
    cached = ReachMap(tmp_path / "reach.json")
    assert cached.tests_of("pkg.mod", "called") == ["tests/test_mod.py::t"]
