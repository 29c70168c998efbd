"""The VTA ops' meaning in the interpreter: an exact integer convolution, and the blocked
layout that packing and unpacking move between."""

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.terms.vta_ops import conv2d_int, pack_term, unpack_term


@pytest.mark.parametrize("strides, pads", [((1, 1), (0, 0, 0, 0)), ((2, 1), (1, 0, 2, 1))])
def test_conv2d_int_is_the_exact_integer_convolution(strides, pads, rng):
    """Against a loop over taps in int64, at the int8 extremes (sums past float32's 2^24)."""
    x = rng.choice(np.array([-128, 127], np.int8), (2, 48, 7, 6))
    w = rng.choice(np.array([-128, 127], np.int8), (5, 48, 3, 2))
    (sh, sw), (top, left, bottom, right) = strides, pads
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    oh, ow = (xp.shape[2] - 3) // sh + 1, (xp.shape[3] - 2) // sw + 1
    want = np.zeros((2, 5, oh, ow), np.int64)
    for i in range(3):
        for j in range(2):
            patch = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            want += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.int64))
    got = conv2d_int(x, w, strides, pads)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape, outer, inner", [((4, 6), 2, 3), ((2, 32, 3, 5), 1, 16), ((4, 6, 2, 3), 2, 3)])
def test_unpack_term_inverts_pack_term_and_pack_is_the_blocked_layout(shape, outer, inner, rng):
    """[N, C, ...] -> [N/outer, C/inner, ..., outer, inner]: element [n, c, *s] of x lands at
    [n // outer, c // inner, *s, n % outer, c % inner]; unpacking gives x back."""
    x = rng.standard_normal(shape).astype(np.float32)
    packed_term = pack_term(T.var("x", shape), outer, inner)
    packed = ft.evaluate(ft.Program({"y": packed_term}), {"x": x})["y"]
    n, c, *spatial = shape
    want = np.moveaxis(x.reshape(n // outer, outer, c // inner, inner, *spatial), (1, 3), (-2, -1))
    np.testing.assert_array_equal(packed, want)
    back = ft.evaluate(ft.Program({"y": unpack_term(T.var("p", packed.shape))}), {"p": packed})["y"]
    np.testing.assert_array_equal(back, x)
