"""Judge mutmut mutants one at a time, each on the tests that run its function, within a budget.

mutmut's own `run` first runs every selected test once to learn which tests call which function
(half an hour on a shared 2-core machine), then runs every test that calls a mutant's function.
This runner learns the same once per mutants/ folder, under coverage, and keeps it
(`bench/reach_map.py`: measured again only for test files added or changed since, all of them
if what else decides the map changed), then judges each mutant of a function F by `pytest -x`
in the mutants/ folder, with the mutant active from import on, first on the selected tests that
run F unmutated (in any process, or through a fixture they use): those of the file named for
F's module first, then those of files importing it, then the rest, fastest first in each, in
pytest runs of growing size. Those are the
likeliest to kill it, not the only ones: a test can use F's result through a cache filled in
another test, or through a process the map did not see. So once every mutant had its first
phase, the survivors run the rest of the selection as whole files (those reaching F's module,
those starting processes, then the others), within the budget. A mutant of a function no test
runs in any process is "no tests" after running only the tests that start processes. Where the
map cannot say (F also runs as frittata is imported, outside any test; its module was never
imported), the first phase is the tests the map says run F and its targeted test files (its
module's `test_<module>.py`, the test files of the modules importing it, files that import the
module or name the mutated public function), the second the rest of the selection
(`tests/<pkg>` first), each group smallest file first. Tests failing unmutated are deselected.

Verdicts: "killed" (a test failed, and, rerun alone, it fails again with the mutant and passes
without it (`confirmed`); a mutant that breaks importing its module, which runs module-level
code such as egraph's rulesets, is killed too. A test failing unmutated too, passing when rerun
with the mutant (flaky), or failing in a run that never called a function the map fully sees,
is deselected and the run goes on; if nothing else
decides, the verdict is "suspicious"), "survived" (every
selected test passed and one of them ran the mutated function), "no tests" (every selected test
passed and none ran it; `tests/mutation_profile.py --mutant-reach` records that), "failing
tests only" (the only tests running it fail unmutated), "timeout" (the mutant's cap ran out
in a test that had by then run `TIMEOUT_FACTOR` times as long as the same test takes
unmutated, rerun alone, and `TIMEOUT_FLOOR` seconds at least: the mutant made it hang or crawl;
counted as killed, as mutmut counts a timeout), "cap" (the cap ran out otherwise, its tests
still passing: not judged), "not run" (the whole budget ran out first).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.reach_map import ReachMap, judging_env
from tests.mutation_profile import CLASS_SEPARATOR

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
NOT_KILLED = ("survived", "no tests", "failing tests only", "suspicious")
UNDECIDED = ("survived", "failing tests only", "no tests")
"""The first-phase verdicts a second phase may change."""
MAX_SUSPECTS = 5
"""How many tests failing unmutated too a mutant's run deselects and runs on past."""
TIMEOUT_FACTOR = 10
TIMEOUT_FLOOR = 20.0
"""A capped mutant reads "timeout" when the test it was in had run this many times as long as
the test takes unmutated (its setup, call and teardown as pytest's durations report them, rerun
alone), and this many seconds at least: a load spike does not slow a test tenfold."""


@dataclass(frozen=True)
class Verdict:
    """What one mutant's run found: status, the test that decided it, seconds spent."""

    status: str
    test: str = ""
    seconds: float = 0.0


def pytest_options() -> tuple[list[str], list[str]]:
    """The test selection and extra pytest options of pyproject's [tool.mutmut]."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return config["pytest_add_cli_args_test_selection"], config["pytest_add_cli_args"]


def excluded() -> set[str]:
    """The test files left out of the selection: pyproject's [tool.frittata.mutation] exclude."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    return set(config.get("frittata", {}).get("mutation", {}).get("exclude", []))


def selected_files(selection: list[str], exclude: set[str] = frozenset(), root: Path = ROOT) -> list[Path]:
    """The test files of the selection (directories expanded to their test_*.py files), but
    the `exclude`d ones (paths relative to `root`)."""
    files: list[Path] = []
    for entry in selection:
        path = root / entry
        files += sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
    return [f for f in files if str(f.relative_to(root)) not in exclude]


