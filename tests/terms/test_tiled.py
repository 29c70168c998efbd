"""Type inference of the tiled kernel ops: a schedule that does not fit its operands is refused
with a message naming the op, what was expected and what was given."""

import re

import numpy as np
import pytest

import frittata.terms.builders as tb
from frittata.errors import FrittataTypeError


def _dense(parallel: str):
    x = tb.var("x", (5, 7))
    w, b = tb.param("w", np.zeros((16, 7), np.float32)), tb.param("b", np.zeros(16, np.float32))
    schedule = (("vec", 8), ("m_block", 4), ("m_tail", 1), ("n_block", 16), ("n_tail", 0), ("k_block", 7),
                ("parallel", parallel))
    return tb.tiled_dense(x, w, b, schedule=schedule)


def _conv(parallel: str, *, channels: int = 3, groups: int = 1, kernel: int = 3):
    x = tb.var("x", (1, channels, 10, 10))
    out = channels if groups > 1 else 16
    w = tb.param("w", np.zeros((out, channels // groups, kernel, kernel), np.float32))
    b = tb.param("b", np.zeros(out, np.float32))
    pad = kernel // 2
    if groups > 1:
        schedule = (("vec", 8), ("oh_block", 2), ("oh_tail", 0), ("ow_block", 8), ("ow_tail", 2))
    elif kernel == 1:   # the pixel GEMM: 100 pixels by 16 channels
        schedule = (("vec", 8), ("m_block", 6), ("m_tail", 4), ("n_block", 16), ("n_tail", 0))
    else:
        schedule = (("vec", 8), ("oc_block", 8), ("oc_tail", 0), ("ow_block", 8), ("ow_tail", 2),
                    ("c_block", 2), ("c_tail", 1))
    return tb.tiled_conv2d(x, w, b, pads=(pad,) * 4, groups=groups, schedule=schedule + (("parallel", parallel),))


@pytest.mark.parametrize("build, good, out_shape, bad, message", [
    (_dense, "n", (5, 16), "oc", "tiled_dense: expected a parallel loop in ('n', 'm'), got oc"),
    (_dense, "m", (5, 16), "pixel", "tiled_dense: expected a parallel loop in ('n', 'm'), got pixel"),
    (_conv, "oc", (1, 16, 10, 10), "n", "tiled_conv2d: expected a parallel loop in ('oc', 'pixel'), got n"),
    (_conv, "pixel", (1, 16, 10, 10), "channel",
     "tiled_conv2d: expected a parallel loop in ('oc', 'pixel'), got channel"),
    (lambda p: _conv(p, groups=3), "channel", (1, 3, 10, 10), "oc",
     "tiled_conv2d: expected a parallel loop in ('channel',), got oc"),
    (lambda p: _conv(p, kernel=1), "n", (1, 16, 10, 10), "m",
     "tiled_conv2d: expected a parallel loop in ('n',), got m"),
])
def test_a_parallel_loop_the_kernel_has_not_is_named(build, good, out_shape, bad, message):
    """Each kernel form splits its own loops across threads; any other name is refused with the
    loops it has (not a KeyError from reading the schedule)."""
    assert build(good).type.shape == out_shape
    with pytest.raises(FrittataTypeError, match=re.escape(message)):
        build(bad)


def test_a_grouped_convolution_that_is_not_depthwise_has_no_tiled_form():
    with pytest.raises(FrittataTypeError, match=re.escape("tiled_conv2d: expected groups = 1 or groups = input "
                                                          "channels (depthwise")) as e:
        _conv("channel", channels=4, groups=2)
    assert str(e.value).endswith("got 2")
