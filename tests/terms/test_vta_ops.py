"""The VTA ops' meaning in the interpreter: an exact integer convolution."""

import numpy as np
import pytest

from frittata.terms.vta_ops import conv2d_int


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
