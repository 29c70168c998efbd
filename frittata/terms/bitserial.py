"""Low-bit operators: bit packing and bit-serial convolution and dense.

A tensor of small unsigned integers (each value below 2^bits) is stored as `bits` bit planes,
each plane packed along one axis into machine words. `bitpack(x, bits, axis, pack_dtype)`
removes `axis` (length n) from x and appends two axes (bits, words), words = ceil(n / W) with
W the width of `pack_dtype` (uint8: 8, int32: 32, int64: 64):

    out[..., b, w] bit i  =  bit b of x[..., w*W + i, ...]   (0 where w*W + i >= n)

so an NCHW tensor packed along C gives [N, H, W, bits, words]: the words of one pixel are
adjacent, which is what a bit-serial kernel reads. `bitunpack(p, size, axis, encoding)` is
the inverse: the value of element k of the unpacked axis (placed at `axis`, `size` <= words*W)
from its bits b_j, as int8:

    unipolar   Σ_j b_j 2^j                 (0 .. 2^bits - 1)
    bipolar    Σ_j (2 b_j - 1) 2^j          (odd values -(2^bits - 1) .. 2^bits - 1; 1 bit: ±1)

`bitserial_conv2d(xp, wp, ...)` and `bitserial_dense(xp, wp, ...)` are the integer conv2d /
dense of the unpacked values: activations unipolar, weights as `encoding` says; a kernel
computes them as Σ_i,j 2^(i+j) popcount(x_plane_i & w_plane_j) (bipolar weights:
popcount(x & w) - popcount(x & ~w)). Padding bits are 0 in both operands, and an activation
0 contributes nothing whatever the weight, so padding (of channels to whole words, or of the
image) needs no correction. Each is defined by its expansion (conv2d / dense over bitunpack),
so the reference meaning and ONNX export derive from it.

`bitserial_conv2d` may also take a bias [O] (int32) as a third operand and an integer
`epilogue` (`frittata.terms.kernels`: relu, clip, rounding shift, and casts to a dtype of at
most 32 bits), applied to the int32 sum plus the bias before it is stored: the requantization
between low-bit layers, done by the kernel that produces the sums, with no int32 tensor
written in between.

Both bit-serial ops carry a `schedule`: () for the CPU backend's default register block, or
(("pixels", P), ("blocks", M)) -- a tile of P output pixels of one row by M blocks of output
channels (a block is the channels one vector of words holds) -- which the tiling rules propose
and the tuner measures. It does not change the meaning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.attr_forms import as_axis, as_int, as_pads, as_pair
from frittata.terms.contractions import conv2d, dense
from frittata.terms.conversions import cast
from frittata.terms.dtypes import TensorType, is_int
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.infer import fail, need_rank
from frittata.terms.kernels import EPILOGUE, channel_bias, check_epilogue, epilogue_terms
from frittata.terms.ops import Arity, Attr, Cost, Op, define
from frittata.terms.term import Term, build
from frittata.terms.tiled import normalize_schedule

__all__ = ["bitpack", "bitunpack", "bitserial_conv2d", "bitserial_dense", "WORD_BITS", "MAX_BITS"]

WORD_BITS = {"uint8": 8, "int32": 32, "int64": 64}
"""Bits per word of each packing dtype (the signed ones hold bit patterns)."""
MAX_BITS = 7
"""The widest value a bit plane stack holds: every unpacked value fits int8."""
ENCODINGS = ("unipolar", "bipolar")
OUT_DTYPES = ("int32", "int64")
SCHEDULE_KEYS = ("pixels", "blocks")
EPILOGUE_STEPS = ("relu", "clip", "shift", "cast")
EPILOGUE_CASTS = ("int8", "uint8", "int16", "uint16", "int32")
"""The epilogue steps of a bit-serial conv2d and the dtypes its casts go to: integer steps that
an int32 register holds exactly."""
MAX_PIXELS = 8
MAX_BLOCKS = 16
"""Bounds of a bit-serial schedule's register block (far past what 32 vector registers hold)."""


def _check_bits(op: Op, bits: int) -> None:
    if not 1 <= bits <= MAX_BITS:
        raise fail(op, f"bits in [1, {MAX_BITS}]", bits)


def _check_word(op: Op, t: TensorType, what: str) -> int:
    if t.dtype not in WORD_BITS:
        raise fail(op, f"{what} of a packing dtype {tuple(WORD_BITS)}", t)
    return WORD_BITS[t.dtype]


