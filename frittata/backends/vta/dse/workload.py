"""What a design is explored for: a model's contractions (int8 conv2d and dense layers, one per
distinct shape with its count) and the rest of the model on the host.

`Workload.from_program(program)` reads the layers of a float or quantized program; each layer
runs in int8 on the accelerator when a design can lower it, and otherwise on the host CPU at
the price the VTA cost model's host model (`PYNQ_HOST`, a dual Cortex-A9) gives the int8
contraction, as extraction would choose.  The host part (`host_seconds`) is every other op,
except those the quantized program folds into an accelerator call (batch norm into weights,
bias adds and relu into the ALU epilogue), priced once by the same host model: it is the same
for every design.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from frittata.backends.vta.cost import PYNQ_HOST
from frittata.extract.cost import term_infos
from frittata.terms import builders as tb
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term

LEAVES = (Op.INPUT, Op.PARAM, Op.CONST)
FOLDED = (Op.BATCH_NORM, Op.RELU)
"""Ops the quantized program computes inside an accelerator call."""


@dataclass(frozen=True, slots=True)
class Layer:
    """One contraction shape: conv2d x (n, c, h, w) * w (o, c, kh, kw), or a dense x (n, c) *
    w (o, c) written as a 1x1 conv on a 1x1 image; `count` layers of the model have it."""

    name: str
    kind: str
    n: int
    c: int
    o: int
    h: int
    w: int
    kh: int
    kw: int
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    count: int
    cpu_seconds: float
    macs: int
    """Multiply-accumulates of one such layer (no padding to the GEMM block)."""


@dataclass(frozen=True, slots=True)
class Workload:
    """A model's layers (distinct shapes, in first-use order) and its host part's seconds."""

    name: str
    layers: tuple[Layer, ...]
    host_seconds: float

    @property
    def macs(self) -> int:
        return sum(layer.macs * layer.count for layer in self.layers)

    @classmethod
    def from_program(cls, program: Program, name: str = "program") -> Workload:
        terms = program.terms()
        contractions = [t for t in terms if _contraction(t)]
        shapes = Counter(_shape(t) for t in contractions)
        layers = tuple(_layer(f"L{i}", shape, count) for i, (shape, count) in enumerate(shapes.items()))
        fused = {id(t) for t in terms if t.op == Op.ADD and any(_contraction(a) for a in t.args)}
        host = sum(PYNQ_HOST.node_cost(info) for t, info in term_infos(program)
                   if t.op not in LEAVES + FOLDED and not _contraction(t) and id(t) not in fused)
        return cls(name, layers, host)


def _contraction(t: Term) -> bool:
    match t.op:
        case Op.CONV2D:
            return t.attr("groups") == 1 and tuple(t.attr("dilations")) == (1, 1)
        case Op.DENSE:
            return len(t.args[0].shape) == 2
        case _:
            return False


def _shape(t: Term) -> tuple:
    """(kind, n, c, o, h, w, kh, kw, strides, pads) of a contraction."""
    if t.op == Op.DENSE:
        (n, c), (o, _) = t.args[0].shape, t.args[1].shape
        return ("dense", n, c, o, 1, 1, 1, 1, (1, 1), (0, 0, 0, 0))
    (n, c, h, w), (o, _, kh, kw) = t.args[0].shape, t.args[1].shape
    return ("conv2d", n, c, o, h, w, kh, kw, tuple(t.attr("strides")), tuple(t.attr("pads")))


def _layer(name: str, shape: tuple, count: int) -> Layer:
    kind, n, c, o, h, w, kh, kw, strides, pads = shape
    x, wt = tb.var("x", (n, c, h, w), "int8"), tb.var("w", (o, c, kh, kw), "int8")
    node = tb.conv2d(x, wt, strides=strides, pads=pads)
    *_, (_, info) = term_infos(Program({"y": node}))
    macs = math.prod(node.shape) * c * kh * kw
    return Layer(name, kind, n, c, o, h, w, kh, kw, strides, pads, count, PYNQ_HOST.node_cost(info), macs)
