"""Hypothesis strategies for random well-typed programs and their inputs.

Shared by every layer's property tests: the interpreter, rules, extraction and backends all
check `evaluate(transformed(p)) == evaluate(p)` on programs drawn from here. Programs are grown
one operator at a time from a pool of typed terms; numerically touchy operators are drawn in a
guarded form (log of |x| + 1, division by |x| + 1) so generated values stay finite.

A third of the programs are small (every dimension 1..5, shrinking there); the others have the
shapes the kernels specialize on: channels up to 72 that are and are not multiples of 8 and
16, spatial sizes up to 40 with remainders, dense layers up to 256 wide, within a budget of
elements and multiply-adds. Convolutions, dense/matmul and their fused forms are drawn three
times as often as other operators. `vta_programs` draws int8 and uint8 contractions (with and
without zero points) for the VTA target at random shapes.
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
# channel counts: multiples of 8 and 16 (the vector and block widths) and their neighbours
CHANNELS = st.sampled_from([8, 16, 3, 5, 12, 17, 20, 24, 32, 33, 40, 48, 64, 65, 72])
WIDTHS = st.sampled_from([8, 16, 1, 7, 24, 31, 32, 64, 100, 128, 200, 256])
ROWS = st.sampled_from([1, 2, 5, 6, 8, 13, 16, 33, 64])  # GEMM row blocks are 4, 6 and 8
SPATIAL = (1, 2, 3, 5, 7, 8, 9, 14, 15, 16, 17, 28, 31, 40)  # output rows of 8, 16, 24, 32 and not
MAX_ELEMENTS = 1 << 16  # per input tensor
MAX_MACS = 20_000_000  # per contraction: the interpreter runs these in well under a second


class _Builder:
    """Draws operators over a growing pool of terms; params get seeded random data.

    `big` programs draw kernel-sized dimensions (see the module docstring)."""

    def __init__(self, draw, seed: int, big: bool = False) -> None:
        self.draw = draw
        self.rng = np.random.default_rng(seed)
        self.pool: list[Term] = []
        self.params = 0
        self.big = big

    def dim(self, big: st.SearchStrategy[int] = CHANNELS) -> int:
        return self.draw(big if self.big else DIM)

    def param(self, shape: tuple[int, ...], dtype: str = "float32", scale: float = 1.0) -> Term:
        self.params += 1
        if dtype == "float32":
            data = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        else:
            data = self.rng.integers(-128, 128, shape).astype(dtype)
        return T.param(f"p{self.params}", data)

    def pick(self, rank: int | None = None, min_rank: int = 0) -> Term | None:
        """A float term of the pool, newest first (so programs grow as chains, and shrink so)."""
        choices = [t for t in reversed(self.pool) if t.dtype == "float32" and t.type.rank >= min_rank
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
    k = a.shape[-1]
    n = max(1, min(b.dim(WIDTHS), MAX_MACS // a.type.size))
    match b.draw(st.sampled_from(["matmul", "dense", "fused"])):
        case "matmul" if a.type.rank >= 2:
            return T.matmul(a, b.param((k, n), scale=1 / math.sqrt(k)))
        case "fused":
            w = b.param((n, k), scale=1 / math.sqrt(k))
            out = a.shape[:-1] + (n,)
            residual = (b.param(out),) if b.draw(st.booleans()) else ()
            steps = (("add",),) if residual else ()
            steps += b.draw(st.sampled_from([(), (("relu",),), (("clip", -1.0, 1.0),)]))
            return T.fused_dense(a, w, b.param((n,)), *residual, epilogue=steps)
        case _:
            return T.dense(a, b.param((n, k), scale=1 / math.sqrt(k)))


def _conv_args(b: _Builder, x: Term) -> dict:
    c, h, w_in = x.shape[1:]
    groups = b.draw(st.sampled_from([g for g in (1, 1, 2, 4, 8, c) if c % g == 0]))
    kh, kw = (b.draw(st.sampled_from([k for k in (1, 3, 3, 5) if k <= n + 2])) for n in (h, w_in))
    pads = tuple(b.draw(st.integers(0, 2 if b.big else 1)) for _ in range(4))
    dil = b.draw(st.integers(1, 2))
    if h + pads[0] + pads[2] < dil * (kh - 1) + 1 or w_in + pads[1] + pads[3] < dil * (kw - 1) + 1:
        dil, kh, kw = 1, 1, 1
    strides = (b.draw(st.integers(1, 2)), b.draw(st.integers(1, 2)))
    macs = x.type.size // groups * kh * kw // (strides[0] * strides[1])  # per output channel
    out = groups * max(1, min(b.dim() if b.big else b.draw(st.integers(1, 3)), MAX_MACS // max(1, macs)))
    w = b.param((out, c // groups, kh, kw), scale=1 / math.sqrt(c // groups * kh * kw))
    return dict(w=w, strides=strides, pads=pads, dilations=(dil, dil), groups=groups)


def _nchw(b: _Builder) -> Term | None:
    """A rank-4 term of the pool, or the newest term reshaped to NCHW (channels first)."""
    x = b.pick(rank=4)
    if x is not None or b.pick() is None:
        return x
    t = b.pick()
    return T.reshape(t, ((1,) + t.shape + (1, 1, 1))[:4] if t.type.rank < 4 else (1, t.type.size, 1, 1))


def _conv(b: _Builder) -> Term | None:
    x = _nchw(b)
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
    c = b.draw(st.sampled_from([d for d in (1, 2, 4, 8, 16) if x.shape[1] % d == 0]))
    return T.unpack_nchwc(T.relu(T.pack_nchwc(x, c)), c)


MOVES = {"unary": _unary, "binary": _binary, "where": _where, "matmul": _matmul, "conv": _conv,
         "pool": _pool, "norm": _norm, "movement": _movement, "layout": _layout}
WEIGHT = {"matmul": 3, "conv": 4}  # contractions (plain and fused) drawn three to four times as often


def _input_shape(draw, big: bool) -> tuple[int, ...]:
    """The first input's shape: small, or NCHW / [M, K] of kernel size within `MAX_ELEMENTS`."""
    if not big:
        return tuple(draw(DIM) for _ in range(draw(st.sampled_from([1, 2, 3, 4, 4]))))
    match draw(st.sampled_from([4, 4, 4, 2, 3])):
        case 4:
            n, c = draw(st.integers(1, 2)), draw(CHANNELS)
            sides = st.sampled_from([d for d in SPATIAL if d * d * n * c <= MAX_ELEMENTS])
            return (n, c, draw(sides), draw(sides))
        case 2:
            return (draw(ROWS), draw(WIDTHS))
        case _:
            return (draw(st.integers(1, 8)), draw(st.sampled_from(SPATIAL)), draw(CHANNELS))


