"""Which tests run which function: the test selection measured once under coverage, cached.

`bench/mutant_runner.py` judges a mutant of function F first on the tests that run F unmutated,
then, if it survived, on the rest of the selection as its budget allows. The tests that run F
are the likeliest to kill it, not the only ones: a test can also use F's result without running
F itself, through a module- or session-scoped fixture set up in another test (so the map
credits a fixture's setup to every test using that fixture, and a function one test ran to
every test sharing a wider-scoped fixture argument with it: conftest's `zoo_saturated` is a
cache), through a cache (`functools.cache`,
term interning) filled in another test, or through a process the map did not measure (the
runner's second phase covers those). A mutant no test reaches, in any process, is "no tests"
without a run.

The map is measured by running the selection once under coverage (this module is also the
pytest plugin that gives each test its own coverage context, each non-function-scoped fixture's
setup a `fixture:NAME` context, and records each test's CPU seconds, outcome and fixtures), in
the mutants/ folder with no mutant active (a mutated function's trampoline runs its original's
copy, credited to the function), with the options, environment and hypothesis
profile of the judging runs (derandomized, so the examples drawn are the same). Subprocesses and
forked workers are measured too (coverage's `patch`), each under the context of the test that
started it; a test that started one is marked (`spawned`: Ray's workers, started by its own
daemons, are not measured). It is kept in mutants/reach.json (kept too when a new mutants/
folder is generated) with each test file's hash, each module's hash, and a key over what else
decides the map (helper modules and conftest files under tests/, the mutation configuration,
the tools' versions); a later run measures only the test files added or changed since and
those that ran a measured module changed since, or everything if the key changed. The
measuring run's output is kept in mutants/reach.log.

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
import base64
import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
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


FIXTURE = "fixture:"
"""The context prefix of a non-function-scoped fixture's setup: credited to every test using it."""


class _Recorder:
    """Switches coverage to a context named by each test's id as it starts (and by a fixture's
    name while a wider-scoped fixture is set up); writes, when the session ends, each collected
    test's CPU seconds (setup, call and teardown, None if it never ran), whether it passed, its
    fixtures and whether it started a process, and each test file collected."""

    def __init__(self, log: Path) -> None:
        self.log, self.started, self.cpu, self.failed = log, {}, {}, set()
        self.items: list = []
        self.modules: list[str] = []
        self.spawned: set[str] = set()
        self.current = IMPORT
        self._watch_processes()

    def _switch(self, context: str) -> None:
        """Switch this process's context, and the one subprocesses and forks start with."""
        import coverage

        cov = coverage.Coverage.current()
        if cov is None:
            return
        cov.switch_context(context)
        cov.config.context = context or None  # a fork restarts coverage from this config
        serialized = os.environ.get("COVERAGE_PROCESS_CONFIG")
        if serialized:  # a subprocess starts coverage from this
            config = json.loads(base64.b64decode(serialized))
            config["context"] = context or None
            os.environ["COVERAGE_PROCESS_CONFIG"] = base64.b64encode(json.dumps(config).encode()).decode()

    def _watch_processes(self) -> None:
        """Mark the test running when a process starts (`subprocess`, `os.fork`)."""
        recorder, popen_init = self, subprocess.Popen.__init__

        def init(popen, *args, **kwargs):
            recorder.spawned.add(recorder.current)
            popen_init(popen, *args, **kwargs)

        subprocess.Popen.__init__ = init  # type: ignore[method-assign]
        os.register_at_fork(before=lambda: self.spawned.add(self.current))

    def pytest_collectstart(self, collector) -> None:
        if isinstance(collector, pytest.Module):  # importing a test file: credited to the file
            self._switch(collector.nodeid)

    def pytest_collectreport(self, report) -> None:
        if report.passed and report.nodeid.endswith(".py"):
            self.modules.append(report.nodeid)

    def pytest_collection_finish(self, session) -> None:
        self.items = list(session.items)
        self._switch(IMPORT)

    def pytest_runtest_protocol(self, item, nextitem) -> None:
        self.current = item.nodeid
        self._switch(item.nodeid)
        self.started[item.nodeid] = time.process_time()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.scope == "function":
            yield
            return
        self._switch(FIXTURE + fixturedef.argname)
        try:
            yield
        finally:
            self._switch(self.current)

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.cpu[nodeid] = round(time.process_time() - self.started.get(nodeid, time.process_time()), 3)

    def pytest_sessionfinish(self, session) -> None:
        with self.log.open("w") as sink:
            for module in self.modules:
                sink.write(json.dumps({"module": module}) + "\n")
            for item in self.items:
                test = item.nodeid
                sink.write(json.dumps({"test": test, "cpu": self.cpu.get(test), "passed": test not in self.failed,
                                       "fixtures": sorted(item.fixturenames), "shared": _shared(item),
                                       "spawned": test in self.spawned}) + "\n")


