"""Reductions' gradients where the closed form needs care: a product over zeros."""

import numpy as np

import frittata as ft
from frittata import terms as T
from frittata.autodiff import GRAD_PREFIX


def test_the_gradient_of_a_product_over_rows_with_zeros_is_the_product_of_the_others():
    """d prod(x) / d x_i is the product of the other entries: nonzero at a row's only zero, zero
    everywhere in a row with two zeros, prod / x_i in a row without one."""
    x = np.array([[2.0, 0.0, 3.0, -1.5], [0.0, 4.0, 0.0, 2.0], [1.5, -2.0, 0.5, 4.0]], np.float32)
    program = ft.Program({"loss": T.reduce_sum(T.reduce_prod(T.var("x", x.shape), axes=(1,)), axes=(0,))})
    got = ft.evaluate(ft.grad(program, wrt=["x"]), {"x": x})[GRAD_PREFIX + "x"]
    want = np.array([[np.prod(np.delete(row, i)) for i in range(row.size)] for row in x], np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-6)
