"""ft.quantize: power-of-two int8 MLP and ResNet-18 agree with the float models, and run on VTA
bit-exactly against the interpreter on the quantized program."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms import zoo
from frittata.terms.ops import Op
from frittata.terms.term import Term, postorder

R = np.random.default_rng(1)


def _inputs(shape: tuple[int, ...], count: int) -> list[dict[str, np.ndarray]]:
    return [{"x": R.standard_normal(shape).astype(np.float32)} for _ in range(count)]


def with_input_shape(program: ft.Program, shape: tuple[int, ...]) -> ft.Program:
    """`program` rebuilt on an input of another shape (same parameters)."""
    memo: dict[int, Term] = {}
    for node in postorder(program.outputs.values()):
        if node.op == Op.INPUT:
            memo[id(node)] = tb.var(node.attr("name"), shape, node.dtype)
        else:
            memo[id(node)] = Term.make(node.op, tuple(memo[id(a)] for a in node.args), node.attrs)
    return ft.Program({n: memo[id(t)] for n, t in program.outputs.items()})


def top1_agreement(program: ft.Program, quantized: ft.Program, samples) -> float:
    return float(np.mean([ft.evaluate(program, x)["y"].argmax() == ft.evaluate(quantized, x)["y"].argmax()
                          for x in samples]))


def test_quantized_mlp_top1_agrees_with_float():
    program = zoo.mlp()
    quantized = ft.quantize(program, _inputs((1, 784), 8))
    assert top1_agreement(program, quantized, _inputs((1, 784), 50)) >= 0.95


def test_quantized_mlp_runs_on_vta_bit_exact():
    """A batch of 16 (at batch 1 the host CPU is the cheaper choice for these layers)."""
    quantized = ft.quantize(zoo.mlp(batch=16), _inputs((16, 784), 4))
    module = ft.compile(quantized, target="vta")
    assert module.report["backend"]["split"]["vta"].count("vta_dense") >= 2
    for x in _inputs((16, 784), 2):
        np.testing.assert_array_equal(module.run(**x)["y"], ft.evaluate(quantized, x)["y"])


@pytest.fixture(scope="module")
def resnet():
    """ResNet-18 with one basic block per stage on 1x3x32x32 inputs, and its quantized form."""
    program = with_input_shape(zoo.resnet18(blocks=(1, 1, 1, 1)), (1, 3, 32, 32))
    return program, ft.quantize(program, _inputs((1, 3, 32, 32), 4))


def test_quantized_resnet18_is_int8_conv_layers_and_residual_adds(resnet):
    _, quantized = resnet
    counts = quantized.op_counts()
    assert counts.get("conv2d") == 12 and "batch_norm" not in counts and counts.get("dense") == 1
    convs = [t for t in quantized.terms() if t.op == Op.CONV2D]
    assert all(c.args[0].dtype == "int8" and c.args[1].dtype == "int8" for c in convs)


def test_quantized_resnet18_top1_agrees_with_float(resnet):
    program, quantized = resnet
    assert top1_agreement(program, quantized, _inputs((1, 3, 32, 32), 30)) >= 0.7


def test_quantized_resnet18_runs_on_vta_bit_exact(resnet):
    _, quantized = resnet
    module = ft.compile(quantized, target="vta")
    assert module.report["backend"]["split"]["vta"].count("vta_conv2d") >= 3
    x = _inputs((1, 3, 32, 32), 1)[0]
    np.testing.assert_array_equal(module.run(**x)["y"], ft.evaluate(quantized, x)["y"])


def test_a_conv_with_a_plain_bias_is_quantized_and_runs_on_vta_bit_exact():
    rng = np.random.default_rng(3)
    x = tb.var("x", (1, 64, 28, 28))
    w = tb.param("w", (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32))
    b = tb.param("b", (rng.standard_normal(64) * 0.1).astype(np.float32))
    program = ft.Program({"y": tb.relu(tb.add(tb.conv2d(x, w, pads=1), tb.reshape(b, (1, 64, 1, 1))))})
    calibration = [{"x": rng.standard_normal((1, 64, 28, 28)).astype(np.float32)} for _ in range(4)]
    quantized = ft.quantize(program, calibration)
    assert any(t.op == Op.CONV2D and t.args[0].dtype == "int8" for t in quantized.terms())
    module = ft.compile(quantized, target="vta")
    assert module.report["backend"]["split"]["vta"] == ["vta_conv2d"]
    inputs = {"x": rng.standard_normal((1, 64, 28, 28)).astype(np.float32)}
    want = ft.evaluate(quantized, inputs)["y"]
    np.testing.assert_array_equal(module.run(**inputs)["y"], want)
    reference = ft.evaluate(program, inputs)["y"]
    assert np.abs(want - reference).max() < 0.05 * np.abs(reference).max()
