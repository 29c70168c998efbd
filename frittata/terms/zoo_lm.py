"""Language models as ONNX graphs built in code (onnx.helper): a GPT-style decoder and a
BERT-style encoder taking int64 token ids, spelled the way exporters write them.

They exercise what token-input transformers need end to end: embedding lookups by run-time ids
(`Gather`), position ids from `Shape -> Gather -> Range`, a causal mask from `Trilu` applied
with `Where(mask, scores, -inf)`, a padding mask input turned into an additive bias with
`Cast`, `Unsqueeze` and `Expand`, attention as `MatMul` with transposes and `Softmax`,
`LayerNormalization`, GELU through `Erf`, and an LM head tied to the token embedding (the same
initializer read by the `Gather` and by a `Gemm` with transB). Weights are random, scaled by
fan-in, drawn from `seed`; tests, benchmarks and examples use the same graphs.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
"""LayerNormalization is a default-domain operator since opset 17."""


class _Graph:
    """Nodes and initializers under construction; `op` returns the name of a node's output."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def init(self, name: str, value: np.ndarray | np.generic) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, name: str, shape: tuple[int, ...], scale: float | None = None) -> str:
        scale = shape[0] ** -0.5 if scale is None else scale
        return self.init(name, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs) -> str:
        out = name or f"t{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"/{op_type}_{len(self.nodes)}", **attrs))
        return out

    def ints(self, name: str, values) -> str:
        return self.init(name, np.array(values, np.int64))

    def linear(self, x: str, prefix: str, d_in: int, d_out: int) -> str:
        product = self.op("MatMul", [x, self.weight(f"{prefix}.weight", (d_in, d_out))])
        return self.op("Add", [product, self.init(f"{prefix}.bias", np.zeros(d_out, np.float32) + 0.01)])

    def layer_norm(self, x: str, prefix: str, width: int) -> str:
        scale = self.init(f"{prefix}.scale", 1.0 + 0.1 * self.rng.standard_normal(width).astype(np.float32))
        bias = self.init(f"{prefix}.bias", 0.1 * self.rng.standard_normal(width).astype(np.float32))
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=1e-5)

    def gelu(self, x: str) -> str:
        """0.5 x (1 + erf(x / sqrt 2)), as torch exports nn.GELU before opset 20."""
        erf = self.op("Erf", [self.op("Div", [x, self.init(f"sqrt2_{len(self.nodes)}", np.float32(2**0.5))])])
        one_plus = self.op("Add", [erf, self.init(f"one_{len(self.nodes)}", np.float32(1.0))])
        return self.op("Mul", [self.op("Mul", [x, one_plus]), self.init(f"half_{len(self.nodes)}", np.float32(0.5))])

    def model(self, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto], name: str):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


def _positions(g: _Graph, ids: str) -> str:
    """Position ids 0..T-1 from the ids' shape: Shape -> Gather(1) -> Range."""
    length = g.op("Gather", [g.op("Shape", [ids]), g.ints("axis1", 1)], axis=0)
    return g.op("Range", [g.ints("zero", 0), length, g.ints("step", 1)])


def _attention(g: _Graph, x: str, prefix: str, width: int, heads: int, mask: str, masked_by_where: bool) -> str:
    """Multi-head self-attention; `mask` is a bool keep-mask (Where with -inf) or an additive bias."""
    head = width // heads
    qkv = g.linear(x, f"{prefix}.qkv", width, 3 * width)
    parts = [f"{prefix}.{p}" for p in "qkv"]
    g.nodes.append(helper.make_node("Split", [qkv, g.ints(f"{prefix}.split", [width] * 3)], parts, axis=-1))
    split_heads = g.ints(f"{prefix}.heads", [1, -1, heads, head])
    q, k, v = (g.op("Reshape", [p, split_heads]) for p in parts)
    q = g.op("Transpose", [q], perm=[0, 2, 1, 3])
    k = g.op("Transpose", [k], perm=[0, 2, 3, 1])
    v = g.op("Transpose", [v], perm=[0, 2, 1, 3])
    scores = g.op("Div", [g.op("MatMul", [q, k]), g.init(f"{prefix}.temp", np.float32(head**0.5))])
    if masked_by_where:
        scores = g.op("Where", [mask, scores, g.init(f"{prefix}.ninf", np.float32(-np.inf))])
    else:
        scores = g.op("Add", [scores, mask])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    merged = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]),
                              g.ints(f"{prefix}.merge", [1, -1, width])])
    return g.linear(merged, f"{prefix}.out", width, width)


def _mlp(g: _Graph, x: str, prefix: str, width: int) -> str:
    return g.linear(g.gelu(g.linear(x, f"{prefix}.fc", width, 4 * width)), f"{prefix}.proj", 4 * width, width)


