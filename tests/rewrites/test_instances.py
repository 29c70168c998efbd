"""The checker's instance data (`instances.random_array`): each domain's values, per dtype."""

import numpy as np
import pytest

from frittata.rewrites.instances import random_array
from frittata.terms.dtypes import TensorType


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32"])
def test_nonzero_integer_data_spans_its_range_without_a_zero(dtype):
    """A divisor's data: never 0, both signs where the dtype has them, of the operand's dtype."""
    data = random_array(TensorType((4096,), dtype), np.random.default_rng(0), "nonzero")
    assert data.dtype == np.dtype(dtype) and not (data == 0).any()
    assert data.max() > 1 and (data.min() < 0 if dtype != "uint8" else data.min() == 1)


@pytest.mark.parametrize("shape", [(4096,), (3, 5, 7)])
def test_nonzero_float_data_has_magnitudes_in_half_to_two_of_either_sign(shape):
    data = random_array(TensorType(shape, "float32"), np.random.default_rng(0), "nonzero")
    assert data.shape == shape and data.dtype == np.float32
    assert 0.5 <= np.abs(data).min() and np.abs(data).max() < 2.0 and data.min() < 0 < data.max()
    assert len(np.unique(np.abs(data))) > data.size // 2  # drawn per element