def _shared(item) -> list[str]:
    """The fixtures wider than a test that `item` takes as arguments: their values (a cached
    function, say) may carry what another test computed."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return sorted(n for n in info.argnames if any(d.scope != "function" for d in info.name2fixturedefs.get(n, ())))


# --- measuring and reading the map -----------------------------------------------------------

def file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


MUTMUT_COPY = re.compile(r"^x(?:_|\u01c1[^\u01c1]+\u01c1)(.+)__mutmut_(orig|\d+)$")
"""A function mutmut generated: the original's copy (`x_f__mutmut_orig`, in a class
`x<sep>Class<sep>method__mutmut_orig`) or a mutant (`__mutmut_3`)."""


def function_spans(source: str) -> dict[str, tuple[int, int]]:
    """Each top-level function's and method's body lines (first, last), keyed as the runner
    names them: `f`, `Class.method`. The `def` line and a leading docstring are left out (they
    run when the module is imported, not when the function is called). In a module mutmut
    generated, a mutated function's body is its original's copy (the trampoline named `f` runs
    it); the mutants' are left out (they never run unmutated)."""
    spans: dict[str, tuple[int, int]] = {}
    copied: set[str] = set()

    def body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int]:
        statements = node.body
        if len(statements) > 1 and isinstance(statements[0], ast.Expr) and \
                isinstance(statements[0].value, ast.Constant) and isinstance(statements[0].value.value, str):
            statements = statements[1:]
        return statements[0].lineno, node.end_lineno or statements[0].lineno

    def add(prefix: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        copy = MUTMUT_COPY.match(node.name)
        if copy is None and prefix + node.name not in copied:
            spans[prefix + node.name] = body(node)
        elif copy is not None and copy.group(2) == "orig":
            spans[prefix + copy.group(1)] = body(node)
            copied.add(prefix + copy.group(1))

    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add("", node)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    add(f"{node.name}.", sub)
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


class MeasureError(RuntimeError):
    """The measuring run failed: its map would be empty or partial. (Not a `FrittataError`:
    the plugin would import the package measured before its import is credited.)"""


def judging_env(mutant: str, *paths: Path) -> dict[str, str]:
    """The environment of a test run judging `mutant` ("" for none) with `paths` on
    `PYTHONPATH`: the map is measured in the same one."""
    return {**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": os.pathsep.join(dict.fromkeys(map(str, paths))),
            "FRITTATA_TEST_PROFILE": "ci", "PY_IGNORE_IMPORTMISMATCH": "1"}


def measure(test_files: list[str], options: list[str], root: Path = ROOT, source: list[str] = SOURCE,
            output: Path | None = None) -> tuple[dict, dict, set[str]]:
    """Run `test_files` in `root` under coverage of `source` (subprocesses and forks too), a
    context per test; (reach, tests, files): reach as `reach_from_coverage`, tests as test id ->
    {"cpu", "passed", "fixtures", "spawned"}, files the test files collected. Raises
    `MeasureError` if pytest did not end with its tests run (exit code 0 or 1) or a collected
    test has no record. The run's output goes to `output` (a temporary file if None)."""
    with tempfile.TemporaryDirectory() as tmp:
        data, log, rc = Path(tmp) / "coverage", Path(tmp) / "tests.jsonl", Path(tmp) / "coverage.toml"
        rc.write_text(f"[tool.coverage.run]\nsource = {json.dumps(source)}\nparallel = true\n"
                      'patch = ["subprocess", "fork", "_exit"]\n')
        env = {**judging_env("", root, ROOT), "COVERAGE_FILE": str(data)}
        command = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest",
                   "--rootdir=.", "-q", "-p", "no:randomly", "-p", "bench.reach_map", "--reach-log", str(log),
                   "--reach-import", source[0].split("/")[0], *options, *test_files]
        output = output or Path(tmp) / "output.log"
        with output.open("w") as sink:
            code = subprocess.run(command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT).returncode
        if code not in (0, 1) or not log.exists():
            tail = "\n".join(output.read_text().splitlines()[-20:])
            raise MeasureError(f"measuring the reach map: expected pytest's exit code 0 or 1 (tests ran), "
                               f"got {code} (full output in {output}); its last lines:\n{tail}")
        tests, files = {}, set()
        for line in log.read_text().splitlines():
            record = json.loads(line)
            if "module" in record:
                files.add(record["module"])
            else:
                tests[record.pop("test")] = record
        unrun = [t for t, r in tests.items() if r["cpu"] is None]
        if unrun:
            raise MeasureError(f"measuring the reach map: expected a record of every collected test, got none for "
                               f"{len(unrun)} ({', '.join(unrun[:3])}...; output in {output})")
        subprocess.run([sys.executable, "-m", "coverage", "combine", f"--rcfile={rc}", f"--data-file={data}", tmp],
                       cwd=root, env=env, capture_output=True)
        return (reach_from_coverage(data, root) if data.exists() else {}), tests, files


