"""Einsum of two operands (batch, kept and contracted letters) against onnxruntime."""

import numpy as np
import pytest
from onnx import helper

from tests.terms.conftest import assert_matches_ort, one_node_model


@pytest.mark.parametrize("equation, a, b", [
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("ij,kj->ik", (3, 4), (5, 4)),
    ("bhqd,bhkd->bhqk", (1, 2, 3, 4), (1, 2, 5, 4)),
    ("ijk,kj->i", (3, 4, 2), (2, 4)),
])
def test_two_operand_einsum_matches_onnxruntime(equation, a, b, rng):
    inputs = {"a": rng.standard_normal(a).astype(np.float32), "b": rng.standard_normal(b).astype(np.float32)}
    model = one_node_model(helper.make_node("Einsum", ["a", "b"], ["y"], equation=equation), inputs)
    assert_matches_ort(model, inputs)
