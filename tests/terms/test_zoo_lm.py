"""The language models built in code are valid ONNX that older runtimes read too, and their GELU
is the exact one."""

import math

import numpy as np
import onnx
import onnxruntime as ort
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


def test_the_language_models_gelu_is_the_exact_one():
    """The MLP's activation, as the models spell it in ONNX nodes (Div, Erf, Add, Mul, Mul),
    run in onnxruntime: x * Phi(x), the erf form of nn.GELU (not the tanh approximation)."""
    g = zoo_lm._Graph(seed=0)
    y = g.gelu("x")
    info = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [7]) for n in ("x", y)]
    model = g.model(info[:1], info[1:], "gelu")
    x = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], np.float32)
    (got,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    want = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("build", [zoo_lm.gpt, zoo_lm.bert], ids=["gpt", "bert"])
def test_language_model_weights_are_drawn_from_the_seed(build):
    """Tests, benchmarks and examples share the graphs: the same seed builds the same weights,
    another seed other weights."""
    def weights(seed: int) -> dict[str, np.ndarray]:
        model = build(vocab=32, layers=1, seed=seed)
        return {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}

    first, again, other = weights(0), weights(0), weights(1)
    assert first.keys() == again.keys() == other.keys()
    assert all(np.array_equal(first[n], again[n]) for n in first)
    assert any(not np.array_equal(first[n], other[n]) for n in first)
