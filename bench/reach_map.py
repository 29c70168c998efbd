"""Which tests run which function: the test selection measured once under coverage, cached.

`bench/mutant_runner.py` judges a mutant of function F on the tests that run F unmutated. A
test that never calls F runs the same with F mutated (execution is identical up to F's first
call), so it cannot kill the mutant: those tests are every test that can, and a mutant no test
reaches is "no tests" without a run. The map is measured by running the selection once under
coverage (this module is also the pytest plugin that gives each test its own coverage context
and records its CPU seconds and outcome), in the source tree the mutants were generated from,
with the options and hypothesis profile of the judging runs (derandomized, so the examples
drawn are the same). It is kept in mutants/reach.json with each test file's hash; a later run
measures only the test files added or changed since.

Code run while a test file is imported (module-level terms, strategies) is credited to that
file (its context is the file's path), and the mutant runs the whole file. Code run while the
measured package itself is imported (the plugin imports it before collection) is credited to
no test (`IMPORT`): a mutant there is judged by the runner's older plan (its module's test
files, then the rest), as is one of a module some test imports lazily, whose import-time code
is credited to that test. A saturation stopped by the clock may reach other functions on
another run.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT = ""
"""The coverage context of code run outside any test (collection, module imports)."""
SOURCE = ["frittata/terms", "frittata/rewrites", "frittata/extract", "frittata/backends/vta/hw"]


# --- the pytest plugin (`-p bench.reach_map --reach-log FILE`) -------------------------------

def pytest_addoption(parser) -> None:
    parser.addoption("--reach-log", default=None, help="JSON lines: each test's id, CPU seconds, outcome")
    parser.addoption("--reach-import", default=None, help="package to import before collection")


def pytest_configure(config) -> None:
    log = config.getoption("--reach-log")
    if log:
        config.pluginmanager.register(_Recorder(Path(log)), "reach-recorder")
    package = config.getoption("--reach-import")
    if package:
        importlib.import_module(package)  # its import-time code runs in no test's context


class _Recorder:
    """Switches coverage to a context named by each test's id as it starts; writes each test's
    CPU seconds (setup, call and teardown) and whether it passed when the session ends."""

    def __init__(self, log: Path) -> None:
        self.log, self.started, self.cpu, self.failed = log, {}, {}, set()

    @staticmethod
    def _switch(context: str) -> None:
        import coverage

        cov = coverage.Coverage.current()
        if cov is not None:
            cov.switch_context(context)

    def pytest_collectstart(self, collector) -> None:
        if isinstance(collector, pytest.Module):  # importing a test file: credited to the file
            self._switch(collector.nodeid)

    def pytest_collection_finish(self, session) -> None:
        self._switch(IMPORT)

    def pytest_runtest_protocol(self, item, nextitem) -> None:
        self._switch(item.nodeid)
        self.started[item.nodeid] = time.process_time()

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.cpu[nodeid] = round(time.process_time() - self.started.get(nodeid, time.process_time()), 3)

    def pytest_sessionfinish(self, session) -> None:
        with self.log.open("w") as sink:
            for test, seconds in self.cpu.items():
                sink.write(json.dumps({"test": test, "cpu": seconds, "passed": test not in self.failed}) + "\n")


# --- measuring and reading the map -----------------------------------------------------------

def file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def function_spans(source: str) -> dict[str, tuple[int, int]]:
    """Each top-level function's and method's body lines (first, last), keyed as the runner
    names them: `f`, `Class.method`. The `def` line and a leading docstring are left out (they
    run when the module is imported, not when the function is called)."""
    spans: dict[str, tuple[int, int]] = {}

    def body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int]:
        statements = node.body
        if len(statements) > 1 and isinstance(statements[0], ast.Expr) and \
                isinstance(statements[0].value, ast.Constant) and isinstance(statements[0].value.value, str):
            statements = statements[1:]
        return statements[0].lineno, node.end_lineno or statements[0].lineno

    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans[node.name] = body(node)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    spans[f"{node.name}.{sub.name}"] = body(sub)
    return spans


def reach_from_coverage(data_file: Path, root: Path = ROOT) -> dict[str, dict[str, list[str]]]:
    """module -> function -> the contexts (test ids, or `IMPORT`) that ran a line of its body
    (every function of a measured module, reached or not)."""
    from coverage import CoverageData

    data = CoverageData(basename=str(data_file))
    data.read()
    reach: dict[str, dict[str, list[str]]] = {}
    for measured in data.measured_files():
        path = Path(measured).resolve()
        if root not in path.parents or path.suffix != ".py":
            continue
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        by_line = data.contexts_by_lineno(measured)
        functions = {}
        for function, (first, last) in function_spans(path.read_text()).items():
            functions[function] = sorted({c for line in range(first, last + 1) for c in by_line.get(line, ())})
        reach[module] = functions
    return reach


def measure(test_files: list[str], options: list[str], root: Path = ROOT,
            source: list[str] = SOURCE) -> tuple[dict, dict]:
    """Run `test_files` in `root` under coverage of `source`, a context per test; (reach,
    tests): reach as `reach_from_coverage`, tests as test id -> {"cpu", "passed"}."""
    with tempfile.TemporaryDirectory() as tmp:
        data, log = Path(tmp) / "coverage", Path(tmp) / "tests.jsonl"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(root), str(ROOT)])),
               "FRITTATA_TEST_PROFILE": "ci", "COVERAGE_FILE": str(data)}
        command = [sys.executable, "-m", "coverage", "run", f"--source={','.join(source)}", "-m", "pytest",
                   "--rootdir=.", "-q", "-p", "no:randomly", "-p", "bench.reach_map", "--reach-log", str(log),
                   "--reach-import", source[0].split("/")[0], *options, *test_files]
        subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tests = {}
        if log.exists():
            for line in log.read_text().splitlines():
                record = json.loads(line)
                tests[record.pop("test")] = record
        return (reach_from_coverage(data, root) if data.exists() else {}), tests


class ReachMap:
    """The cached map: `tests` (test id -> CPU seconds, unmutated outcome), `reach` (module ->
    function -> test ids), `files` (test file -> hash when measured)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        saved = json.loads(path.read_text()) if path.exists() else {}
        self.files: dict[str, str] = saved.get("files", {})
        self.tests: dict[str, dict] = saved.get("tests", {})
        self.reach: dict[str, dict[str, list[str]]] = saved.get("reach", {})

    def stale(self, test_files: Iterable[Path], root: Path = ROOT) -> list[str]:
        """The test files (relative to `root`) not measured, or changed since."""
        return [str(p.relative_to(root)) for p in test_files
                if self.files.get(str(p.relative_to(root))) != file_hash(p)]

    def update(self, test_files: list[Path], options: list[str], root: Path = ROOT, source: list[str] = SOURCE,
               log=sys.stderr) -> None:
        """Measure the stale files of `test_files` and forget files no longer selected."""
        selected = {str(p.relative_to(root)) for p in test_files}
        stale = self.stale(test_files, root)
        if stale:
            print(f"reach map: measuring {len(stale)} test files under coverage", file=log, flush=True)
            reach, tests = measure(stale, options, root, source)
        else:
            reach, tests = {}, {}
        dropped = set(stale) | (set(self.files) - selected)
        self.merge(dropped, reach, tests)
        self.files = {f: h for f, h in self.files.items() if f not in dropped}
        self.files.update({f: file_hash(root / f) for f in stale})
        self.path.write_text(json.dumps({"files": self.files, "tests": self.tests, "reach": self.reach}))

    def merge(self, dropped: set[str], reach: dict, tests: dict) -> None:
        """Forget the tests of the `dropped` files, then add a measurement's."""
        def kept(test: str) -> bool:
            return test == IMPORT or test.split("::")[0] not in dropped

        self.tests = {t: r for t, r in self.tests.items() if kept(t)}
        self.tests.update(tests)
        for module in set(self.reach) | set(reach):
            old, new = self.reach.get(module, {}), reach.get(module, {})
            self.reach[module] = {f: sorted({t for t in old.get(f, ()) if kept(t)} | set(new.get(f, ())))
                                  for f in set(old) | set(new)}

    def tests_of(self, module: str, function: str) -> list[str] | None:
        """The tests that ran `function` of `module` and passed unmutated, fastest first: with
        every test of a file whose import ran it (module-level values feed all of them). None
        when the map cannot say (the module was not measured, the function is not one the map
        names, or it also ran outside any test, at import)."""
        reached = self.reach.get(module, {}).get(function)
        if reached is None or IMPORT in reached:
            return None
        return self.tests_running(module, function)

    def tests_running(self, module: str, function: str) -> list[str]:
        """As `tests_of`, leaving out what ran at import: the tests that at least run it."""
        reached = set(self.reach.get(module, {}).get(function, ())) - {IMPORT}
        files = {t for t in reached if "::" not in t}
        tests = reached - files | {t for t in self.tests if t.split("::")[0] in files}
        passing = [t for t in tests if self.tests.get(t, {}).get("passed")]
        return sorted(passing, key=lambda t: (self.tests[t]["cpu"], t))