def map_key(root: Path = ROOT, source: list[str] = SOURCE, options: tuple[str, ...] = ()) -> str:
    """A hash of what decides the whole map besides the test files and the measured source
    (`source_hashes`, checked module by module): the other Python files under tests/
    (conftest, strategies, helpers), pyproject's mutation tables and the pytest `options`, and
    the versions of Python and the tools measuring."""
    import coverage
    import hypothesis

    digest = hashlib.sha1()
    helpers = sorted(p for p in (root / "tests").rglob("*.py") if not p.name.startswith("test_"))
    for path in helpers:
        digest.update(f"{path.relative_to(root)}\0{file_hash(path)}\n".encode())
    pyproject = root / "pyproject.toml"
    tool = tomllib.loads(pyproject.read_text()).get("tool", {}) if pyproject.exists() else {}
    tables = [tool.get("mutmut"), tool.get("frittata", {}).get("mutation")]
    versions = [sys.version, coverage.__version__, hypothesis.__version__, pytest.__version__]
    digest.update(json.dumps([tables, list(options), versions], sort_keys=True).encode())
    return digest.hexdigest()


def source_hashes(root: Path = ROOT, source: list[str] = SOURCE) -> dict[str, str]:
    """Module name -> hash of its file, for every module of the package measured (`source`'s
    first part, `frittata`), whether measured or not."""
    package = root / source[0].split("/")[0]
    return {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): file_hash(p)
            for p in sorted(package.rglob("*.py"))}


def measured_module(module: str, source: list[str] = SOURCE) -> bool:
    """Whether `module` (`frittata.terms.core`) is in the measured `source` (folders, files)."""
    prefixes = [s.removesuffix(".py").replace("/", ".") for s in source]
    return any(module == p or module.startswith(p + ".") for p in prefixes)