@st.composite
def programs(draw, max_ops: int = 6, moves: tuple[str, ...] = tuple(MOVES)) -> Program:
    """A random float32 program: 1-2 inputs, up to `max_ops` drawn operators, 1-2 outputs."""
    big = draw(st.sampled_from([False, True, True]))
    b = _Builder(draw, draw(st.integers(0, 2**32 - 1)), big)
    shape = _input_shape(draw, big)
    b.pool.append(T.var("x", shape, "float32"))
    if draw(st.booleans()):
        b.pool.append(T.var("y", shape, "float32"))
    weighted = [m for m in moves for _ in range(WEIGHT.get(m, 1))]
    for _ in range(draw(st.integers(1, max_ops))):
        term = MOVES[draw(st.sampled_from(weighted))](b)
        if term is not None and 0 < term.type.size <= 4 * MAX_ELEMENTS:
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
    return Program({"out": _requantize(draw, b, acc, bias_shape)})


def _requantize(draw, b: _Builder, acc: Term, bias_shape: tuple[int, ...]) -> Term:
    """acc + bias, [relu], >> shift, clip to int8: the epilogue VTA runs on its ALU."""
    acc = T.add(acc, T.cast(b.param(bias_shape, "int8"), "int32"))
    if draw(st.booleans()):
        acc = T.relu(acc)
    shifted = T.right_shift(acc, draw(st.integers(0, 10)))
    return T.cast(T.clip(shifted, -127, 127), "int8")


