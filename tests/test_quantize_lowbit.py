"""Low-bit quantization: the middle layers get packed 1-2 bit weights and 1-4 bit activations
with integer glue only, the first and last stay int8, and the CPU target runs them on the
bit-serial kernels bit-exact against the interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T
from frittata.quantize_lowbit import weight_codes
from frittata.terms import zoo
from frittata.terms.ops import Op
from frittata.terms.term import postorder


def cnn(rng) -> ft.Program:
    """conv 3 -> 32 (relu), conv 32 -> 32 (relu), max pool, global average, dense 10: a middle
    convolution deep enough (288 products) that only the bit-serial kernel runs it faster."""
    h = T.var("x", (1, 3, 12, 12))
    for cin in (3, 32):
        w = (rng.standard_normal((32, cin, 3, 3)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
        h = T.relu(T.conv2d(h, T.param(f"w{cin}", w), 1, 1))
    h = T.flatten(T.global_avg_pool(T.max_pool2d(h, 2, 2)))
    return ft.Program({"y": T.add(T.dense(h, T.param("d", rng.standard_normal((10, 32)).astype(np.float32))),
                                  T.param("b", np.zeros(10, np.float32)))})


def _calibrated(program: ft.Program, rng, bits: dict) -> tuple[ft.Program, dict]:
    shape = program.inputs["x"].shape
    calibration = [{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(2)]
    return ft.quantize(program, calibration, bits=bits), {"x": rng.standard_normal(shape).astype(np.float32)}


def _lowbit_contractions(program: ft.Program) -> list:
    return [t for t in postorder(program.outputs.values())
            if t.op in (Op.CONV2D, Op.DENSE) and t.args[1].op == Op.BITUNPACK]


def _integer_back_to_a_layer(t) -> bool:
    """Every term from `t` back to the contractions that produced it is an integer."""
    if t.op in (Op.CONV2D, Op.DENSE, Op.PARAM, Op.CONST):
        return True
    return t.dtype != "float32" and all(_integer_back_to_a_layer(a) for a in t.args)


@pytest.mark.parametrize("model, weights, activations, kernels", [
    ("cnn", 1, 2, ("bitserial_conv2d", "fused_conv2d")), ("mlp", 2, 3, ("bitserial_dense",))])
def test_middle_layers_run_bit_serial_and_bit_exact(rng, model, weights, activations, kernels):
    """The cnn's middle layer may also run on the int8 convolution kernel (`fused_conv2d`), which
    the cost model prices below the bit-serial kernel plus its activation packing; measured
    alike (1 thread, AMD EPYC, 2026-12): bitpack 9 us + bitserial_conv2d 24 us, int8 35 us."""
    program = cnn(rng) if model == "cnn" else zoo.get(model)
    low, x = _calibrated(program, rng, {"weights": weights, "activations": activations})
    contractions = [t for t in postorder(low.outputs.values()) if t.op in (Op.CONV2D, Op.DENSE)]
    middle = _lowbit_contractions(low)
    assert len(middle) == 1 and contractions[0] not in middle and contractions[-1] not in middle
    assert middle[0].args[1].args[0].shape[-2] == weights
    clip = middle[0].args[0].args[0]
    assert clip.op == Op.CLIP and (clip.attr("lo"), clip.attr("hi")) == (0, (1 << activations) - 1)
    assert _integer_back_to_a_layer(middle[0].args[0]), "requantization between layers must be integer"
    module = ft.compile(low, target="llvm")
    assert set(kernels) & {k.split("_", 1)[1] for k in module.report["backend"]["kernels"]}
    for name, want in ft.evaluate(low, x).items():
        np.testing.assert_array_equal(module.run(**x)[name], want)


def test_weight_codes_are_signs_scaled_by_the_mean_magnitude(rng):
    w = rng.standard_normal((8, 16, 3, 3)).astype(np.float32) * 0.1
    codes, e_w = weight_codes(w, 1)
    np.testing.assert_array_equal(codes, (w >= 0).astype(np.int8))
    assert 0.5 < 2.0 ** e_w / np.abs(w).mean() < 2
    codes, e_w = weight_codes(w, 2)
    values = (2 * codes.astype(np.float64) - 3) * 2.0 ** e_w
    assert set(np.unique(codes)) <= {0, 1, 2, 3} and np.abs(values - w).mean() < np.abs(w).mean() / 2


@pytest.mark.parametrize("bits", [{"weights": 3, "activations": 2}, {"weights": 1, "activations": 8},
                                  {"weights": 1}])
def test_bad_bits_are_refused(bits):
    with pytest.raises(ft.FrittataError, match="quantize: expected"):
        ft.quantize(zoo.get("small_cnn"), [{"x": np.zeros((1, 3, 16, 16), np.float32)}], bits=bits)


@pytest.mark.parametrize("disable, clipped", [((), False), (("fold-requantize-max-pool-of-codes",), True)])
def test_a_max_pool_between_low_bit_layers_is_not_clipped_again(rng, disable, clipped):
    """conv 3 -> 64, conv 64 -> 64, max pool, conv 64 -> 64 twice, dense: the quantizer clips the
    pool of the second layer's codes to [0, 1] for the third; fold-requantize-max-pool-of-codes
    drops that clip (the pool of codes in [0, 1] is in [0, 1]), so the third layer's bitpack
    reads the pool, where a pass clipped it without the rule."""
    h = T.var("x", (1, 3, 12, 12))
    for i, cin in enumerate((3, 64, 64, 64)):
        w = (rng.standard_normal((64, cin, 3, 3)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
        h = T.relu(T.conv2d(h, T.param(f"w{i}", w), 1, 1))
        h = T.max_pool2d(h, 2, 2) if i == 1 else h
    h = T.flatten(T.global_avg_pool(h))
    program = ft.Program({"y": T.dense(h, T.param("d", rng.standard_normal((10, 64)).astype(np.float32)))})
    low, x = _calibrated(program, rng, {"weights": 1, "activations": 1})
    module = ft.compile(low, target="llvm", disable=list(disable))
    readers = [r.op for r in module.profile(x, repeat=1).rows if r.term is not None and r.term.args
               and r.term.args[0].op == Op.MAX_POOL2D]
    assert readers == (["fused_elementwise"] if clipped else ["bitpack"])
    np.testing.assert_array_equal(module.run(**x)["y"], ft.evaluate(low, x)["y"])
