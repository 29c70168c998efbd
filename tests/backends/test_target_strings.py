"""Target strings ("llvm -mtriple=... -mcpu=... -mattr=...") that name no machine LLVM can
generate code for are a `TargetError` saying what was expected, what was given and where."""

from __future__ import annotations

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
