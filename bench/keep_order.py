"""pytest plugin of the mutant runner's runs (`-p bench.keep_order`): tests run in the order
given on the command line.

The suite's conftest moves `long_running` tests to the front (pytest-xdist hands tests out in
order); in a mutant's run that undid the runner's order (its module's own tests first, fastest
first): seed 8's `check.rules_check_main` 29, killed in 15 s by a test second on the command
line, was cut at its 75 s cap in a long test of another file that the sort ran first.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]):
    given = {id(item): k for k, item in enumerate(items)}  # collected in command-line order
    result = yield
    items.sort(key=lambda item: given[id(item)])
    return result
