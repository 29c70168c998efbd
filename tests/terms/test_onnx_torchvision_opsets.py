"""torchvision CNNs (random weights) exported at old opsets by `torch.onnx.export`, and converted
to the newest opset by `onnx.version_converter`, import, evaluate and compile, matching onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import version_converter

import frittata as ft

pytest.importorskip("torch", reason="torchvision models are exported with torch")
from tests.models.torchvision_export import export  # noqa: E402 - needs torch

NEWEST = onnx.defs.onnx_opset_version()
MODELS = ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5"]


def exported(name: str, opset: int, folder) -> tuple[onnx.ModelProto, np.ndarray]:
    """Torch exports opsets up to 20 itself; newer ones are converted from its opset-17 export."""
    path, sample = export(name, 32, folder, opset=min(opset, 17))
    model = onnx.load(str(path))
    return (model if opset <= 17 else version_converter.convert_version(model, opset)), sample


def onnxruntime(model: onnx.ModelProto, sample: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": sample})[0]


def close(got: np.ndarray, want: np.ndarray) -> None:
    scale = float(np.abs(want).max())
    assert scale > 1e-3, f"the reference output is degenerate (max |y| = {scale})"
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.parametrize("opset", [7, 9, NEWEST])
@pytest.mark.parametrize("name", MODELS)
def test_old_and_newest_opsets_evaluate_like_onnxruntime(name, opset, tmp_path):
    model, sample = exported(name, opset, tmp_path)
    assert model.opset_import[0].version == opset
    close(ft.evaluate(ft.from_onnx(model), {"x": sample})["y"], onnxruntime(model, sample))


def test_opset_7_export_compiles_for_llvm(tmp_path):
    model, sample = exported("mobilenet_v3_small", 7, tmp_path)
    close(ft.compile(ft.from_onnx(model), target="llvm").run(x=sample)["y"], onnxruntime(model, sample))