def gpt(vocab: int = 512, context: int = 32, width: int = 64, heads: int = 4, layers: int = 2,
        seed: int = 0) -> onnx.ModelProto:
    """A GPT-style decoder: ids int64[1, context] -> logits float32[1, context, vocab].

    Pre-norm blocks x += attn(ln(x)); x += mlp(ln(x)) under a causal mask, a final layer norm,
    and the LM head tied to the token embedding.
    """
    g = _Graph(seed)
    ids = "ids"
    tokens = g.op("Gather", [g.weight("wte", (vocab, width), 0.5), ids], axis=0)
    x = g.op("Add", [tokens, g.op("Gather", [g.weight("wpe", (context, width), 0.1), _positions(g, ids)], axis=0)])
    length = g.op("Slice", [g.op("Shape", [ids]), g.ints("s0", [1]), g.ints("s1", [2])])
    ones = g.op("ConstantOfShape", [g.op("Concat", [length, length], axis=0)],
                value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))
    causal = g.op("Cast", [g.op("Trilu", [ones], upper=0)], to=TensorProto.BOOL)
    for i in range(layers):
        x = g.op("Add", [x, _attention(g, g.layer_norm(x, f"h{i}.ln1", width), f"h{i}.attn", width, heads, causal,
                                       True)])
        x = g.op("Add", [x, _mlp(g, g.layer_norm(x, f"h{i}.ln2", width), f"h{i}.mlp", width)])
    flat = g.op("Reshape", [g.layer_norm(x, "ln_f", width), g.ints("rows", [-1, width])])
    logits = g.op("Reshape", [g.op("Gemm", [flat, "wte"], transB=1), g.ints("logits_shape", [1, -1, vocab])],
                  name="logits")
    return g.model([helper.make_tensor_value_info(ids, TensorProto.INT64, [1, context])],
                   [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, context, vocab])], "gpt")


def bert(vocab: int = 512, seq: int = 32, width: int = 64, heads: int = 4, layers: int = 2,
         seed: int = 0) -> onnx.ModelProto:
    """A BERT-style encoder: ids, token_type_ids and attention_mask int64[1, seq] -> hidden
    float32[1, seq, width] and pooled float32[1, width].

    Word + position + token-type embeddings and a layer norm; post-norm blocks
    x = ln(x + attn(x)); x = ln(x + mlp(x)), the padding mask an additive bias of -10000;
    the pooler is tanh(dense(hidden[:, 0])).
    """
    g = _Graph(seed)
    ids, types, keep = "ids", "token_type_ids", "attention_mask"
    x = g.op("Add", [g.op("Gather", [g.weight("word", (vocab, width), 0.5), ids], axis=0),
                     g.op("Gather", [g.weight("type", (2, width), 0.1), types], axis=0)])
    x = g.op("Add", [x, g.op("Gather", [g.weight("position", (seq, width), 0.1), _positions(g, ids)], axis=0)])
    x = g.layer_norm(x, "emb.ln", width)
    present = g.op("Unsqueeze", [g.op("Cast", [keep], to=TensorProto.FLOAT), g.ints("mask_axes", [1, 2])])
    bias = g.op("Mul", [g.op("Sub", [g.init("mask_one", np.float32(1.0)), present]),
                        g.init("mask_min", np.float32(-10000.0))])
    bias = g.op("Expand", [bias, g.ints("mask_shape", [1, heads, seq, seq])])
    for i in range(layers):
        attended = _attention(g, x, f"l{i}.attn", width, heads, bias, False)
        x = g.layer_norm(g.op("Add", [x, attended]), f"l{i}.ln1", width)
        x = g.layer_norm(g.op("Add", [x, _mlp(g, x, f"l{i}.mlp", width)]), f"l{i}.ln2", width)
    hidden = g.op("Identity", [x], name="hidden")
    first = g.op("Gather", [hidden, g.ints("cls", 0)], axis=1)
    pooled = g.op("Tanh", [g.op("Gemm", [first, g.weight("pool", (width, width)), g.init("pool.b", np.zeros(width,
                                                                                             np.float32))])],
                  name="pooled")
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, [1, seq]) for n in (ids, types, keep)]
    outputs = [helper.make_tensor_value_info(hidden, TensorProto.FLOAT, [1, seq, width]),
               helper.make_tensor_value_info(pooled, TensorProto.FLOAT, [1, width])]
    return g.model(inputs, outputs, "bert")


def token_inputs(model: onnx.ModelProto, vocab: int, seed: int = 0, padding: int = 0) -> dict[str, np.ndarray]:
    """Random token ids for `model`'s inputs; a BERT-style attention mask with the last `padding`
    positions masked and token types 0 then 1."""
    rng = np.random.default_rng(seed)
    shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in model.graph.input}
    feeds = {"ids": rng.integers(0, vocab, shapes["ids"]).astype(np.int64)}
    if "attention_mask" in shapes:
        length = shapes["ids"][1]
        mask = np.ones(shapes["ids"], np.int64)
        mask[:, length - padding:] = 0
        feeds["attention_mask"] = mask
        feeds["token_type_ids"] = (np.arange(length) >= length // 2).astype(np.int64)[None, :]
    return feeds
