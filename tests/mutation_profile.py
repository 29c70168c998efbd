"""pytest plugin for mutation runs (`-p tests.mutation_profile`, set in pyproject's [tool.mutmut]).

Loads a hypothesis profile on top of the one conftest.py chose: derandomized, so a mutant's
verdict does not depend on luck or on the order mutants run in; no example database, so one
mutant's failing example is not replayed against the next; no shrinking, since a mutant only
needs a failure, not a minimal one (shrinking a mutant's failure took minutes, past mutmut's
timeout); at most 20 examples where a test does not pin its own count (the CI profile's size).

`--mutant-reach FILE` (bench/mutant_runner.py passes it) creates FILE when the mutated function
of the mutant under test (`MUTANT_UNDER_TEST`, as mutmut names it) first runs, so a mutant
that every test passed can be told apart from one no test reached.
"""

import functools
import importlib
import os
from pathlib import Path

from hypothesis import Phase, settings


def pytest_addoption(parser) -> None:
    parser.addoption("--mutant-reach", default=None, help="file created when the mutant under test runs")


def pytest_sessionstart(session) -> None:
    settings.register_profile("mutation", parent=settings.default, derandomize=True, database=None,
                              phases=(Phase.explicit, Phase.reuse, Phase.generate), max_examples=20)
    settings.load_profile("mutation")
    marker = session.config.getoption("--mutant-reach")
    if marker:
        _watch(os.environ["MUTANT_UNDER_TEST"], Path(marker))


def _watch(mutant: str, marker: Path) -> None:
    """Wrap the mutant's entry in its function's mutant table (mutmut's trampoline looks the
    mutated function up there on every call) so that its first call creates `marker`."""
    module_name, key = mutant.rsplit(".", 1)
    table = getattr(importlib.import_module(module_name), f"mutants_{key.rsplit('__mutmut_', 1)[0]}__mutmut")
    mutated = table[key]

    seen = []

    @functools.wraps(mutated)
    def reached(*args, **kwargs):
        if not seen:
            marker.touch()
            seen.append(True)
        return mutated(*args, **kwargs)

    table[key] = reached
