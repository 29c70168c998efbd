"""Hypothesis strategies for random well-typed programs and their inputs.

Shared by every layer's property tests: the interpreter, rules, extraction and backends all
check `evaluate(transformed(p)) == evaluate(p)` on programs drawn from here. Programs are grown
one operator at a time from a pool of typed terms; numerically touchy operators are drawn in a
guarded form (log of |x| + 1, division by |x| + 1) so generated values stay finite.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import frittata as ft
from frittata import terms as T
from frittata.terms import Program, Term
from frittata.terms.ops import ops_in_class
from frittata.terms.term import build

DIM = st.integers(1, 5)


class _Builder:
    """Draws operators over a growing pool of terms; params get seeded random data."""

    def __init__(self, draw, seed: int) -> None:
        self.draw = draw
        self.rng = np.random.default_rng(seed)
        self.pool: list[Term] = []
        self.params = 0

    def param(self, shape: tuple[int, ...], dtype: str = "float32", scale: float = 1.0) -> Term:
        self.params += 1
        if dtype == "float32":
            data = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        else:
            data = self.rng.integers(-128, 128, shape).astype(dtype)
        return T.param(f"p{self.params}", data)

    def pick(self, rank: int | None = None, min_rank: int = 0) -> Term | None:
        choices = [t for t in self.pool if t.dtype == "float32" and t.type.rank >= min_rank
                   and (rank is None or t.type.rank == rank)]
        return self.draw(st.sampled_from(choices)) if choices else None


UNARY_SAFE = {
    "neg": T.neg, "abs": T.abs, "erf": T.erf, "tanh": T.tanh, "sigmoid": T.sigmoid,
    "relu": T.relu, "gelu": T.gelu, "exp": lambda t: T.exp(T.tanh(t)),
    "log": lambda t: T.log(T.add(T.abs(t), 1.0)), "sqrt": lambda t: T.sqrt(T.abs(t)),
    "leaky_relu": lambda t: T.leaky_relu(t, 0.1), "round": lambda t: T.round(T.mul(t, 3.0)),
    "clip": lambda t: T.clip(t, -0.5, 0.75),
    "gelu_tanh": lambda t: T.gelu(t, "tanh"),
}


def _table_unary(op):
    """A unary op of the operator table, its attributes drawn from its `Attr.choices`."""
    return lambda t: build(op, (t,), **{a.name: a.choices(t.type)[0] for a in op.attrs})


def _float_closed(op) -> bool:
    x = T.var("x", (2,))
    try:
        return _table_unary(op)(x).dtype == "float32"
    except ft.FrittataError:
        return False


UNARY_SAFE.update({op.value: _table_unary(op) for op in ops_in_class("unary")
                   if op.value not in UNARY_SAFE and op.is_a("float_only") and _float_closed(op)})
"""Float unary ops the table adds (total on floats, e.g. hard_swish) are drawn like the rest."""
BINARY_SAFE = {
    "add": T.add, "sub": T.sub, "mul": T.mul, "maximum": T.maximum, "minimum": T.minimum,
    "div": lambda a, b: T.div(a, T.add(T.abs(b), 1.0)),
    "pow": lambda a, b: T.pow(T.add(T.abs(a), 0.5), T.clip(b, -2.0, 2.0)),
}


def _unary(b: _Builder) -> Term:
    name = b.draw(st.sampled_from(sorted(UNARY_SAFE)))
    return UNARY_SAFE[name](b.pick())


def _binary(b: _Builder) -> Term:
    a = b.pick()
    name = b.draw(st.sampled_from(sorted(BINARY_SAFE)))
    same = [t for t in b.pool if t.dtype == "float32" and t.shape == a.shape]
    if b.draw(st.booleans()) and len(same) > 1:
        other = b.draw(st.sampled_from(same))
    else:  # a broadcasting parameter: a suffix of a's shape with some dims set to 1
        k = b.draw(st.integers(0, a.type.rank))
        suffix = a.shape[a.type.rank - k:]
        other = b.param(tuple(d if b.draw(st.booleans()) else 1 for d in suffix))
    return BINARY_SAFE[name](*((a, other) if b.draw(st.booleans()) else (other, a)))


def _where(b: _Builder) -> Term:
    a = b.pick()
    return T.where(T.cast(T.relu(a), "bool"), a, T.neg(a))


def _matmul(b: _Builder) -> Term | None:
    a = b.pick(min_rank=1)
    if a is None:
        return None
    n = b.draw(DIM)
    k = a.shape[-1]
    if a.type.rank >= 2 and b.draw(st.booleans()):
        return T.matmul(a, b.param((k, n), scale=1 / math.sqrt(k)))
    return T.dense(a, b.param((n, k), scale=1 / math.sqrt(k)))


def _conv_args(b: _Builder, x: Term) -> dict:
    c = x.shape[1]
    groups = b.draw(st.sampled_from([g for g in (1, 2, c) if c % g == 0]))
    kh, kw = b.draw(DIM.filter(lambda k: k <= x.shape[2] + 2)), b.draw(st.integers(1, 3))
    pads = tuple(b.draw(st.integers(0, 1)) for _ in range(4))
    dil = b.draw(st.integers(1, 2))
    if x.shape[2] + pads[0] + pads[2] < dil * (kh - 1) + 1 or x.shape[3] + pads[1] + pads[3] < dil * (kw - 1) + 1:
        dil, kh, kw = 1, 1, 1
    out = groups * b.draw(st.integers(1, 3))
    w = b.param((out, c // groups, kh, kw), scale=1 / math.sqrt(c // groups * kh * kw))
    return dict(w=w, strides=(b.draw(st.integers(1, 2)), b.draw(st.integers(1, 2))), pads=pads,
                dilations=(dil, dil), groups=groups)


def _conv(b: _Builder) -> Term | None:
    x = b.pick(rank=4)
    if x is None:
        return None
    args = _conv_args(b, x)
    w = args.pop("w")
    if not b.draw(st.booleans()):
        return T.conv2d(x, w, **args)
    bias = b.param((w.shape[0],))
    epilogue = b.draw(st.sampled_from([(), (("relu",),), (("clip", 0.0, 6.0),)]))
    return T.fused_conv2d(x, w, bias, epilogue=epilogue, **args)


def _pool(b: _Builder) -> Term | None:
    x = b.pick(rank=4)
    if x is None:
        return None
    kernel = (b.draw(st.integers(1, min(3, x.shape[2]))), b.draw(st.integers(1, min(3, x.shape[3]))))
    pads = tuple(b.draw(st.integers(0, kernel[i % 2] - 1)) for i in range(4))
    strides = (b.draw(st.integers(1, 2)), b.draw(st.integers(1, 2)))
    kind = b.draw(st.sampled_from(["max", "avg", "avg_incl", "global"]))
    match kind:
        case "max":
            return T.max_pool2d(x, kernel, strides, pads)
        case "global":
            return T.global_avg_pool(x)
        case _:
            return T.avg_pool2d(x, kernel, strides, pads, count_include_pad=kind == "avg_incl")


def _norm(b: _Builder) -> Term | None:
    x = b.pick(min_rank=2)
    if x is None:
        return None
    match b.draw(st.sampled_from(["batch", "layer", "softmax", "reduce"])):
        case "batch":
            c = (x.shape[1],)
            var = T.add(T.abs(b.param(c)), 0.5)
            return T.batch_norm(x, b.param(c), b.param(c), b.param(c), var)
        case "layer":
            axis = b.draw(st.integers(1, x.type.rank - 1))
            return T.layer_norm(x, b.param(x.shape[axis:]), b.param(x.shape[axis:]), axis=axis)
        case "softmax":
            return T.softmax(x, axis=b.draw(st.integers(-x.type.rank, x.type.rank - 1)))
        case _:
            axes = b.draw(st.lists(st.integers(0, x.type.rank - 1), min_size=1, max_size=2, unique=True))
            fn = b.draw(st.sampled_from([T.reduce_sum, T.reduce_mean, T.reduce_max]))
            return fn(x, axes, keepdims=b.draw(st.booleans()))


def _movement(b: _Builder) -> Term:
    x = b.pick()
    match b.draw(st.sampled_from(["reshape", "transpose", "concat", "slice", "pad", "gather"])):
        case "reshape":
            return T.reshape(x, b.draw(st.permutations(list(x.shape) + [1])))
        case "transpose":
            return T.transpose(x, b.draw(st.permutations(range(x.type.rank))))
        case "concat" if x.type.rank:
            return T.concat(x, T.neg(x), axis=b.draw(st.integers(0, x.type.rank - 1)))
        case "slice":
            return T.slice(x, [_slice_triple(b, d) for d in x.shape])
        case "pad":
            return T.pad(x, [(b.draw(st.integers(0, 2)), b.draw(st.integers(0, 2))) for _ in x.shape], 0.5)
        case _ if x.type.rank:
            axis = b.draw(st.integers(0, x.type.rank - 1))
            idx = b.draw(st.lists(st.integers(-x.shape[axis], x.shape[axis] - 1), min_size=1, max_size=4))
            return T.gather(x, idx, axis=axis)
        case _:
            return T.reshape(x, (1,))


def _slice_triple(b: _Builder, dim: int) -> tuple:
    step = b.draw(st.sampled_from([1, 1, 2, -1, -2]))
    start = b.draw(st.one_of(st.none(), st.integers(-dim, dim - 1)))
    stop = b.draw(st.one_of(st.none(), st.integers(-dim - 1, dim)))
    triple = (start, stop, step)
    return triple if len(range(*slice(*triple).indices(dim))) else (None, None, step)


def _layout(b: _Builder) -> Term | None:
    x = b.pick(rank=4)
    if x is None:
        return None
    c = b.draw(st.sampled_from([d for d in (1, 2, 4) if x.shape[1] % d == 0]))
    return T.unpack_nchwc(T.relu(T.pack_nchwc(x, c)), c)


MOVES = {"unary": _unary, "binary": _binary, "where": _where, "matmul": _matmul, "conv": _conv,
         "pool": _pool, "norm": _norm, "movement": _movement, "layout": _layout}


@st.composite
def programs(draw, max_ops: int = 6, moves: tuple[str, ...] = tuple(MOVES)) -> Program:
    """A random float32 program: 1-2 inputs, up to `max_ops` drawn operators, 1-2 outputs."""
    b = _Builder(draw, draw(st.integers(0, 2**32 - 1)))
    rank = draw(st.sampled_from([1, 2, 3, 4, 4]))
    shape = tuple(draw(DIM) for _ in range(rank))
    b.pool.append(T.var("x", shape, "float32"))
    if draw(st.booleans()):
        b.pool.append(T.var("y", shape, "float32"))
    for _ in range(draw(st.integers(1, max_ops))):
        term = MOVES[draw(st.sampled_from(moves))](b)
        if term is not None and term.type.size > 0:
            b.pool.append(term)
    outputs = {"out": b.pool[-1]}
    if draw(st.booleans()) and len(b.pool) > 2:
        outputs["aux"] = draw(st.sampled_from(b.pool[1:-1]))
    return Program(outputs)


@st.composite
def int_programs(draw) -> Program:
    """A random int8 accelerator-style program: int8 matmul/conv -> int32 -> requantize -> int8."""
    b = _Builder(draw, draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        x = T.var("x", (draw(DIM), draw(st.integers(1, 40))), "int8")
        acc = T.dense(x, b.param((draw(st.integers(1, 40)), x.shape[1]), "int8"))
        bias_shape = (acc.shape[-1],)
    else:
        x = T.var("x", (1, draw(DIM), draw(DIM) + 2, draw(DIM) + 2), "int8")
        acc = T.conv2d(x, b.param((draw(st.integers(1, 8)), x.shape[1], 3, 3), "int8"), pads=1)
        bias_shape = (1, acc.shape[1], 1, 1)
    acc = T.add(acc, T.cast(b.param(bias_shape, "int8"), "int32"))
    if draw(st.booleans()):
        acc = T.relu(acc)
    shifted = T.right_shift(acc, draw(st.integers(0, 10)))
    return Program({"out": T.cast(T.clip(shifted, -127, 127), "int8")})


def inputs_for(program: Program, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs for a program: floats in [-2, 2), integers across their full range."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, ty in program.inputs.items():
        if ty.dtype == "float32":
            out[name] = rng.uniform(-2, 2, ty.shape).astype(np.float32)
        elif ty.dtype == "bool":
            out[name] = rng.integers(0, 2, ty.shape).astype(bool)
        else:
            info = np.iinfo(ty.dtype)
            out[name] = rng.integers(max(info.min, -128), min(info.max, 127) + 1, ty.shape).astype(ty.dtype)
    return out
