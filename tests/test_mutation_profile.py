"""tests/mutation_profile.py's reach marker: created when the mutant under test first runs, be it
a function, a method or a classmethod, and not before.

The mutated module stands in for what mutmut 3.8.1 generates (mutmut is not a test dependency):
a module-level mutant table per function, the mutants beside the original, and a trampoline
that calls the table's entry, or for a classmethod the class's attribute of that entry's name.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from tests.mutation_profile import CLASS_SEPARATOR, _watch

MUTATED = """
mutants_x<S>Box<S>make__mutmut = {}
mutants_x<S>Box<S>plus__mutmut = {}
mutants_x_top__mutmut = {}


class Box:
    def __init__(self, n):
        self.n = n

    @classmethod
    def make(cls, n):
        return getattr(cls, mutants_x<S>Box<S>make__mutmut["x<S>Box<S>make__mutmut_1"].__name__)(n)

    @classmethod
    def x<S>Box<S>make__mutmut_1(cls, n):
        return cls(n - 1)

    def plus(self, k):
        return mutants_x<S>Box<S>plus__mutmut["x<S>Box<S>plus__mutmut_1"](self, k)

    def x<S>Box<S>plus__mutmut_1(self, k):
        return self.n - k


def top(n):
    return mutants_x_top__mutmut["x_top__mutmut_1"](n)


def x_top__mutmut_1(n):
    return n - 1


mutants_x<S>Box<S>make__mutmut["x<S>Box<S>make__mutmut_1"] = Box.x<S>Box<S>make__mutmut_1
mutants_x<S>Box<S>plus__mutmut["x<S>Box<S>plus__mutmut_1"] = Box.x<S>Box<S>plus__mutmut_1
mutants_x_top__mutmut["x_top__mutmut_1"] = x_top__mutmut_1
""".replace("<S>", CLASS_SEPARATOR)

CALLS = {
    "x<S>Box<S>make__mutmut_1": lambda m: m.Box.make(3).n,
    "x<S>Box<S>plus__mutmut_1": lambda m: m.Box(3).plus(1),
    "x_top__mutmut_1": lambda m: m.top(3),
}


@pytest.mark.parametrize("mutant", sorted(CALLS))
def test_the_marker_is_created_when_the_mutant_first_runs(mutant, tmp_path, monkeypatch):
    (tmp_path / "standin_mutated.py").write_text(MUTATED)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "standin_mutated", raising=False)
    marker = tmp_path / "reached"
    key = mutant.replace("<S>", CLASS_SEPARATOR)
    _watch(f"standin_mutated.{key}", marker)
    module = importlib.import_module("standin_mutated")
    for other, call in CALLS.items():
        if other != mutant:
            call(module)
    assert not marker.exists()
    assert CALLS[mutant](module) == 2
    assert marker.exists()