class ReachMap:
    """The cached map: `tests` (test id -> CPU seconds, unmutated outcome, fixtures, whether it
    started a process), `reach` (module -> function -> contexts: test ids, test files, fixtures),
    `files` (test file -> hash when measured), `sources` (module -> hash when measured:
    `source_hashes`), `key` (`map_key` when measured).

    A change of the measured source makes stale only the test files that ran the changed
    modules (they may now run other functions); a change in the rest of the package (the LLVM
    backend, the tuner) is not measured and makes none stale: it is logged. The map only orders
    a mutant's tests and picks its first phase: a function it misses still meets the rest of
    the selection in the second phase, or reads "no tests" (not killed), so a stale map can
    lower the score, never raise it; a kill is confirmed by its test alone either way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        saved = json.loads(path.read_text()) if path.exists() else {}
        self.key: str = saved.get("key", "")
        self.files: dict[str, str] = saved.get("files", {})
        self.tests: dict[str, dict] = saved.get("tests", {})
        self.reach: dict[str, dict[str, list[str]]] = saved.get("reach", {})
        self.sources: dict[str, str] = saved.get("sources", {})

    def stale(self, test_files: Iterable[Path], root: Path = ROOT) -> list[str]:
        """The test files (relative to `root`) not measured, or changed since."""
        return [str(p.relative_to(root)) for p in test_files
                if self.files.get(str(p.relative_to(root))) != file_hash(p)]

    def update(self, test_files: list[Path], options: list[str], root: Path = ROOT, source: list[str] = SOURCE,
               log=sys.stderr, output: Path | None = None) -> None:
        """Measure the stale files of `test_files` (all of them if the `map_key` changed) and
        forget files no longer selected. A file's hash is kept only if it was collected."""
        key, sources = map_key(root, source, tuple(options)), source_hashes(root, source)
        if key != self.key:
            self.key, self.files, self.tests, self.reach = key, {}, {}, {}
        selected = {str(p.relative_to(root)) for p in test_files}
        changed = {m for m in set(sources) | set(self.sources) if sources.get(m) != self.sources.get(m)}
        inside = {m for m in changed if measured_module(m, source)}
        if changed - inside and self.files:
            print(f"reach map: {len(changed - inside)} modules outside the measured source changed since it was "
                  "measured (not measured: none makes a test file stale)", file=log, flush=True)
        outdated = set(self.stale(test_files, root)) | {f for m in inside for f in self.files_reaching(m)}
        stale = [f for f in (str(p.relative_to(root)) for p in test_files) if f in outdated]
        if stale:
            print(f"reach map: measuring {len(stale)} test files under coverage", file=log, flush=True)
            reach, tests, collected = measure(stale, options, root, source, output)
        else:
            reach, tests, collected = {}, {}, set()
        dropped = set(stale) | (set(self.files) - selected)
        self.merge(dropped, reach, tests)
        self.files = {f: h for f, h in self.files.items() if f not in dropped}
        self.files.update({f: file_hash(root / f) for f in stale if f in collected})
        self.sources = sources
        self.path.write_text(json.dumps({"key": self.key, "files": self.files, "tests": self.tests,
                                         "reach": self.reach, "sources": self.sources}))

    def merge(self, dropped: set[str], reach: dict, tests: dict) -> None:
        """Forget the tests of the `dropped` files, then add a measurement's."""
        def kept(test: str) -> bool:
            return test == IMPORT or test.startswith(FIXTURE) or test.split("::")[0] not in dropped

        self.tests = {t: r for t, r in self.tests.items() if kept(t)}
        self.tests.update(tests)
        for module in set(self.reach) | set(reach):
            old, new = self.reach.get(module, {}), reach.get(module, {})
            self.reach[module] = {f: sorted({t for t in old.get(f, ()) if kept(t)} | set(new.get(f, ())))
                                  for f in set(old) | set(new)}

    def tests_of(self, module: str, function: str) -> list[str] | None:
        """The tests that ran `function` of `module` and passed unmutated, fastest first (those
        starting a process last): with every test of a file whose import ran it (module-level
        values feed all of them) and every test using a fixture whose setup ran it. None when the
        map cannot say (the module was not measured, the function is not one the map names, or
        it also ran outside any test, at import)."""
        reached = self.reach.get(module, {}).get(function)
        if reached is None or IMPORT in reached:
            return None
        return self.tests_running(module, function)

    def reaching(self, module: str, function: str) -> set[str]:
        """Every test that ran `function` (itself, its file's import, or a fixture it uses),
        passing or not, and every test sharing a wider-scoped fixture argument with a test
        that ran it (the fixture's value may be a cache the other test filled)."""
        reached = set(self.reach.get(module, {}).get(function, ())) - {IMPORT}
        files = {t for t in reached if "::" not in t and not t.startswith(FIXTURE)}
        fixtures = {t.removeprefix(FIXTURE) for t in reached if t.startswith(FIXTURE)}
        tests = {t for t in reached if "::" in t}
        shared = {f for t in tests for f in self.tests.get(t, {}).get("shared", ())}
        return tests | {t for t, r in self.tests.items() if t.split("::")[0] in files
                        or (fixtures & set(r.get("fixtures", ()))) or (shared & set(r.get("shared", ())))}

    def tests_running(self, module: str, function: str) -> list[str]:
        """As `tests_of`, leaving out what ran at import: the tests that at least run it. Tests
        starting a process come after the others: their CPU seconds leave out their children's
        (a CLI test "took" 0.1 s and ran a compile for 10; seed 7's `alu.vectorisable` 3 met 60
        such tests before the one that kills it and ran out of its 90 s cap)."""
        passing = [t for t in self.reaching(module, function) if self.tests.get(t, {}).get("passed")]
        return sorted(passing, key=lambda t: (bool(self.tests[t].get("spawned")), self.tests[t]["cpu"], t))

    def failing_only(self, module: str, function: str) -> bool:
        """Whether `function` was run by tests, all failing unmutated."""
        return bool(self.reaching(module, function)) and not self.tests_running(module, function)

    def failing(self) -> list[str]:
        """The tests that fail unmutated."""
        return sorted(t for t, r in self.tests.items() if not r.get("passed"))

    def spawning(self) -> list[str]:
        """The tests that start a process, whose reach the map may miss (Ray's workers)."""
        return sorted(t for t, r in self.tests.items() if r.get("spawned"))

    def files_reaching(self, module: str) -> list[str]:
        """The test files with a test (or an import, or a fixture's user) that ran some
        function of `module`."""
        return sorted({t.split("::")[0] for f in self.reach.get(module, {}) for t in self.reaching(module, f)})
