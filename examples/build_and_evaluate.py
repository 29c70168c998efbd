"""Build a small network with the term builders, print it, and evaluate it."""

import numpy as np

import frittata as ft
from frittata import terms as T

rng = np.random.default_rng(0)
x = T.var("x", (1, 3, 16, 16))
w = T.param("w", (rng.standard_normal((8, 3, 3, 3)) * 0.2).astype(np.float32))
b = T.param("b", np.zeros(8, np.float32))
h = T.relu(T.add(T.conv2d(x, w, pads=1), T.reshape(b, (1, 8, 1, 1))))
y = T.softmax(T.reshape(T.global_avg_pool(h), (1, 8)))
program = ft.Program({"y": y})

print(program)
print(repr(y)[:200], "...")
out = ft.evaluate(program, {"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)})
print("y =", np.round(out["y"], 3))
assert abs(out["y"].sum() - 1) < 1e-5
