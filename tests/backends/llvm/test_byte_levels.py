"""Fused elementwise maps of one 8-bit tensor onto a few levels (`byte_levels`): compiled equal
to the interpreter on generated requantizations (a rounding shift of the int32 value, a clip,
a relu, the cast back), shapes (sizes past and below a chunk of 32), input and output dtypes and
teams of 1-3 threads, on both ISAs, through the byte compares whenever they apply; maps that are
not monotone onto 0..3 keep the general kernel, and compile equal to the interpreter there."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata.terms as T
from frittata.backends.llvm import build
from frittata.backends.llvm import byte_levels as byte_levels_module
from frittata.backends.llvm.byte_levels import byte_levels
from frittata.terms.fused import fused_elementwise
from tests.backends.llvm.helpers import targets
from tests.conftest import compiling

TARGETS = targets()


def requantization(shift: int, lo: int, hi: int, relu: bool, out: str = "int8") -> tuple:
    value: tuple = ("cast", ("arg", 0), "int32")
    if relu:
        value = ("relu", value)
    return ("cast", ("clip", ("right_shift", value, shift), lo, hi), out)


def every_value_first(shape: list[int], dtype: str, seed: int) -> np.ndarray:
    """Random values of `dtype`, the first min(size, 256) of them a permutation of the dtype's
    values, so that each input reaches the thresholds (random values alone rarely land on one)."""
    info, rng = np.iinfo(dtype), np.random.default_rng(seed)
    x = rng.integers(info.min, info.max, math.prod(shape), endpoint=True)
    every = rng.permutation(np.arange(info.min, info.max + 1))
    x[:len(every)] = every[:len(x)]
    return x.astype(dtype).reshape(shape)


@contextmanager
def emitted() -> Iterator[list[str]]:
    """The output dtype of each kernel `emit_byte_levels` emits inside the block."""
    taken: list[str] = []
    emit = byte_levels_module.emit_byte_levels

    def spy(k, t, x, out, thresholds):
        emit(k, t, x, out, thresholds)
        taken.append(t.dtype)

    with mock.patch.object(byte_levels_module, "emit_byte_levels", spy):
        yield taken


def assert_compiled_equal(t: T.Term, x: np.ndarray, target: str, threads: int) -> list[str]:
    """Build `t` of input "x" on `threads` threads, run it, compare with the interpreter; the
    output dtypes of the byte compares emitted."""
    program = T.Program({"y": t})
    with emitted() as taken:
        got = build(program, threads=threads, target=TARGETS[target]).run(x=x)["y"]
    want = T.evaluate(program, {"x": x})["y"]
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    return taken


@compiling
@given(st.integers(0, 8), st.sampled_from([(0, 1), (0, 3), (1, 2), (-1, 1)]), st.booleans(),
       st.sampled_from(["int8", "uint8"]), st.sampled_from(["int8", "uint8"]),
       st.lists(st.integers(1, 40), min_size=1, max_size=3), st.sampled_from(sorted(TARGETS)),
       st.sampled_from([1, 2, 3]), st.integers(0, 2**32 - 1))
def test_byte_levels_equal_the_interpreter(shift, bounds, relu, dtype, out, shape, target, threads, seed):
    x = every_value_first(shape, dtype, seed)
    expr = requantization(shift, *bounds, relu, out)
    if out == "uint8" and bounds[0] < 0:  # a clip below 0 cast to uint8 wraps (255): not 0..L
        expr = requantization(shift, 0, bounds[1], relu, out)
    t = fused_elementwise(T.var("x", tuple(shape), dtype), expr=expr)
    levels = byte_levels(t)
    assert levels is not None or bounds[0] < 0  # a clip from 0 gives levels 0..hi
    taken = assert_compiled_equal(t, x, target, threads)
    assert taken == ([out] if levels is not None else [])


@compiling
@given(st.sampled_from(["neg", "abs", "scale"]), st.lists(st.integers(1, 40), min_size=1, max_size=2),
       st.sampled_from(sorted(TARGETS)), st.sampled_from([1, 2, 3]), st.integers(0, 2**32 - 1))
def test_maps_that_are_not_monotone_compile_through_the_general_kernel(kind, shape, target, threads, seed):
    value: tuple = ("cast", ("arg", 0), "int32")
    value = {"neg": ("neg", value), "abs": ("abs", value), "scale": ("mul", value, ("const", -1, "int32"))}[kind]
    expr = ("cast", ("clip", value, 0, 3), "int8")
    x = every_value_first(shape, "int8", seed)
    t = fused_elementwise(T.var("x", tuple(shape), "int8"), expr=expr)
    assert byte_levels(t) is None
    assert assert_compiled_equal(t, x, target, threads) == []


def test_maps_that_are_not_monotone_levels_keep_the_general_kernel():
    x = T.var("x", (4, 40), "int8")
    negated = ("cast", ("clip", ("neg", ("cast", ("arg", 0), "int32")), 0, 1), "int8")
    wide = ("cast", ("clip", ("arg", 0), 0, 9), "int8")
    assert byte_levels(fused_elementwise(x, expr=negated)) is None  # decreasing
    assert byte_levels(fused_elementwise(x, expr=wide)) is None  # 9 levels
    assert byte_levels(fused_elementwise(x, expr=requantization(7, 0, 1, False))).tolist() == [64]
