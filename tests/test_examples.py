"""Every script in examples/ runs to completion (each asserts its own result)."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))
ARGS = {"train_digits.py": ["--quick"], "lowbit_networks.py": ["--quick"]}
"""Arguments that shorten a script's run for CI (the full run is a benchmark)."""


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script):
    command = [sys.executable, str(script), *ARGS.get(script.name, [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
