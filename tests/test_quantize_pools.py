"""ft.quantize keeps a max pool of a quantized layer's output on its int8 codes, and leaves a max
pool of a float tensor (one some layer quantized for its own input) a float pool, exact."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
from frittata.terms import builders as tb
from frittata.terms.ops import Op
from frittata.terms.term import postorder


def conv(h, cin: int, cout: int, name: str, rng: np.random.Generator):
    w = tb.param(name, (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(cin * 9)).astype(np.float32))
    b = tb.param(name + "b", (rng.standard_normal((1, cout, 1, 1)) * 0.1).astype(np.float32))
    return tb.relu(tb.add(tb.conv2d(h, w, pads=1), b))


def calibration(rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    return [{"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)} for _ in range(3)]


@pytest.mark.parametrize("pool_first", [False, True])
def test_a_pool_of_a_float_input_a_layer_also_reads_stays_exact(pool_first):
    rng = np.random.default_rng(1)
    x = tb.var("x", (1, 3, 8, 8))
    outputs = {"conv": conv(x, 3, 4, "c", rng), "pool": tb.max_pool2d(x, 2)}
    program = ft.Program(dict(reversed(outputs.items())) if pool_first else outputs)
    quantized = ft.quantize(program, calibration(rng))
    data = {"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)}
    np.testing.assert_array_equal(ft.evaluate(quantized, data)["pool"], ft.evaluate(program, data)["pool"])


def test_an_int8_cnns_max_pools_stay_int8():
    rng = np.random.default_rng(2)
    h = tb.max_pool2d(conv(tb.var("x", (1, 3, 8, 8)), 3, 8, "c1", rng), 2)
    h = tb.max_pool2d(conv(h, 8, 8, "c2", rng), 2)
    h = tb.reshape(h, (1, -1))
    program = ft.Program({"y": tb.dense(h, tb.param("fc", rng.standard_normal((4, 32)).astype(np.float32)))})
    quantized = ft.quantize(program, calibration(rng))
    passes = [t for t in postorder(quantized.outputs.values()) if t.op in (Op.MAX_POOL2D, Op.RESHAPE)]
    assert len(passes) == 3 and all(t.dtype == "int8" and t.args[0].dtype == "int8" for t in passes)
