"""Token-input transformers end to end: GPT-style and BERT-style models, built in code with
onnx.helper and exported by torch, import, evaluate and compile for the CPU, matching
onnxruntime; an out-of-range token id is a RuntimeInputError from the compiled module."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import frittata as ft
from frittata.backends.llvm import build
from frittata.terms import zoo_lm

VOCAB = 97


def _ort(model: onnx.ModelProto | str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    data = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)


def _close(got: dict[str, np.ndarray], want: list[np.ndarray]) -> None:
    assert len(got) == len(want)
    for (name, value), expected in zip(got.items(), want):
        assert value.dtype == expected.dtype and value.shape == expected.shape, name
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4, err_msg=name)


def _token_ops(program: ft.Program) -> set[str]:
    return {t.op.value for t in program.terms()}


@pytest.mark.parametrize("kind", ["gpt", "bert"])
def test_built_in_code_import_evaluate_and_compile(kind):
    make = zoo_lm.gpt if kind == "gpt" else zoo_lm.bert
    model = make(VOCAB, 16, 32, 4, 1, seed=3)
    onnx.checker.check_model(model, full_check=True)
    feeds = zoo_lm.token_inputs(model, VOCAB, seed=1, padding=4)
    want = _ort(model, feeds)
    program = ft.from_onnx(model)
    assert "take" in _token_ops(program)
    _close(ft.evaluate(program, feeds), want)
    mod = ft.compile(program)
    assert mod.program is not None and "take_add" in _token_ops(mod.program), "fuse-take-add did not fire"
    _close(mod.run(**feeds), want)
    feeds["ids"][0, 3] = VOCAB
    with pytest.raises(ft.RuntimeInputError, match=rf"take: index {VOCAB} at position \(0, 3\)"):
        mod.run(**feeds)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("kind", ["gpt", "bert"])
def test_torch_export_import_evaluate_and_compile(kind, dynamo, tmp_path):
    lm_export = pytest.importorskip("tests.models.lm_export")
    path = lm_export.export(kind, tmp_path, VOCAB, layers=1, dynamo=dynamo)
    rng = np.random.default_rng(2)
    feeds = {"ids": rng.integers(-VOCAB, VOCAB, (1, 16)).astype(np.int64)}
    if kind == "bert":
        feeds["token_type_ids"] = (np.arange(16) >= 9).astype(np.int64)[None]
        feeds["attention_mask"] = (np.arange(16) < 12).astype(np.int64)[None]
    want = _ort(str(path), feeds)
    program = ft.from_onnx(path)
    _close(ft.evaluate(program, feeds), want)
    _close(build(program, threads=2).run(**feeds), want)
