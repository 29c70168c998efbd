"""pytest plugin for mutation runs (`-p tests.mutation_profile`, set in pyproject's [tool.mutmut]).

Loads a hypothesis profile on top of the one conftest.py chose: derandomized, so a mutant's
verdict does not depend on luck or on the order mutants run in; no example database, so one
mutant's failing example is not replayed against the next; no shrinking, since a mutant only
needs a failure, not a minimal one (shrinking a mutant's failure took minutes, past mutmut's
timeout); at most 20 examples where a test does not pin its own count (the CI profile's size).

`--mutant-reach FILE` (bench/mutant_runner.py passes it) creates FILE when the mutated function
of the mutant under test (`MUTANT_UNDER_TEST`, as mutmut names it) first runs, so a mutant
that every test passed can be told apart from one no test reached. `--mutant-current FILE`
holds the node id of the test running, so a run cut at its time cap can tell which test it
was in (bench/mutant_runner.py judges whether the mutant made that test hang).
"""

import functools
import importlib
import inspect
import os
from pathlib import Path

from hypothesis import Phase, settings


def pytest_addoption(parser) -> None:
    parser.addoption("--mutant-reach", default=None, help="file created when the mutant under test runs")
    parser.addoption("--mutant-current", default=None, help="file holding the node id of the test running")


def pytest_runtest_protocol(item, nextitem) -> None:
    """Write the starting test's node id to `--mutant-current`, so a run cut at its cap can
    tell which test it was in, and since when (the file's modification time)."""
    current = item.config.getoption("--mutant-current")
    if current:
        Path(current).write_text(item.nodeid)


def pytest_sessionstart(session) -> None:
    settings.register_profile("mutation", parent=settings.default, derandomize=True, database=None,
                              phases=(Phase.explicit, Phase.reuse, Phase.generate), max_examples=20)
    settings.load_profile("mutation")
    marker = session.config.getoption("--mutant-reach")
    if marker:
        _watch(os.environ["MUTANT_UNDER_TEST"], Path(marker))


CLASS_SEPARATOR = "\u01c1"
"""What mutmut 3.8.1 puts around the class name of a method's mutant: x<sep>Class<sep>method__mutmut_3."""


def _watch(mutant: str, marker: Path) -> None:
    """Make the mutant's first call create `marker`. mutmut's trampoline looks the mutated
    function up in its function's mutant table on every call, so the table entry is wrapped;
    for a classmethod it then calls the class's attribute of that entry's name instead (bound to
    the class the call came through), so that attribute is wrapped too."""
    module_name, key = mutant.rsplit(".", 1)
    module = importlib.import_module(module_name)
    table = getattr(module, f"mutants_{key.rsplit('__mutmut_', 1)[0]}__mutmut")
    reach = _Reach(marker)
    table[key] = reach.wrap(table[key])
    if key.startswith(f"x{CLASS_SEPARATOR}"):
        owner = getattr(module, key.split(CLASS_SEPARATOR)[1])
        method = inspect.getattr_static(owner, key)
        if isinstance(method, classmethod):
            setattr(owner, key, classmethod(reach.wrap(method.__func__)))


class _Reach:
    """Creates `marker` on the first call of any function it wrapped."""

    def __init__(self, marker: Path) -> None:
        self.marker, self.seen = marker, False

    def wrap(self, fn):
        @functools.wraps(fn)
        def reached(*args, **kwargs):
            if not self.seen:
                self.marker.touch()
                self.seen = True
            return fn(*args, **kwargs)

        return reached
