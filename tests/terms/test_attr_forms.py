"""Shared attribute forms: pairs, 4-sided pads and axes, as the builders normalize and refuse them."""

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T
from frittata.terms.attr_forms import axis

X = T.var("x", (1, 4, 6, 6))
W = T.param("w", np.ones((8, 4, 3, 3), np.float32))


def test_an_int_stride_is_both_strides_and_two_pads_are_height_then_width():
    y = T.conv2d(X, W, strides=2, pads=(1, 2))
    assert y.attr("strides") == (2, 2) and y.attr("pads") == (1, 2, 1, 2)
    assert y.shape == (1, 8, (6 + 2 - 3) // 2 + 1, (6 + 4 - 3) // 2 + 1)


def test_four_pads_are_top_left_bottom_right():
    y = T.conv2d(X, W, pads=(0, 1, 2, 3))
    assert y.attr("pads") == (0, 1, 2, 3)
    assert y.shape == (1, 8, 6 + 0 + 2 - 3 + 1, 6 + 1 + 3 - 3 + 1)


@pytest.mark.parametrize("attrs, message", [
    ({"strides": (1, 2, 3)}, r"expected strides as an int or 2 ints, got \(1, 2, 3\)"),
    ({"dilations": ()}, r"expected dilations as an int or 2 ints, got \(\)"),
    ({"pads": (1, 2, 3)}, r"expected pads as an int, 2 or 4 ints, got \(1, 2, 3\)"),
])
def test_a_pair_or_pads_of_another_length_says_what_it_expected(attrs, message):
    with pytest.raises(ft.FrittataTypeError, match=message):
        T.conv2d(X, W, **attrs)


def test_a_negative_axis_counts_from_the_end():
    assert T.softmax(X, axis=-1).attr("axis") == 3
    assert T.softmax(X, axis=-4).attr("axis") == 0
    assert axis(-1, 3, "op") == 2


@pytest.mark.parametrize("value", [4, -5])
def test_an_axis_out_of_range_names_the_op_the_range_and_the_value(value):
    with pytest.raises(ft.FrittataTypeError, match=rf"softmax: expected axis in \[-4, 4\), got {value}$"):
        T.softmax(X, axis=value)


def test_a_scalar_has_the_one_axis_zero():
    assert axis(0, 0, "op") == 0
    for value in (1, -1):
        with pytest.raises(ft.FrittataTypeError, match=rf"op: expected axis in \[0, 0\), got {value}"):
            axis(value, 0, "op")
