"""Quantize a small float CNN to int8 and run it on the (simulated) VTA accelerator.

The extractor chooses per op where it runs: the int8 convolutions go to VTA, the rest to the
host CPU. The accelerator's result is bit-exact against the interpreter on the quantized
program, and close to the float model.
"""

import numpy as np

import frittata as ft
from frittata import terms as T

rng = np.random.default_rng(0)


def conv_relu(x, channels, name):
    w = T.param(f"{name}_w", (rng.standard_normal((channels, x.shape[1], 3, 3)) * 0.06).astype(np.float32))
    b = T.param(f"{name}_b", (rng.standard_normal(channels) * 0.1).astype(np.float32))
    return T.relu(T.add(T.conv2d(x, w, pads=1), T.reshape(b, (1, channels, 1, 1))))


x = T.var("x", (1, 32, 16, 16))
h = conv_relu(conv_relu(x, 64, "c1"), 64, "c2")
program = ft.Program({"y": T.global_avg_pool(h)})

calibration = [{"x": rng.standard_normal((1, 32, 16, 16)).astype(np.float32)} for _ in range(4)]
quantized = ft.quantize(program, calibration)
module = ft.compile(quantized, target="vta")
print("split:", module.report["backend"]["split"])

inputs = {"x": rng.standard_normal((1, 32, 16, 16)).astype(np.float32)}
got = module.run(**inputs)["y"]
assert np.array_equal(got, ft.evaluate(quantized, inputs)["y"])
reference = ft.evaluate(program, inputs)["y"]
print("max |int8 - float| / max |float| =", float(np.abs(got - reference).max() / np.abs(reference).max()))
