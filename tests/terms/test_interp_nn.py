"""The reference interpreter's windowed ops (conv2d, max and average pooling) against plain
loops over each output element, with padding, strides and dilations."""

import numpy as np

import frittata as ft
from frittata.terms import builders as tb


def _padded(x: np.ndarray, pads, value: float) -> np.ndarray:
    top, left, bottom, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def test_a_strided_dilated_padded_conv2d_sums_each_window():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 7, 8)), rng.standard_normal((3, 2, 3, 2))
    pads, (sh, sw), (dh, dw) = (1, 0, 2, 1), (2, 1), (2, 3)
    program = ft.Program({"y": tb.conv2d(tb.var("x", x.shape, "float64"), tb.param("w", w), strides=(sh, sw),
                                         pads=pads, dilations=(dh, dw))})
    got = ft.evaluate(program, {"x": x})["y"]
    p = _padded(x, pads, 0.0)
    oh, ow = (p.shape[2] - dh * 2 - 1) // sh + 1, (p.shape[3] - dw * 1 - 1) // sw + 1
    want = np.zeros((1, 3, oh, ow))
    for o, i, j in np.ndindex(3, oh, ow):
        want[0, o, i, j] = (p[0, :, i * sh:i * sh + dh * 2 + 1:dh, j * sw:j * sw + dw + 1:dw] * w[o]).sum()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_pooling_takes_the_max_and_the_mean_of_each_window():
    """Max pooling pads with -inf (a pad never wins); average pooling divides by the window's
    elements inside the image (the padded ones do not count)."""
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 6)).astype(np.float32)
    pads, (kh, kw), (sh, sw) = (1, 1, 1, 0), (3, 2), (2, 2)
    v = tb.var("x", x.shape)
    out = ft.evaluate(ft.Program({"max": tb.max_pool2d(v, (kh, kw), strides=(sh, sw), pads=pads),
                                  "avg": tb.avg_pool2d(v, (kh, kw), strides=(sh, sw), pads=pads)}), {"x": x})
    # rows (5 + 1 + 1 - 3) // 2 + 1 = 3, columns (6 + 1 + 0 - 2) // 2 + 1 = 3
    assert out["max"].shape == out["avg"].shape == (1, 2, 3, 3)
    p, inside = _padded(x, pads, -np.inf), _padded(np.ones_like(x), pads, 0.0)
    for i, j in np.ndindex(3, 3):
        window = np.s_[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
        np.testing.assert_allclose(out["max"][:, :, i, j], p[window].max(axis=(2, 3)))
        mean = np.where(inside[window] > 0, p[window], 0).sum(axis=(2, 3)) / inside[window].sum(axis=(2, 3))
        np.testing.assert_allclose(out["avg"][:, :, i, j], mean, rtol=1e-6)