def function_key(name: str) -> tuple[str, str]:
    """A mutant name's module and its function as the reach map names it: `f`, `Class.method`
    (mutmut's `x_f__mutmut_3`, `x<sep>Class<sep>method__mutmut_3`)."""
    module, key = name.rsplit(".", 1)
    mangled = key.rsplit("__mutmut_", 1)[0]
    if CLASS_SEPARATOR in mangled:
        return module, ".".join(mangled.split(CLASS_SEPARATOR)[1:3])
    return module, mangled.removeprefix("x_")


def plan(name: str, files: list[Path], reach: ReachMap) -> tuple[list[str], list[str]]:
    """The tests a mutant runs in each phase (test ids or files, relative to the root). First
    the tests the map says run its function; then, for a survivor, whole test files: those with
    a test reaching its module, those with a test starting a process, the rest of the selection.
    A function no test reaches runs only the tests starting processes (the map may not see
    what those reach). Where the map cannot say (it also ran at import), the tests the map says
    run it and `ordered_tests`' targeted files first, the rest after."""
    module, function = function_key(name)
    tests = reach.tests_of(module, function)
    near, rest = ordered_tests(name, files)
    relative = [str(p.relative_to(ROOT)) for p in near + rest]
    if tests is None:
        running = reach.tests_running(module, function)
        return nearest_first(name, running) + relative[:len(near)], relative[len(near):]
    if not tests and not reach.failing_only(module, function):
        return [], reach.spawning()
    spawning = [t.split("::")[0] for t in reach.spawning()]
    later = [f for f in dict.fromkeys(reach.files_reaching(module) + spawning + relative) if f in relative]
    return nearest_first(name, tests), later


def nearest_first(name: str, tests: list[str]) -> list[str]:
    """`tests` (the map's, fastest first) with those likeliest to kill a mutant first: the tests
    of the file named for its module (`frittata/extract/cpu_model.py`: `test_cpu_model.py`, or a
    file whose name holds the module's name), then those of files importing the module and
    those whose ids name the module or the mutated function, then the rest, in their order
    within each group. Fastest first alone, a function every compile runs met hundreds of
    near-zero tests before its own module's and ran out of its cap (seed 7's
    `CpuModel.compute_seconds` 15, killed in < 1 s by tests/extract/test_cpu_model.py)."""
    module, function = module_of(name)
    stem = module.rsplit(".", 1)[-1]
    imports = _imports(module) if "." in module else re.compile(rf"\b{re.escape(module)}\b")
    words = [w for w in {stem, function.strip("_")} if len(w) > 3]
    named = re.compile("|".join(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])" for w in words)) if words else None

    def group(test: str) -> int:
        path, _, rest = test.partition("::")
        file = path.rsplit("/", 1)[-1]
        if file == f"test_{stem}.py" or (len(stem) > 3 and stem in file):
            return 0
        if imports.search(_text(path)) or (named and named.search(rest)):
            return 1
        return 2

    return sorted(tests, key=group)  # stable: fastest first within a group


@functools.cache
def _text(path: str) -> str:
    file = ROOT / path
    return file.read_text() if file.is_file() else ""


def module_of(name: str) -> tuple[str, str]:
    """A mutant name's module (`frittata.terms.reductions`) and function's own name (`_prod_vjp`,
    a method's without its class)."""
    module, function = function_key(name)
    return module, function.rsplit(".", 1)[-1]


def _imports(module: str) -> re.Pattern:
    package, stem = module.rsplit(".", 1)
    return re.compile(rf"\b{re.escape(module)}\b|from {re.escape(package)} import [^\n]*\b{stem}\b")


def importers(module: str) -> set[str]:
    """The stems of the frittata modules that import `module`."""
    pattern = _imports(module)
    return {p.stem for p in (ROOT / "frittata").rglob("*.py") if pattern.search(p.read_text())}


@functools.cache
def _sources() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "frittata").rglob("*.py")))


def _distinctive(function: str) -> bool:
    """Whether a test naming `function` likely calls this one: a public name defined once."""
    return not function.startswith("_") and len(re.findall(rf"\bdef {re.escape(function)}\b", _sources())) == 1


