"""CI selects the `ci` hypothesis profile, and no property test overrides the profile's count."""

import re
from pathlib import Path

from hypothesis import settings

from tests.conftest import CI_COMPILING_EXAMPLES, PROFILE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]


def test_ci_script_selects_a_registered_profile_with_fewer_examples():
    script = (ROOT / ".ci" / "run").read_text()
    found = re.search(rf"^export {PROFILE_VARIABLE}=(\w+)$", script, re.MULTILINE)
    assert found, f".ci/run must export {PROFILE_VARIABLE}"
    ci, dev = settings.get_profile(found.group(1)), settings.get_profile("dev")
    assert 0 < ci.max_examples < dev.max_examples and ci.derandomize
    assert 0 < CI_COMPILING_EXAMPLES < ci.max_examples  # property tests marked `compiling`
    assert script.index(f"export {PROFILE_VARIABLE}") < script.index("python -m pytest")


# files that measure a fixed sample of a generator (not a property): the count is the sample size
SAMPLES = {"test_profiles.py", "test_strategies.py"}


def test_no_test_pins_max_examples():
    pinned = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "tests").rglob("test_*.py") if p.name not in SAMPLES
              for n, line in enumerate(p.read_text().splitlines(), 1) if "max_examples" in line]
    assert not pinned, f"the profile governs the example count; pinned in {pinned}"
