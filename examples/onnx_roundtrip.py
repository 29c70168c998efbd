"""Export a zoo model to ONNX, import it back, and check it against onnxruntime if installed."""

import numpy as np

import frittata as ft
from frittata.terms import zoo
from frittata.terms.onnx_export import to_onnx

original = zoo.get("mlp")
model = to_onnx(original)
program = ft.from_onnx(model.SerializeToString())
x = zoo.example_input(program)
ours = ft.evaluate(program, x)["y"]
print(program)
try:
    import onnxruntime
except ImportError:
    print("onnxruntime not installed; compared with the original program only")
    reference = ft.evaluate(original, x)["y"]
else:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    reference = session.run(None, x)[0]
print("max abs difference:", float(np.abs(ours - reference).max()))
assert np.allclose(ours, reference, rtol=1e-4, atol=1e-5)
