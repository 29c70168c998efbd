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