def _activation(draw, shape: tuple[int, ...]) -> Term:
    """An int8 or uint8 input, minus a zero point (widened to int32) or not."""
    dtype = draw(st.sampled_from(["int8", "uint8"]))
    x = T.var("x", shape, dtype)
    if not draw(st.booleans()):
        return x
    zero = draw(st.integers(0, 255) if dtype == "uint8" else st.integers(-128, 127))
    return T.sub(T.cast(x, "int32"), T.const(zero, "int32"))


# Past where an eager VTA cost model prefers the accelerator: ~2^14 multiply-adds for an int8
# dense layer, more for uint8 and zero points (their corrections run on the host).
VTA_SIZED_MACS = 1 << 17


@st.composite
def vta_programs(draw) -> Program:
    """An 8-bit contraction for VTA at a random shape: int8 or uint8 activations, with or
    without a zero point; dense [M <= 64, K <= 256] x [N <= 256] or conv2d [1, C <= 72, H, W]
    with O <= 72 (multiples of the 16-wide GEMM block and not), requantized to int8. Two thirds
    of them are accelerator-sized (at least `VTA_SIZED_MACS` multiply-adds), so a good share
    reaches the accelerator, not only the host fallback of small contractions (conv2d: channels
    of 32 or more and 8 or more rows and columns)."""
    b = _Builder(draw, draw(st.integers(0, 2**32 - 1)), big=True)
    sized = draw(st.sampled_from([True, True, False]))
    if draw(st.booleans()):
        m, k, n = _dense_sizes(draw, sized)
        acc = T.dense(_activation(draw, (m, k)), b.param((n, k), "int8"))
        bias_shape: tuple[int, ...] = (n,)
    else:
        channels = st.sampled_from([32, 48, 64, 72]) if sized else CHANNELS
        c, o = draw(channels), draw(channels)
        pads, stride = draw(st.sampled_from([0, 1])), draw(st.sampled_from([1, 1, 2]))
        # at least 3 output rows: VTA's conv lowering tiles no fewer (test_programs has the case)
        low = 8 if sized else 3
        h = draw(st.sampled_from([d for d in SPATIAL if 2 * stride + 3 <= d + 2 * pads and low <= d <= 17]))
        w = draw(st.sampled_from([d for d in SPATIAL if low <= d <= 17]))
        acc = T.conv2d(_activation(draw, (1, c, h, w)), b.param((o, c, 3, 3), "int8"), strides=stride, pads=pads)
        bias_shape = (1, o, 1, 1)
    return Program({"out": _requantize(draw, b, acc, bias_shape)})


def _dense_sizes(draw, sized: bool) -> tuple[int, int, int]:
    """M, K, N of a dense layer; accelerator-sized ones have K >= 128, N >= 64 and
    M*K*N >= `VTA_SIZED_MACS`."""
    if not sized:
        return draw(ROWS), draw(WIDTHS), draw(WIDTHS)
    k, n = draw(st.sampled_from([128, 200, 256])), draw(st.sampled_from([64, 100, 128, 200, 256]))
    rows = [r for r in (1, 2, 5, 6, 8, 13, 16, 33, 64) if r * k * n >= VTA_SIZED_MACS]
    return draw(st.sampled_from(rows)), k, n


def inputs_for(program: Program, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs for a program: floats in [-2, 2), 8-bit integers across their full range."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, ty in program.inputs.items():
        if ty.dtype == "float32":
            out[name] = rng.uniform(-2, 2, ty.shape).astype(np.float32)
        elif ty.dtype == "bool":
            out[name] = rng.integers(0, 2, ty.shape).astype(bool)
        else:  # 8-bit types over their whole range, wider ones over int8's
            info = np.iinfo(ty.dtype)
            lo, hi = (info.min, info.max) if info.bits == 8 else (-128, 127)
            out[name] = rng.integers(lo, hi + 1, ty.shape).astype(ty.dtype)
    return out
