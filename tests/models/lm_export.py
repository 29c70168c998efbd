"""Small GPT-style and BERT-style torch models exported as users export them (`torch.onnx.export`,
random weights, int64 token inputs)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tests.models.exporters import exporter_options


class Attention(nn.Module):
    def __init__(self, width: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.heads, self.causal = heads, causal
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in self.qkv(x).split(width, dim=-1))
        scores = q @ k.transpose(-2, -1) / (width // self.heads) ** 0.5
        if self.causal:
            future = torch.triu(torch.ones(length, length, dtype=torch.bool), 1)
            scores = scores.masked_fill(future, float("-inf"))
        if bias is not None:
            scores = scores + bias
        return self.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.attn = Attention(width, heads, causal)
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        if self.causal:  # pre-norm, GPT-2
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))
        x = self.ln1(x + self.attn(x, bias))  # post-norm, BERT
        return self.ln2(x + self.mlp(x))


class GPT(nn.Module):
    """Token and position embeddings, causal pre-norm blocks, an LM head tied to the embedding."""

    def __init__(self, vocab: int, context: int, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, True) for _ in range(layers))
        self.ln = nn.LayerNorm(width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.ln(x) @ self.tok.weight.t()


class BERT(nn.Module):
    """Word, position and token-type embeddings, post-norm blocks under a padding mask."""

    def __init__(self, vocab: int, seq: int, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.word, self.pos, self.kind = nn.Embedding(vocab, width), nn.Embedding(seq, width), nn.Embedding(2, width)
        self.ln = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(Block(width, heads, False) for _ in range(layers))

    def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1]).expand_as(ids)
        x = self.ln(self.word(ids) + self.pos(positions) + self.kind(types))
        bias = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        for block in self.blocks:
            x = block(x, bias)
        return x


def export(kind: str, folder: Path, vocab: int = 97, length: int = 16, width: int = 32, heads: int = 4,
           layers: int = 2, seed: int = 0, dynamo: bool = False) -> Path:
    """Export a GPT ("gpt": ids -> logits) or BERT ("bert": ids, token_type_ids,
    attention_mask -> hidden) for int64[1, length] inputs, by torch's default (dynamo) exporter
    or the TorchScript one at opset 17; returns the ONNX path."""
    torch.manual_seed(seed)
    model = (GPT if kind == "gpt" else BERT)(vocab, length, width, heads, layers).eval()
    ids = torch.zeros(1, length, dtype=torch.int64)
    args = (ids,) if kind == "gpt" else (ids, torch.zeros_like(ids), torch.ones_like(ids))
    names = ["ids"] if kind == "gpt" else ["ids", "token_type_ids", "attention_mask"]
    path = folder / f"{kind}{'_dynamo' if dynamo else ''}.onnx"
    torch.onnx.export(model, args, str(path), input_names=names, output_names=["y"],
                      **exporter_options(dynamo, 17))
    return path
