"""Every zoo model compiled for llvm, run, and equal to the reference interpreter."""

from __future__ import annotations

import pytest

from frittata.terms import zoo
from tests.backends.llvm.helpers import check

MODELS = {
    "mlp": lambda: zoo.mlp(),
    "resnet18": lambda: zoo.resnet18(),
    "mobilenet_v2": lambda: zoo.mobilenet_v2(width=0.5, size=96),
    "transformer_block": lambda: zoo.transformer_block(seq=32, d_model=64, heads=4),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model(name):
    check(MODELS[name](), rtol=1e-3, atol=1e-3)
