"""Hypothesis oracle: generated programs compiled for llvm equal the reference interpreter."""

from __future__ import annotations

from hypothesis import given

import frittata as ft
from frittata import terms as T

from tests.backends.llvm.helpers import check
from tests.conftest import compiling
from tests.strategies import int_programs, programs


@compiling
@given(programs())
def test_generated_programs(program):
    check(program, rtol=2e-4, atol=2e-5)


@compiling
@given(programs(max_ops=3))
def test_generated_programs_single_thread(program):
    check(program, threads=1, rtol=2e-4, atol=2e-5)


@compiling
@given(int_programs())
def test_generated_int8_programs(program):
    check(program)


def test_outputs_that_alias_intermediates_keep_them_alive():
    """Each output a reshape of its own transpose: the transposes live in the arena until the
    output copies at the end read them, so the second must not take the first's place."""
    x, y = T.var("x", (2, 3)), T.var("y", (2, 3))
    check(ft.Program({"a": T.reshape(T.transpose(x, (1, 0)), (6,)),
                      "b": T.reshape(T.transpose(y, (1, 0)), (6,))}))
