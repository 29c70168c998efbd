"""Compile a small GPT-style decoder that takes int64 token ids, run it, and see an
out-of-range token id refused by the compiled code."""

import numpy as np

import frittata as ft
from frittata.terms import zoo_lm

VOCAB = 97
model = zoo_lm.gpt(vocab=VOCAB, context=16, width=32, heads=4, layers=1)
program = ft.from_onnx(model)
module = ft.compile(program)
ids = np.arange(16, dtype=np.int64)[None] * 5 % VOCAB
logits = module.run(ids=ids)["logits"]
print("next tokens:", logits[0].argmax(-1))
assert np.allclose(logits, ft.evaluate(program, {"ids": ids})["logits"], rtol=1e-4, atol=1e-4)

ids[0, 7] = VOCAB + 3
try:
    module.run(ids=ids)
except ft.RuntimeInputError as error:
    print("refused:", error)
else:
    raise AssertionError("an out-of-range token id must be refused")
