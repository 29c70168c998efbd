"""What the rule checker's failures say when a compiled right side cannot be checked."""

from frittata.rewrites.check import check_rule
from frittata.rewrites.library import library_rules


def _crashing(program, inputs):
    """A runner whose backend refuses the kernel."""
    raise ValueError("no schedule fits")


def test_a_right_side_that_does_not_compile_fails_naming_the_error():
    """The failure says what stopped the backend (the exception's type and message) and the right side."""
    rule = next(r for r in library_rules() if r.name == "tile-dense/v8-m6x16-k256")
    result = check_rule(rule, examples=2, compiled={"llvm": _crashing})
    assert not result.passed
    assert result.failure.startswith("compiled right side does not build or run: ValueError: no schedule fits; rhs = ")
