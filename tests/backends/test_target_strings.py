"""Target strings ("llvm -mtriple=... -mcpu=... -mattr=...") that name no machine LLVM can
generate code for are a `TargetError` saying what was expected, what was given and where."""

from __future__ import annotations

import subprocess
import sys

import pytest

from frittata.backends.jit import Machine
from frittata.errors import TargetError


@pytest.mark.parametrize("spec, message", [
    ("gcc", "expected 'llvm'"),
    ("llvm -mcpu", "each with a value"),
    ("llvm -O3=1", "expected options"),
    ("llvm -mtriple=nope-nope", "a triple LLVM"),
])
def test_a_malformed_target_string_is_a_target_error(spec, message):
    with pytest.raises(TargetError, match=message):
        Machine.parse(spec)


def test_the_package_initialises_llvm_where_it_first_needs_a_target():
    """A fresh process whose first LLVM use is the barrier's layout or a machine built directly
    (as tests/backends/llvm/test_snapshots.py's first test does) finds the target registered."""
    first_uses = ("from frittata.backends.llvm.barrier import phase_word\n"
                  "print(phase_word('x86_64-unknown-linux-gnu'), phase_word('aarch64-linux-gnu'))\n"
                  "from frittata.backends.jit import Machine\n"
                  "print(Machine('aarch64-linux-gnu', 'cortex-a72', '+neon').machine().triple)\n")
    done = subprocess.run([sys.executable, "-c", first_uses], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "3", "aarch64-linux-gnu"]
