"""The language models built in code are valid ONNX that older runtimes read too."""

import onnx
import pytest
from onnx import helper

from frittata.terms import zoo_lm


@pytest.mark.parametrize("build", [zoo_lm.gpt, zoo_lm.bert], ids=["gpt", "bert"])
def test_language_models_declare_the_oldest_ir_version_their_opset_allows(build):
    """onnx.helper stamps its own (newest) IR version by default, which runtimes older than the
    installed onnx refuse; the models declare the one opset 17 needs (8)."""
    model = build(vocab=32, layers=1)
    onnx.checker.check_model(model)
    assert model.ir_version == helper.find_min_ir_version_for(list(model.opset_import)) == 8