def ordered_tests(name: str, files: list[Path]) -> tuple[list[Path], list[Path]]:
    """The selected files a mutant's tests come from: the targeted ones (its module's test
    file, files importing the module or naming the function, the test files of the modules
    importing it) and the rest (its package's tests first), each smallest file first."""
    module, function = module_of(name)
    stem, package = module.rsplit(".", 1)[1], module.split(".")[1]
    imports = _imports(module)
    named = re.compile(rf"\b{re.escape(function)}\b") if _distinctive(function) else None
    mirrors = {f"test_{m}.py" for m in {stem} | importers(module)}

    def targeted(path: Path) -> bool:
        text = path.read_text()
        return path.name in mirrors or bool(imports.search(text)) or bool(named and named.search(text))

    def rank(path: Path) -> tuple[bool, int]:
        return ROOT / "tests" / package not in path.parents, path.stat().st_size

    near = sorted((p for p in files if targeted(p)), key=rank)
    return near, sorted((p for p in files if not targeted(p)), key=rank)


def sync_tests() -> None:
    """The mutants/ folder runs the current tests (mutmut copied them when it generated), and
    has the examples some of them run."""
    for folder in ("tests", "examples"):
        shutil.rmtree(MUTANTS / folder, ignore_errors=True)
        shutil.copytree(ROOT / folder, MUTANTS / folder, ignore=shutil.ignore_patterns("__pycache__"))


def judge_mutant(name: str, tests: list[str], options: list[str], cap: float, mapped: bool = False) -> Verdict:
    """Run `tests` (ids or files) with the mutant active, first failure ending the run, for at
    most `cap` seconds, in pytest runs of growing size (`parts`). A failing test that also fails
    unmutated is deselected and the rest run on (at most `MAX_SUSPECTS` times): the verdict is
    "suspicious" only if nothing else decides. If the map saw all its function's runs (`mapped`:
    none at import, before the reach marker is set), a failure in a run that never called the
    mutated function is not the mutant's (a flaky test) and is deselected too."""
    if not tests:
        return Verdict("no tests")
    start, suspects, reached = time.time(), [], False
    for part in parts(tests):
        while True:
            left = cap - (time.time() - start)
            if left < 1:
                return Verdict("cap", seconds=time.time() - start)
            verdict = _judge_once(name, part, [*options, *(f"--deselect={t}" for t in suspects)], left, mapped)
            if verdict.status != "suspicious" or "::" not in verdict.test or len(suspects) >= MAX_SUSPECTS \
                    or time.time() - start > cap - 1:
                break
            suspects.append(verdict.test)
        if verdict.status not in ("survived", "no tests"):
            break
        reached = reached or verdict.status == "survived"
    else:
        verdict = Verdict("survived" if reached else "no tests")
    status = "suspicious" if suspects and verdict.status in ("survived", "no tests") else verdict.status
    return Verdict(status, verdict.test or ", ".join(suspects), time.time() - start)


PART_FILES = (4, 8, 16, 32, 64)
"""How many test files the first pytest runs of a mutant take (the rest go in one more run):
growing, so a kill among the nearest files costs one short run and a survivor few runs.
pytest collects the whole file of every test id it is given: one run of the tests of the ~150
files that reach a widely used function spent most of a 90 s cap collecting on the loaded
machine, and a fast test that fails with the mutant in 15 s alone was never reached (seed 7:
`alu.vectorisable` 3, `CpuModel.compute_seconds` 9)."""


