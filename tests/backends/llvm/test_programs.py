"""Hypothesis oracle: generated programs compiled for llvm equal the reference interpreter."""

from __future__ import annotations

from hypothesis import given

from tests.backends.llvm.helpers import check
from tests.strategies import int_programs, programs


@given(programs())
def test_generated_programs(program):
    check(program, rtol=2e-4, atol=2e-5)


@given(programs(max_ops=3))
def test_generated_programs_single_thread(program):
    check(program, threads=1, rtol=2e-4, atol=2e-5)


@given(int_programs())
def test_generated_int8_programs(program):
    check(program)
