"""The tree stays lint-clean: ruff over the code, tests, benches and examples, and mypy over
`frittata/` (settings for both in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.long_running  # a cold mypy run takes a minute or more


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)}: expected a clean run, got:\n{done.stdout}{done.stderr}"


def test_ruff_clean():
    _run("ruff", "check", "--no-cache", "frittata", "tests", "bench", "examples")


def test_mypy_clean():
    _run("mypy")