def parts(tests: list[str]) -> list[list[str]]:
    """`tests` (in their order) cut into the tests of their first `PART_FILES[0]` files, of
    the next `PART_FILES[1]`, ..., and of the rest; files keep the order of their first test."""
    files = list(dict.fromkeys(t.split("::")[0] for t in tests))
    bounds = [0, *itertools.accumulate(PART_FILES), len(files)]
    groups = [set(files[lo:hi]) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    return [part for group in groups if (part := [t for t in tests if t.split("::")[0] in group])]


def _judge_once(name: str, tests: list[str], options: list[str], cap: float, mapped: bool) -> Verdict:
    """One run of `judge_mutant`: the first failing test decides."""
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        reach, current = Path(tmp) / "reached", Path(tmp) / "current"
        args = ["-x", "-rfE", "-p", "no:randomly", "--mutant-reach", str(reach), "--mutant-current", str(current),
                *options, *tests]
        code, out = _pytest(args, name, cap)
        if code == 4 and any("::" in t for t in tests):  # a test id pytest could not find again: its files
            files = list(dict.fromkeys(t.split("::")[0] for t in tests))
            code, out = _pytest([*args[:-len(tests)], *files], name, max(1.0, cap - (time.time() - start)))
        seconds = time.time() - start
        if code is None:
            return _capped(current, options, cap, start)
        if code == 0:
            return Verdict("survived" if reach.exists() else "no tests", seconds=seconds)
        if code == 3 and _breaks_import(name):  # pytest's internal error from the reach plugin's import
            return Verdict("killed", f"import {module_of(name)[0]} fails", seconds)
        failed = re.search(r"^(?:FAILED|ERROR) (\S+)", out, re.MULTILINE)
        test = failed.group(1) if failed else ""
        if code not in (1, 2) or not test or (mapped and not reach.exists()):
            return Verdict("suspicious", test or f"pytest exit code {code}", seconds)
        return Verdict(confirmed(name, test, options, cap), test, time.time() - start)


def confirmed(name: str, test: str, options: list[str], cap: float) -> str:
    """Whether `test`'s failure under the mutant is the mutant's: "killed" if, rerun alone, it
    fails again with the mutant and passes without it, else "suspicious" (the caller deselects
    it and runs on). The unmutated control alone does not tell a flaky test from a kill: a test
    failing now and then passes the control most of the time, and its one failure under the
    mutant counted; rerun under the mutant it passes most of the time. Tests run derandomized,
    so a kill reproduces. A test that fails under the mutant only after other tests ran in its
    process is not confirmed: the verdict errs toward not killed."""
    target = control_target(test)
    again, _ = _pytest([*options, target], name, cap)
    if again == 0:  # passed with the mutant: its first failure was not the mutant's
        return "suspicious"
    control, _ = _pytest([*options, target], "", cap)
    return "killed" if control == 0 else "suspicious"


def _capped(current: Path, options: list[str], cap: float, start: float) -> Verdict:
    """The verdict of a mutant whose cap ran out: "timeout" if the test it was in (`current`
    holds its node id, written when it started) had run long past its time unmutated, rerun
    alone (`hung`), else "cap"."""
    if not current.exists():
        return Verdict("cap", seconds=time.time() - start)
    test, stuck = current.read_text(), time.time() - current.stat().st_mtime
    code, out = _pytest([*options, "--durations=0", "--durations-min=0", test], "", cap)
    alone = sum(float(t) for t in re.findall(r"^([\d.]+)s (?:setup|call|teardown) ", out, re.MULTILINE))
    status = "timeout" if hung(stuck, alone, code) else "cap"
    return Verdict(status, test if status == "timeout" else "", time.time() - start)


def hung(stuck: float, alone: float, code: int | None) -> bool:
    """Whether a test the mutant held for `stuck` seconds hung: unmutated it passed (exit code
    `code` 0) in `alone` seconds, and `stuck` is past `TIMEOUT_FACTOR` times that and
    `TIMEOUT_FLOOR`."""
    return code == 0 and stuck > max(TIMEOUT_FACTOR * alone, TIMEOUT_FLOOR)


def control_target(test: str) -> str:
    """What to rerun unmutated for the failing `test` of pytest's summary: its node id, or the
    whole test function when the summary cut a parametrized id at a space (`test[(rule r`)."""
    return test.split("[")[0] if "[" in test and not test.endswith("]") else test


def _breaks_import(mutant: str) -> bool:
    """Whether importing the mutant's module fails with the mutant active and not without it."""
    def imports(active: str) -> bool:
        env = {**os.environ, "MUTANT_UNDER_TEST": active, "PYTHONPATH": str(MUTANTS)}
        command = [sys.executable, "-c", f"import {module_of(mutant)[0]}"]
        return subprocess.run(command, cwd=MUTANTS, env=env, capture_output=True).returncode == 0
    return not imports(mutant) and imports("")


def _pytest(args: list[str], mutant: str, cap: float) -> tuple[int | None, str]:
    """pytest in the mutants/ folder with `mutant` active; (exit code or None on the cap, output)."""
    env = judging_env(mutant, MUTANTS, ROOT)  # ROOT after MUTANTS: the mutated package, bench's plugin
    command = [sys.executable, "-m", "pytest", "--rootdir=.", "--tb=line", "-q", "-p", "bench.keep_order", *args]
    proc = subprocess.Popen(command, cwd=MUTANTS, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(cap, 1.0))
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            time.sleep(1)
        proc.communicate()
        return None, ""
    return proc.returncode, out


def judge_all(names: list[str], cap: float, deadline: float, save: Callable[[dict[str, Verdict]], None],
              earlier: dict[str, Verdict] | None = None, log=sys.stderr) -> tuple[dict[str, Verdict], str]:
    """Judge `names` until done or `deadline`: each first on the tests of its `plan`, then
    the ones not killed on the rest of their plan, if any; `save` is given the verdicts after
    each mutant. A mutant whose `earlier` verdict passed the first tests of a two-phase plan
    is judged before any other in each phase: a rejudge is run because tests were added for
    such survivors, and a budget spent on the others first left them unjudged. (Its two
    phases stay apart: run as one, a whole file of the second went into the first pytest run
    and ran its long tests before the new one.) The verdicts and why the run stopped."""
    selection, options = pytest_options()
    files = selected_files(selection, excluded())
    sync_tests()
    reach = ReachMap(MUTANTS / "reach.json")
    # measured in the mutants/ folder, on the code judged (its trampolines calling the originals)
    reach.update([MUTANTS / f.relative_to(ROOT) for f in files], options, MUTANTS, log=log,
                 output=MUTANTS / "reach.log")
    options = [*options, *(f"--deselect={t}" for t in reach.failing())]  # they fail unmutated
    plans = {name: plan(name, files, reach) for name in names}
    passed = {n for n, v in (earlier or {}).items() if n in plans and plans[n][1] and v.status in UNDECIDED}
    verdicts: dict[str, Verdict] = {n: (earlier or {})[n] for n in passed}
    for phase in (0, 1):
        todo = [n for n in names if n in passed] + [n for n in names if n not in passed] if phase == 0 else \
            [n for n in names if plans[n][1] and verdicts.get(n, Verdict("not run")).status in UNDECIDED]
        for k, name in enumerate(todo):
            left = deadline - time.time()
            if left < 30:
                return verdicts, (f"budget used up in phase {phase + 1} of 2: {len(todo) - k} of {len(todo)} "
                                  f"mutants of the phase not run")
            tests = plans[name][phase]
            if not tests and reach.failing_only(*function_key(name)):
                verdict = Verdict("failing tests only")
            else:
                mapped = reach.tests_of(*function_key(name)) is not None
                verdict = judge_mutant(name, tests, options, min(cap, left), mapped)
            if verdict.status == "cap" and left < cap:
                return verdicts, f"budget used up during {name} in phase {phase + 1} of 2"
            verdicts[name] = _merged(verdicts.get(name), verdict)
            save(verdicts)
            print(f"[{phase + 1}: {k + 1}/{len(todo)}] {verdict.status:<10} {verdict.seconds:6.0f} s  {name}  "
                  f"{verdict.test}", file=log, flush=True)
    return verdicts, f"done: all {len(names)} mutants judged on the tests that run them (or targeted, then the rest)"


def _merged(targeted: Verdict | None, rest: Verdict) -> Verdict:
    """The verdict over both phases: a reach in either counts, seconds add up. A mutant that
    outlived its targeted tests keeps that verdict when the rest were cut short ("cap", "not
    run"): left out as unjudged it would raise the score, so the score is a lower bound."""
    if targeted is None:
        return rest
    status = rest.status
    if status in ("cap", "not run") or (status == "no tests" and targeted.status in UNDECIDED):
        status = targeted.status
    return Verdict(status, rest.test, targeted.seconds + rest.seconds)
