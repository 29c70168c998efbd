"""bench/reach_map.py: which tests run which function, measured under coverage, and the plan
bench/mutant_runner.py makes from it for a mutant."""

from __future__ import annotations

from pathlib import Path

from coverage import CoverageData

import bench.mutant_runner
import bench.reach_map
from bench.mutant_runner import function_key, plan, selected_files
from bench.reach_map import IMPORT, ReachMap, function_spans, measure, reach_from_coverage

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


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg.mod import at_import\n\nZERO = at_import()\n")
    (tmp_path / "pkg" / "mod.py").write_text(MODULE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mod.py").write_text(TEST)
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
    """End to end: pytest under coverage with the plugin, on a project of one module: what
    each test runs, what importing a test file runs, what importing the package runs."""
    root = _project(tmp_path)
    reach, tests = measure(["tests/test_mod.py"], [], root, ["pkg"])
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


def test_a_mutant_runs_the_tests_that_reach_it_fastest_first_and_only_those(tmp_path):
    cached = _map(tmp_path)
    assert cached.tests_of("m", "f") == ["tests/test_a.py::fast", "tests/test_b.py::mid", "tests/test_a.py::slow"]
    assert plan("m.x_f__mutmut_1", [], cached) == (cached.tests_of("m", "f"), [])
    assert plan("m.x_h__mutmut_1", [], cached) == ([], [])  # no test runs h: "no tests", no run


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

    def fake(files, options, root, source):
        measured.append(files)
        tests = {f"{f}::t{len(measured)}": {"cpu": 1.0, "passed": True} for f in files}
        return {"m": {"f": sorted(tests)}}, tests

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

