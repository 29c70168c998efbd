"""Attribute values that Python's `==` confuses go through the whole compile intact.

`-0.0 == 0.0`, `1 == 1.0 == True` and `nan != nan` in Python, yet an operator tells them apart:
`np.clip(+0.0, -0.0, None)` is -0.0 and `np.clip(+0.0, 0.0, None)` is +0.0, `x + 0.0` is not `x`
for x = -0.0, a NaN bound makes a clip NaN. Programs whose attributes and constants are drawn
among such values, with several outputs so that look-alike nodes share one e-graph, compile with
every rule family and equal the interpreter bit for bit, signed zeros and NaNs included.
"""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
import frittata.terms as T
from tests.conftest import compiling

VALUES = (-0.0, 0.0, 1, 1.0, True, math.nan)
X = np.array([-0.0, 0.0, 1.0, -1.0, 0.5, -2.0, 3.0, -0.0], np.float32).reshape(1, 2, 2, 2)
W = np.array([1.0, -1.0, 0.5, -0.0], np.float32).reshape(2, 2, 1, 1)
B = np.array([-0.0, 0.0], np.float32)


def _value(draw) -> object:
    return draw(st.sampled_from(VALUES))


def _clip(draw, t: T.Term) -> T.Term:
    lo, hi = draw(st.sampled_from(VALUES + (None,))), draw(st.sampled_from(VALUES + (None,)))
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return T.clip(t, lo, hi)


STEPS = {
    "clip": _clip,
    "clip-low": lambda draw, t: T.clip(t, _value(draw), None),
    "leaky_relu": lambda draw, t: T.leaky_relu(t, _value(draw)),
    "hard_sigmoid": lambda draw, t: T.hard_sigmoid(t, _value(draw), _value(draw)),
    "add": lambda draw, t: T.add(t, T.const(_value(draw))),
    "sub": lambda draw, t: T.sub(t, T.const(_value(draw))),
    "mul": lambda draw, t: T.mul(t, T.const(_value(draw))),
    "maximum": lambda draw, t: T.maximum(t, T.const(_value(draw))),
    "relu": lambda draw, t: T.relu(t),
    "conv": lambda draw, t: T.add(T.conv2d(t, T.param("w", W)), T.reshape(T.param("b", B), (1, 2, 1, 1))),
}


@st.composite
def programs(draw) -> ft.Program:
    x = T.var("x", X.shape)
    outputs = {}
    for i in range(draw(st.integers(1, 3))):
        t = x
        for _ in range(draw(st.integers(1, 3))):
            t = STEPS[draw(st.sampled_from(sorted(STEPS)))](draw, t)
        outputs[f"y{i}"] = t
    return ft.Program(outputs)


def _bits(a: np.ndarray) -> np.ndarray:
    """The float32 bits of `a`, every NaN as one (numpy keeps no NaN payload promise)."""
    return np.where(np.isnan(a), np.float32(np.nan), a).astype(np.float32).view(np.uint32)


@compiling
@given(programs())
def test_compiled_programs_keep_signed_zeros_kinds_and_nans_of_attributes(program):
    want = ft.evaluate(program, {"x": X})
    got = ft.compile(program, target="llvm").run(x=X)
    for name, value in want.items():
        np.testing.assert_array_equal(_bits(got[name]), _bits(value), err_msg=f"{name} = {program.outputs[name]!r}")


def test_adding_plus_zero_is_not_dropped():
    """`x + 0.0` gives +0.0 for x = -0.0: `simplify-add-zero` drops only `x + -0.0` (floats) and
    `x + 0` (ints); `clip(clip(x, 0.0), -0.0)` is not its inner clip at -0.0."""
    x = T.var("x", X.shape)
    program = ft.Program({"plus": T.add(x, T.const(0.0)), "minus": T.add(x, T.const(-0.0)),
                          "clips": T.clip(T.clip(x, 0.0, None), -0.0, None), "inner": T.clip(x, -0.0, None)})
    module = ft.compile(program, target="llvm")
    want = ft.evaluate(program, {"x": X})
    for name, value in module.run(x=X).items():
        np.testing.assert_array_equal(_bits(value), _bits(want[name]), err_msg=name)
    assert module.program.outputs["minus"].op == T.Op.INPUT