def _infer_bitpack(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (x,) = types
    if not is_int(x.dtype):
        raise fail(op, "an integer tensor", x)
    need_rank(op, x, 1, at_least=True)
    _check_bits(op, attrs["bits"])
    word = WORD_BITS.get(attrs["pack_dtype"])
    if word is None:
        raise fail(op, f"pack_dtype in {tuple(WORD_BITS)}", attrs["pack_dtype"])
    where = attrs["axis"]
    if not 0 <= where < x.rank:
        raise fail(op, f"axis in [{-x.rank}, {x.rank})", where)
    words = -(-x.shape[where] // word)
    return TensorType(x.shape[:where] + x.shape[where + 1:] + (attrs["bits"], words), attrs["pack_dtype"])


def _bitpack(node: Term, args: list[np.ndarray]) -> np.ndarray:
    (x,) = args
    bits, word = node.attr("bits"), WORD_BITS[node.dtype]
    wide = np.moveaxis(x.astype(np.int64), node.attr("axis"), -1)
    words = node.shape[-1]
    wide = np.concatenate([wide, np.zeros(wide.shape[:-1] + (words * word - wide.shape[-1],), np.int64)], -1)
    wide = wide.reshape(wide.shape[:-1] + (1, words, word)).astype(np.uint64)
    planes = (wide >> np.arange(bits, dtype=np.uint64).reshape(-1, 1, 1)) & np.uint64(1)
    packed = (planes << np.arange(word, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)
    return packed.astype(np.int64).astype(node.dtype)


def _export_bitpack(g, node: Term, args: list[str], out: str | None) -> str:
    """Shift each plane's bit into place and sum the word's bits (disjoint, so the int64 sum
    wraps to the exact pattern)."""
    x = node.args[0].type
    where, bits, word, words = node.attr("axis"), node.attr("bits"), WORD_BITS[node.dtype], node.shape[-1]
    rest = x.shape[:where] + x.shape[where + 1:]
    perm = [i for i in range(x.rank) if i != where] + [where]
    wide = g.node("Transpose", [g.node("Cast", args, to=g.dtype("int64"))], perm=perm)
    pads = g.constant([0] * x.rank + [0] * (x.rank - 1) + [words * word - x.shape[where]], "int64")
    grouped = g.node("Reshape", [g.node("Pad", [wide, pads]), g.constant(rest + (1, words, word), "int64")])
    unsigned = g.node("Cast", [grouped], to=g.dtype("uint64"))
    plane_shift = g.constant(np.arange(bits, dtype=np.uint64).reshape(-1, 1, 1), "uint64")
    planes = g.node("BitwiseAnd", [g.node("BitShift", [unsigned, plane_shift], direction="RIGHT"),
                                   g.constant(1, "uint64")])
    placed = g.node("BitShift", [planes, g.constant(np.arange(word, dtype=np.uint64), "uint64")], direction="LEFT")
    summed = g.node("ReduceSum", [g.node("Cast", [placed], to=g.dtype("int64")), g.constant([-1], "int64")],
                    keepdims=0)
    return g.node("Cast", [summed], out, to=g.dtype(node.dtype))


def _infer_bitunpack(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    (p,) = types
    need_rank(op, p, 2, at_least=True)
    word = _check_word(op, p, "words")
    _check_bits(op, p.shape[-2])
    size, where = attrs["size"], attrs["axis"]
    if not 0 <= size <= p.shape[-1] * word:
        raise fail(op, f"size in [0, {p.shape[-1] * word}] ({p.shape[-1]} words of {word} bits)", size)
    if not 0 <= where <= p.rank - 2:
        raise fail(op, f"axis in [0, {p.rank - 2}]", where)
    if attrs["encoding"] not in ENCODINGS:
        raise fail(op, f"encoding in {ENCODINGS}", attrs["encoding"])
    rest = p.shape[:-2]
    return TensorType(rest[:where] + (size,) + rest[where:], "int8")


def _bitunpack(node: Term, args: list[np.ndarray]) -> np.ndarray:
    (p,) = args
    word, bits = WORD_BITS[node.args[0].dtype], node.args[0].shape[-2]
    unsigned = p.astype(np.int64).astype(np.uint64)[..., None]
    planes = ((unsigned >> np.arange(word, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    planes = planes.reshape(p.shape[:-1] + (-1,))[..., :node.attr("size")]
    if node.attr("encoding") == "bipolar":
        planes = 2 * planes - 1
    values = (planes << np.arange(bits).reshape(-1, 1)).sum(axis=-2)
    return np.moveaxis(values, -1, node.attr("axis")).astype(np.int8)


def _export_bitunpack(g, node: Term, args: list[str], out: str | None) -> str:
    """Each word's bits by shifts, the planes weighted by 2^j and summed, moved to `axis`."""
    p = node.args[0].type
    word, bits, size, where = WORD_BITS[p.dtype], p.shape[-2], node.attr("size"), node.attr("axis")
    unsigned = g.node("Cast", [g.node("Cast", args, to=g.dtype("int64"))], to=g.dtype("uint64"))
    column = g.node("Reshape", [unsigned, g.constant(p.shape + (1,), "int64")])
    spread = g.node("BitwiseAnd", [g.node("BitShift", [column, g.constant(np.arange(word, dtype=np.uint64),
                                                                            "uint64")], direction="RIGHT"),
                                   g.constant(1, "uint64")])
    flat = g.node("Reshape", [g.node("Cast", [spread], to=g.dtype("int64")),
                              g.constant(p.shape[:-1] + (p.shape[-1] * word,), "int64")])
    kept = g.node("Slice", [flat, g.constant([0], "int64"), g.constant([size], "int64"), g.constant([-1], "int64")])
    weights = g.constant((1 << np.arange(bits, dtype=np.int64)).reshape(-1, 1), "int64")
    values = g.node("ReduceSum", [g.node("Mul", [kept, weights]), g.constant([-2], "int64")], keepdims=0)
    if node.attr("encoding") == "bipolar":
        values = g.node("Sub", [g.node("Mul", [values, g.constant(2, "int64")]),
                                g.constant((1 << bits) - 1, "int64")])
    rank = p.rank - 1
    perm = list(range(where)) + [rank - 1] + list(range(where, rank - 1))
    return g.node("Cast", [g.node("Transpose", [values], perm=perm)], out, to=g.dtype("int8"))


def _check_operands(op: Op, xp: TensorType, wp: TensorType, attrs: dict[str, Any]) -> None:
    _check_word(op, xp, "packed activations")
    if wp.dtype != xp.dtype or wp.shape[-1] != xp.shape[-1]:
        raise fail(op, f"weights packed like the activations ({xp.shape[-1]} words of {xp.dtype})", wp)
    _check_bits(op, xp.shape[-2])
    _check_bits(op, wp.shape[-2])
    if attrs["encoding"] not in ENCODINGS:
        raise fail(op, f"encoding in {ENCODINGS}", attrs["encoding"])
    if attrs["out_dtype"] not in OUT_DTYPES:
        raise fail(op, f"out_dtype in {OUT_DTYPES}", attrs["out_dtype"])
    _check_schedule(op, attrs.get("schedule", ()))


def _check_schedule(op: Op, schedule: tuple) -> None:
    if schedule == ():
        return
    keys = tuple(k for k, _ in schedule)
    if keys != SCHEDULE_KEYS:
        raise fail(op, f"a schedule () or with keys {SCHEDULE_KEYS}", schedule)
    s = dict(schedule)
    if not 1 <= s["pixels"] <= MAX_PIXELS or not 1 <= s["blocks"] <= MAX_BLOCKS:
        raise fail(op, f"pixels in [1, {MAX_PIXELS}] and blocks in [1, {MAX_BLOCKS}]", schedule)


def _check_conv(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    need_rank(op, types[0], 5)
    need_rank(op, types[1], 5)
    _check_operands(op, types[0], types[1], attrs)
    epilogue = attrs["epilogue"]
    if (len(types) == 3 or epilogue) and attrs["out_dtype"] != "int32":
        raise fail(op, "out_dtype int32 with a bias or an epilogue", attrs["out_dtype"])
    bias = TensorType((types[1].shape[0],), "int32")
    if len(types) == 3 and types[2] != bias:
        raise fail(op, f"bias {bias}", types[2])
    for step in epilogue:
        if step[0] not in EPILOGUE_STEPS or (step[0] == "cast" and step[1] not in EPILOGUE_CASTS):
            raise fail(op, f"epilogue steps {EPILOGUE_STEPS} (casts to {EPILOGUE_CASTS})", step)
    check_epilogue(op, TensorType((), "int32"), [], epilogue)


def _check_dense(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    xp, wp = types
    need_rank(op, xp, 3, at_least=True)
    need_rank(op, wp, 3)
    _check_operands(op, xp, wp, attrs)


def _unpacked(p: Term, axis: int, encoding: str) -> Term:
    return bitunpack(p, p.shape[-1] * WORD_BITS[p.dtype], axis, encoding)


def _out(acc: Term, out_dtype: str) -> Term:
    return acc if out_dtype == acc.dtype else cast(acc, out_dtype)


def _expand_conv(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    xp, wp = args[:2]
    acc = conv2d(_unpacked(xp, 1, "unipolar"), _unpacked(wp, 1, attrs["encoding"]), attrs["strides"],
                 attrs["pads"], attrs["dilations"])
    acc = _out(acc, attrs["out_dtype"])
    return epilogue_terms(channel_bias(acc, args[2]) if len(args) == 3 else acc, (), attrs["epilogue"])


def _expand_dense(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    xp, wp = args
    acc = dense(_unpacked(xp, xp.type.rank - 2, "unipolar"), _unpacked(wp, 1, attrs["encoding"]))
    return _out(acc, attrs["out_dtype"])


def _choices(values: tuple) -> Any:
    return lambda x: list(values)


ENCODING = Attr("encoding", str, "unipolar", lambda v, x: str(v), _choices(ENCODINGS))
OUT_DTYPE = Attr("out_dtype", str, "int32", lambda v, x: str(v), _choices(OUT_DTYPES))
BITS = Attr("bits", int, normalize=as_int, choices=lambda x: [1, 2, 3])
SCHEDULE = Attr("schedule", tuple, (), lambda v, x: normalize_schedule(v),
                lambda x: [(), (("pixels", 2), ("blocks", 3))])
BITSERIAL = ("kernel", "contraction")

BITPACK = define("bitpack", 1, _infer_bitpack, classes=("movement",), cost=Cost.COPY,
                 attrs=(BITS, Attr("axis", int, 1, as_axis("bitpack"), lambda x: [x.rank - 1]),
                        Attr("pack_dtype", str, "int64", lambda v, x: str(v), _choices(tuple(WORD_BITS)))),
                 evaluate=_bitpack, onnx_export=_export_bitpack)
BITUNPACK = define("bitunpack", 1, _infer_bitunpack, classes=("movement",), cost=Cost.COPY,
                   attrs=(Attr("size", int, normalize=as_int, choices=lambda x: [x.shape[-1] * WORD_BITS[x.dtype]]),
                          Attr("axis", int, 0, as_int, lambda x: [0]), ENCODING),
                   evaluate=_bitunpack, onnx_export=_export_bitunpack)
BITSERIAL_CONV2D = define("bitserial_conv2d", Arity(2, 3), infer_by_expansion(_check_conv), classes=BITSERIAL,
                          cost=Cost.CONTRACTION, expand=_expand_conv,
                          attrs=(Attr("strides", tuple, (1, 1), as_pair("strides"), lambda x: [(1, 1), (2, 2)]),
                                 Attr("pads", tuple, (0, 0, 0, 0), as_pads, lambda x: [(0, 0, 0, 0), (1, 1, 1, 1)]),
                                 Attr("dilations", tuple, (1, 1), as_pair("dilations"), lambda x: [(1, 1)]),
                                 ENCODING, OUT_DTYPE, EPILOGUE, SCHEDULE))
BITSERIAL_DENSE = define("bitserial_dense", 2, infer_by_expansion(_check_dense), classes=BITSERIAL,
                         cost=Cost.CONTRACTION, expand=_expand_dense, attrs=(ENCODING, OUT_DTYPE, SCHEDULE))


def bitpack(x: Term, bits: int, axis: int = 1, pack_dtype: str = "int64") -> Term:
    """The low `bits` bits of integer x as bit planes packed along `axis` into words of
    `pack_dtype`: shape x.shape without axis + (bits, ceil(n / W)) (see the module docstring)."""
    return build(BITPACK, (x,), bits=bits, axis=axis, pack_dtype=pack_dtype)


def bitunpack(p: Term, size: int, axis: int = 0, encoding: str = "unipolar") -> Term:
    """The int8 values of packed bit planes p[..., bits, words]: `size` of them along a new axis
    placed at `axis` of p.shape[:-2], unipolar Σ b_j 2^j or bipolar Σ (2 b_j - 1) 2^j."""
    return build(BITUNPACK, (p,), size=size, axis=axis, encoding=encoding)


def bitserial_conv2d(xp: Term, wp: Term, strides=1, pads=0, dilations=1, encoding: str = "unipolar",
                     out_dtype: str = "int32", schedule=(), bias: Term | None = None, epilogue=()) -> Term:
    """conv2d of unpacked unipolar activations xp [N, H, W, a_bits, words] and weights
    wp [O, KH, KW, w_bits, words] (packed along C, same word dtype and count) -> [N, O, OH, OW]
    of `out_dtype`; pads (top, left, bottom, right) of zeros; `schedule`, `bias` and `epilogue`
    as the module says."""
    operands = (xp, wp) if bias is None else (xp, wp, bias)
    return build(BITSERIAL_CONV2D, operands, strides=strides, pads=pads, dilations=dilations, encoding=encoding,
                 out_dtype=out_dtype, epilogue=epilogue, schedule=schedule)


def bitserial_dense(xp: Term, wp: Term, encoding: str = "unipolar", out_dtype: str = "int32", schedule=()) -> Term:
    """dense of unpacked unipolar activations xp [..., a_bits, words] and weights
    wp [N, w_bits, words] (packed along K) -> [..., N] of `out_dtype`; `schedule` as the module says."""
    return build(BITSERIAL_DENSE, (xp, wp), encoding=encoding, out_dtype=out_dtype, schedule=schedule)
