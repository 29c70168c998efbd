"""pytest plugin for mutation runs (`-p tests.mutation_profile`, set in pyproject's [tool.mutmut]).

Loads a hypothesis profile on top of the one conftest.py chose: derandomized, so a mutant's
verdict does not depend on luck or on the order mutants run in; no example database, so one
mutant's failing example is not replayed against the next; no shrinking, since a mutant only
needs a failure, not a minimal one (shrinking a mutant's failure took minutes, past mutmut's
timeout); at most 20 examples where a test does not pin its own count (the CI profile's size).
"""

from hypothesis import Phase, settings


def pytest_sessionstart(session) -> None:
    settings.register_profile("mutation", parent=settings.default, derandomize=True, database=None,
                              phases=(Phase.explicit, Phase.reuse, Phase.generate), max_examples=20)
    settings.load_profile("mutation")
