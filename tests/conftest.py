"""Test configuration: hypothesis profiles, selected by FRITTATA_TEST_PROFILE.

`dev` (the default) for local runs, `ci` (what `.ci/run` selects: fewer examples, derandomized,
the same assertions) and `deep` for a long local hunt. Property tests do not pin
`max_examples`, so the profile governs how hard every one of them looks; the ones that compile
a program per example are marked `compiling`, and the ci profile draws fewer of those.
"""

import functools
import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "FRITTATA_TEST_PROFILE"

settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=list(HealthCheck),
                          print_blob=True)
settings.register_profile("ci", parent=settings.get_profile("dev"), max_examples=20, derandomize=True)
settings.register_profile("deep", parent=settings.get_profile("dev"), max_examples=500)
settings.load_profile(os.environ.get(PROFILE_VARIABLE, "dev"))

CI_COMPILING_EXAMPLES = 8


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long_running` (a minute or so each on CI) run first, the rest in collection
    order: pytest-xdist hands tests out in order, so a long test met last would run alone on one
    worker while the other idles. The sort is stable and every worker makes the same one."""
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)


def compiling(test):
    """For a property test that compiles a program for every example (a second or two each on
    CI's two shared cores): the `ci` profile draws `CI_COMPILING_EXAMPLES` examples instead of
    its count; the other profiles keep theirs. The assertions are the same in every profile."""
    if os.environ.get(PROFILE_VARIABLE, "dev") != "ci":
        return test
    return settings(max_examples=CI_COMPILING_EXAMPLES)(test)


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's own id: its data does not depend on which tests ran."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


SATURATION_PHASE_SECONDS = 120.0
"""Each saturation phase's wall-clock bound in the zoo saturations tests share, and in the other
tests that check what a saturation yields (which ops a compile ends with), not its speed: a phase
stopped by the clock yields a smaller e-graph, and on CI's two busy cores (two test workers) the
default 5 s bound could stop a phase that takes 0.4 s alone. The node and iteration bounds stay
the defaults. A test whose e-graph never saturates (the clock's forecast stops it whatever the
bound) bounds its iterations instead."""


@pytest.fixture(scope="session")
def zoo_saturated():
    """`saturate(zoo.get(name))` (the library and default schedule; the default limits but
    `SATURATION_PHASE_SECONDS`) once per zoo model per session, as a function of the name: four
    test files read the same saturations (0.3-2 s of CPU each); a test only reads what it returns.
    A phase that still stops on the clock fails the test that asked, by its name and report."""
    from frittata.rewrites import Limits, saturate
    from frittata.terms import zoo

    def saturated(name: str):
        data, report = saturate(zoo.get(name), limits=Limits(seconds=SATURATION_PHASE_SECONDS))
        stopped = [p.name for p in report.phases if p.stop_reason == "time-limit"]
        assert not stopped, f"{name}: phases {stopped} stopped on the {SATURATION_PHASE_SECONDS} s limit:\n{report}"
        return data, report

    return functools.cache(saturated)


@pytest.fixture(autouse=True, scope="session")
def _private_kernel_cache(tmp_path_factory):
    """Every test session compiles into its own, initially empty kernel cache, never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRITTATA_CACHE_DIR", str(tmp_path_factory.mktemp("kernel-cache")))
        patch.delenv("FRITTATA_CACHE", raising=False)
        yield
