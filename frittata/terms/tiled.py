"""Tiled kernel ops: a fused contraction together with the loop schedule that computes it.

`tiled_conv2d(x, w, b, [r], ..., schedule=S)` and `tiled_dense(x, w, b, [r], epilogue, schedule=S)`
have the operands, attributes and meaning of `fused_conv2d` / `fused_dense`; the schedule says
how a CPU backend runs them. It is a tuple of `(key, value)` pairs, in this order:

  tiled_conv2d  ("vec", L) ("oc_block", MR) ("oc_tail", O % MR) ("ow_block", NR) ("ow_tail", OW % NR)
                ("c_block", CB) ("c_tail", C % CB) ("parallel", "oc" | "pixel")
  tiled_dense   ("vec", L) ("m_block", MR) ("m_tail", M % MR) ("n_block", NR) ("n_tail", N % NR)
                ("k_block", KC) ("parallel", "n" | "m")

A depthwise `tiled_conv2d` (groups = C: one input channel per group) runs the depthwise kernel,
whose schedule is

  depthwise     ("vec", L) ("oh_block", RB) ("oh_tail", OH % RB) ("ow_block", NR) ("ow_tail", OW % NR)
                ("parallel", "channel")

a tile of RB output rows by NR output pixels of one channel; threads split the input channels.
A pointwise `tiled_conv2d` (1x1 kernel, stride 1, no padding, one group) may instead run the
pixel GEMM (its output pixels the GEMM's rows, its output channels the columns), whose schedule is

  pixel GEMM    ("vec", L) ("m_block", MR) ("m_tail", P % MR) ("n_block", NR) ("n_tail", O % NR)
                ("parallel", "n")

MR output pixels (of the P = OH x OW of an image) by NR output channels; threads split the
column panels; the whole reduction (the C input channels) runs in one block. Or, with constant
weights, the channel GEMM (the weights times each image's pixels: its output channels the rows,
its pixels the columns), whose schedule spells a dense layer's blocks over them:

  channel GEMM  ("vec", L) ("m_block", MR) ("m_tail", O % MR) ("n_block", NR) ("n_tail", P % NR)
                ("k_block", KC) ("parallel", "n")

(threads take items of row groups x pixel panels; they pack the panels at run time).

L is the fp32 lanes of one vector (4, 8 or 16); a register block is MR output channels (rows)
by NR output pixels (columns), NR a multiple of L of at most `MAX_VECTORS` vectors; KC (dense)
and CB (input channels of a convolution) are the depth of a cache block of the reduction. The
tails are the explicit remainders: type inference checks that they equal the dimension modulo
the block, so a schedule states how big the remainder tiles are (0: the blocks divide it). "parallel" names the
loop that runs outermost and is split across threads (output-channel blocks or pixel tiles of a
convolution; column panels or row blocks of a dense layer). Grouped convolutions with several
input channels per group have no tiled form.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.dtypes import TensorType
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.infer import fail
from frittata.terms.kernels import EPILOGUE, Epilogue, fused_conv2d, fused_dense
from frittata.terms.contractions import CONV_ATTRS
from frittata.terms.ops import Arity, Attr, Cost, Op, define
from frittata.terms.term import Term

__all__ = ["tiled_conv2d", "tiled_dense"]

Schedule = tuple[tuple[str, Any], ...]

VECTOR_WIDTHS = (4, 8, 16)
MAX_VECTORS = 4
MAX_ROWS = 32
MAX_DEPTHWISE_ROWS = 8
"""Output rows of a depthwise tile at most (RB x NV accumulators)."""
DEPTHWISE_KEYS = ("vec", "oh_block", "oh_tail", "ow_block", "ow_tail", "parallel")
DEPTHWISE_PARALLEL = ("channel",)
PIXEL_GEMM_KEYS = ("vec", "m_block", "m_tail", "n_block", "n_tail", "parallel")
PIXEL_GEMM_PARALLEL = ("n",)
CHANNEL_GEMM_KEYS = ("vec", "m_block", "m_tail", "n_block", "n_tail", "k_block", "parallel")
"""A pointwise `tiled_conv2d`'s channel GEMM schedule: the dense layers' keys (see the docstring)."""
CHANNEL_GEMM_PARALLEL = ("n",)
PARALLEL = {"tiled_conv2d": ("oc", "pixel"), "tiled_dense": ("n", "m")}
KEYS = {
    "tiled_conv2d": ("vec", "oc_block", "oc_tail", "ow_block", "ow_tail", "c_block", "c_tail", "parallel"),
    "tiled_dense": ("vec", "m_block", "m_tail", "n_block", "n_tail", "k_block", "parallel"),
}


def tiled_conv2d(x: Term, w: Term, bias: Term, *residual: Term, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), groups: int = 1, epilogue: Epilogue = (), schedule: Schedule) -> Term:
    """`fused_conv2d` computed with `schedule` (see the module docstring); same type."""
    plain = fused_conv2d(x, w, bias, *residual, strides=strides, pads=pads, dilations=dilations,
                         groups=groups, epilogue=epilogue)
    return Term.make(TILED_CONV2D, plain.args, plain.attrs + (("schedule", normalize_schedule(schedule)),))


def tiled_dense(x: Term, w: Term, bias: Term, *residual: Term, epilogue: Epilogue = (), schedule: Schedule) -> Term:
    """`fused_dense` computed with `schedule` (see the module docstring); same type."""
    plain = fused_dense(x, w, bias, *residual, epilogue=epilogue)
    return Term.make(TILED_DENSE, plain.args, plain.attrs + (("schedule", normalize_schedule(schedule)),))


def normalize_schedule(schedule) -> Schedule:
    """Pairs as tuples, numbers as Python ints (the form rules and builders both produce)."""
    out = []
    for pair in schedule:
        key, value = pair
        out.append((str(key), value if isinstance(value, str) else int(value)))
    return tuple(out)


def schedule_of(term_or_attrs) -> dict[str, Any]:
    """The schedule of a tiled term (or of its attribute tuple) as a dict."""
    attrs = term_or_attrs.attrs if isinstance(term_or_attrs, Term) else term_or_attrs
    return dict(dict(attrs)["schedule"])


def untiled(node: Term) -> Term:
    """The fused op a tiled op computes: same operands and attributes, no schedule."""
    return _untiled(node.op, node.args, dict(node.attrs))


def _untiled(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    plain = tuple((k, v) for k, v in attrs.items() if k != "schedule")
    return Term.make(UNTILED[op], args, plain)


def _check_tiled(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    """The schedule checked against the operand shapes (the fused op checks the rest)."""
    plain = {k: v for k, v in attrs.items() if k != "schedule"}
    out = UNTILED[op].infer(UNTILED[op], types, plain)
    schedule = attrs.get("schedule", ())
    keys = tuple(k for k, _ in schedule)
    if op == Op.TILED_CONV2D and plain["groups"] != 1:
        if plain["groups"] != types[0].shape[1]:
            raise fail(op, "groups = 1 or groups = input channels (depthwise; other grouped convolutions "
                           "have no tiled form)", plain["groups"])
        _check_depthwise(op, keys, dict(schedule), out)
        return
    if op == Op.TILED_CONV2D and keys == PIXEL_GEMM_KEYS:
        _check_pixel_gemm(op, dict(schedule), types[1], out, plain)
        return
    if op == Op.TILED_CONV2D and keys == CHANNEL_GEMM_KEYS:
        _check_channel_gemm(op, dict(schedule), types[1], out, plain)
        return
    if keys != KEYS[op.name]:
        raise fail(op, f"a schedule with keys {KEYS[op.name]}", keys)
    s = dict(schedule)
    rows, cols = _blocked_dims(op, types, out)
    row_key, col_key = ("oc", "ow") if op == Op.TILED_CONV2D else ("m", "n")
    _check_block(op, s, row_key, rows, lambda mr: 1 <= mr <= MAX_ROWS, f"1..{MAX_ROWS} rows")
    vec = s["vec"]
    if vec not in VECTOR_WIDTHS:
        raise fail(op, f"a vector width in {VECTOR_WIDTHS}", vec)
    _check_block(op, s, col_key, cols, lambda nr: nr % vec == 0 and 1 <= nr // vec <= MAX_VECTORS,
                 f"a multiple of vec = {vec}, at most {MAX_VECTORS} vectors")
    if op == Op.TILED_CONV2D:
        _check_block(op, s, "c", types[0].shape[1], lambda cb: cb >= 1, "at least 1 channel")
    elif s["k_block"] < 1:
        raise fail(op, "a reduction block k_block >= 1", s["k_block"])
    if s["parallel"] not in PARALLEL[op.name]:
        raise fail(op, f"a parallel loop in {PARALLEL[op.name]}", s["parallel"])


def _check_depthwise(op: Op, keys: tuple, s: dict, out: TensorType) -> None:
    """A depthwise schedule (see the module docstring) checked against the output shape."""
    if keys != DEPTHWISE_KEYS:
        raise fail(op, f"a depthwise schedule with keys {DEPTHWISE_KEYS}", keys)
    vec = s["vec"]
    if vec not in VECTOR_WIDTHS:
        raise fail(op, f"a vector width in {VECTOR_WIDTHS}", vec)
    _check_block(op, s, "ow", out.shape[3], lambda nr: nr % vec == 0 and 1 <= nr // vec <= MAX_VECTORS,
                 f"a multiple of vec = {vec}, at most {MAX_VECTORS} vectors")
    _check_block(op, s, "oh", out.shape[2], lambda rb: 1 <= rb <= MAX_DEPTHWISE_ROWS,
                 f"1..{MAX_DEPTHWISE_ROWS} rows")
    if s["parallel"] not in DEPTHWISE_PARALLEL:
        raise fail(op, f"a parallel loop in {DEPTHWISE_PARALLEL}", s["parallel"])


def _check_pixel_gemm(op: Op, s: dict, w: TensorType, out: TensorType, attrs: dict[str, Any]) -> None:
    """A pixel GEMM schedule (see the module docstring) checked against a pointwise convolution."""
    _check_gemm(op, s, w, attrs, "pixel GEMM", (out.shape[2] * out.shape[3], "pixels"), out.shape[1])
    if s["parallel"] not in PIXEL_GEMM_PARALLEL:
        raise fail(op, f"a parallel loop in {PIXEL_GEMM_PARALLEL}", s["parallel"])


def _check_channel_gemm(op: Op, s: dict, w: TensorType, out: TensorType, attrs: dict[str, Any]) -> None:
    """A channel GEMM schedule (see the module docstring) checked against a pointwise convolution."""
    _check_gemm(op, s, w, attrs, "channel GEMM", (out.shape[1], "output channels"), out.shape[2] * out.shape[3])
    if s["k_block"] < 1:
        raise fail(op, "a reduction block k_block >= 1", s["k_block"])
    if s["parallel"] not in CHANNEL_GEMM_PARALLEL:
        raise fail(op, f"a parallel loop in {CHANNEL_GEMM_PARALLEL}", s["parallel"])


def _check_gemm(op: Op, s: dict, w: TensorType, attrs: dict[str, Any], kernel: str, rows: tuple[int, str],
                cols: int) -> None:
    """A pointwise convolution's GEMM blocks: MR of its rows (`rows`: count, what they are), NR
    vectors of its `cols` columns."""
    if tuple(w.shape[2:]) != (1, 1) or tuple(attrs["strides"]) != (1, 1) or any(attrs["pads"]):
        raise fail(op, f"a pointwise convolution (1x1 kernel, stride 1, no padding) for a {kernel} schedule",
                   f"kernel {tuple(w.shape[2:])}, strides {tuple(attrs['strides'])}, pads {tuple(attrs['pads'])}")
    vec = s["vec"]
    if vec not in VECTOR_WIDTHS:
        raise fail(op, f"a vector width in {VECTOR_WIDTHS}", vec)
    _check_block(op, s, "m", rows[0], lambda mr: 1 <= mr <= MAX_ROWS, f"1..{MAX_ROWS} {rows[1]}")
    _check_block(op, s, "n", cols, lambda nr: nr % vec == 0 and 1 <= nr // vec <= MAX_VECTORS,
                 f"a multiple of vec = {vec}, at most {MAX_VECTORS} vectors")


def _blocked_dims(op: Op, types: list[TensorType], out: TensorType) -> tuple[int, int]:
    """(rows, columns) of the register blocks: (O, OW) of a convolution, (M, N) of a dense."""
    if op == Op.TILED_CONV2D:
        return out.shape[1], out.shape[3]
    return int(np.prod(out.shape[:-1])), out.shape[-1]


def _check_block(op: Op, s: dict, key: str, size: int, ok, expected: str) -> None:
    block, tail = s[f"{key}_block"], s[f"{key}_tail"]
    if not isinstance(block, int) or not ok(block):
        raise fail(op, f"{key}_block {expected}", block)
    if tail != size % block:
        raise fail(op, f"{key}_tail = {size} % {block} = {size % block} (the remainder)", tail)


SCHEDULE = Attr("schedule", tuple, normalize=lambda v, x: normalize_schedule(v))
TILED = ("kernel", "tiled")
TILED_CONV2D = define("tiled_conv2d", Arity(3, 4), infer_by_expansion(_check_tiled), classes=TILED,
                      attrs=CONV_ATTRS + (EPILOGUE, SCHEDULE), expand=_untiled, cost=Cost.CONTRACTION)
TILED_DENSE = define("tiled_dense", Arity(3, 4), infer_by_expansion(_check_tiled), classes=TILED,
                     attrs=(EPILOGUE, SCHEDULE), expand=_untiled, cost=Cost.CONTRACTION)
UNTILED = {TILED_CONV2D: Op.FUSED_CONV2D, TILED_DENSE: Op.FUSED_DENSE}
"""The fused op each tiled op computes."""
