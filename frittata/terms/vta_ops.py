"""VTA kernel terms: the accelerator's blocked layouts and its GEMM tile operators.

A block is `(BATCH, BLOCK_IN, BLOCK_OUT)`, the shape of the configured GEMM intrinsic
(VTA's packed layouts):

  vta_pack(x, role, block)    role "act": [N, C] -> [N/BATCH, C/BLOCK_IN, BATCH, BLOCK_IN] and
                              [N, C, H, W] -> [N/BATCH, C/BLOCK_IN, H, W, BATCH, BLOCK_IN];
                              role "wgt": the same with BLOCK_OUT for BATCH (weights [O, I] or
                              [O, I, kh, kw]); the dtype is kept
  vta_unpack(y, block)        the inverse of an "act" pack of an output, whose inner block is
                              (BATCH, BLOCK_OUT): [NB, OB, (OH, OW,) BATCH, BLOCK_OUT] -> NCHW / NC
  vta_dense(x, w, bias, epilogue, block)
                              x packed "act" int8 [NB, KB, B, BI], w packed "wgt" int8
                              [OB, KB, BO, BI], bias int32 [OB*BO] -> [NB, OB, B, BO]
  vta_conv2d(x, w, bias, strides, pads, epilogue, block)
                              x int8 [NB, CB, H, W, B, BI], w int8 [OB, CB, kh, kw, BO, BI],
                              bias int32 [OB*BO] -> [NB, OB, OH, OW, B, BO]

The contraction accumulates in int32 (wrapping), adds the bias, then runs the epilogue on the
ALU: steps of `frittata.terms.kernels` restricted to what VTA does — ("shift", s) (rounding
shift right), ("relu",) (MAX 0), ("clip", lo, hi) (MIN / MAX with 16-bit immediates) — and
ends with ("cast", "int8"), the truncating STORE: the output is int8 in the packed layout.
Without the final cast the int32 accumulator is the output (`dense` / `conv2d` of int8
operands); VTA stores it as its four bytes, one STORE per byte between ALU shifts right by 8,
and the host reassembles them (`backends/vta/lower.py`).

Each op is defined by its expansion into plain ops (unpack as reshape + transpose, the plain
contraction with its bias and epilogue, pack); type, meaning and ONNX export derive from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.attr_forms import ints
from frittata.terms.contractions import conv2d, dense
from frittata.terms.dtypes import TensorType
from frittata.terms.elementwise import add
from frittata.terms.expansion import infer_by_expansion
from frittata.terms.infer import fail
from frittata.terms.kernels import EPILOGUE, Epilogue, channel_bias, epilogue_terms
from frittata.terms.movement_ops import reshape, transpose
from frittata.terms.ops import Attr, Cost, Op, define
from frittata.terms.term import Term, build

__all__ = ["vta_pack", "vta_unpack", "vta_dense", "vta_conv2d"]

Block = tuple[int, int, int]
IMM_MIN, IMM_MAX = -(1 << 15), (1 << 15) - 1
"""The ALU instruction's immediate is a signed 16-bit field."""


def vta_pack(x: Term, role: str, block: Block) -> Term:
    return build(VTA_PACK, (x,), role=role, block=block)


def vta_unpack(y: Term, block: Block) -> Term:
    return build(VTA_UNPACK, (y,), block=block)


def vta_dense(x: Term, w: Term, bias: Term, epilogue, block: Block) -> Term:
    return build(VTA_DENSE, (x, w, bias), epilogue=epilogue, block=block)


def vta_conv2d(x: Term, w: Term, bias: Term, strides, pads, epilogue, block: Block) -> Term:
    return build(VTA_CONV2D, (x, w, bias), strides=strides, pads=pads, epilogue=epilogue, block=block)


def vta_out_dtype(epilogue: Epilogue) -> str:
    """"int8" for an epilogue ending in the truncating cast, "int32" for one without a cast."""
    return "int8" if epilogue and epilogue[-1] == ("cast", "int8") else "int32"


def vta_epilogue_ok(epilogue: Epilogue) -> bool:
    """Whether VTA's ALU and STORE compute `epilogue`: shift / relu / clip steps with 16-bit
    immediates, then either one final cast to int8 or no cast (an int32 output)."""
    steps = epilogue[:-1] if vta_out_dtype(epilogue) == "int8" else epilogue
    for step in steps:
        match step:
            case ("shift", s):
                if not 0 <= s < 32:
                    return False
            case ("relu",):
                pass
            case ("clip", lo, hi):
                if not all(isinstance(v, int) and IMM_MIN <= v <= IMM_MAX for v in (lo, hi)):
                    return False
            case _:
                return False
    return True


def _inner(role: str, block: Block) -> tuple[int, int]:
    batch, block_in, block_out = block
    return (batch, block_in) if role == "act" else (block_out, block_in)


def packed_shape(shape: tuple[int, ...], outer: int, inner: int) -> tuple[int, ...]:
    """[N, C, ...] -> [N/outer, C/inner, ..., outer, inner]."""
    n, c, *spatial = shape
    return (n // outer, c // inner, *spatial, outer, inner)


def pack_array(x: np.ndarray, outer: int, inner: int) -> np.ndarray:
    n, c, *spatial = x.shape
    k = len(spatial)
    split = x.reshape(n // outer, outer, c // inner, inner, *spatial)
    return split.transpose(0, 2, *range(4, 4 + k), 1, 3)


def unpack_array(y: np.ndarray) -> np.ndarray:
    nb, cb, *spatial, outer, inner = y.shape
    k = len(spatial)
    moved = y.transpose(0, 2 + k, 1, 3 + k, *range(2, 2 + k))
    return moved.reshape(nb * outer, cb * inner, *spatial)


def _check_block(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> tuple[int, int, int]:
    block = attrs["block"]
    if len(block) != 3 or min(block) < 1:
        raise fail(op, "block (BATCH, BLOCK_IN, BLOCK_OUT) of positive ints", block)
    return block


def _check_pack(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    block, role, (x,) = _check_block(op, types, attrs), attrs["role"], types
    if role not in ("act", "wgt"):
        raise fail(op, 'role "act" or "wgt"', role)
    outer, inner = _inner(role, block)
    if x.rank not in (2, 4) or x.shape[0] % outer or x.shape[1] % inner:
        raise fail(op, f"an [N, C] or NCHW tensor with N % {outer} == 0 and C % {inner} == 0", x)


def _check_unpack(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    block, (y,) = _check_block(op, types, attrs), types
    if y.rank not in (4, 6) or y.shape[-2:] != (block[0], block[2]):
        raise fail(op, f"a packed output [NB, OB, (OH, OW,) {block[0]}, {block[2]}]", y)


def _check_gemm(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> None:
    (b, bi, bo), (x, w, bias) = _check_block(op, types, attrs), types
    rank = 4 if op == Op.VTA_DENSE else 6
    if x.rank != rank or w.rank != rank or x.dtype != "int8" or w.dtype != "int8":
        raise fail(op, f"int8 packed operands of rank {rank}", f"x {x}, w {w}")
    if x.shape[-2:] != (b, bi) or w.shape[-2:] != (bo, bi) or x.shape[1] != w.shape[1]:
        raise fail(op, f"x [.., CB, .., {b}, {bi}] and w [OB, CB, .., {bo}, {bi}] with equal CB",
                   f"x {x}, w {w}")
    if bias != TensorType((w.shape[0] * bo,), "int32"):
        raise fail(op, f"bias int32[{w.shape[0] * bo}]", bias)
    if not vta_epilogue_ok(attrs["epilogue"]):
        raise fail(op, "an epilogue of shift / relu / clip (16-bit) steps, then cast int8 or "
                   "nothing (int32 out)", attrs["epilogue"])


def pack_term(x: Term, outer: int, inner: int) -> Term:
    """[N, C, ...] -> [N/outer, C/inner, ..., outer, inner] as a reshape and a transpose."""
    n, c, *spatial = x.shape
    k = len(spatial)
    split = reshape(x, (n // outer, outer, c // inner, inner, *spatial))
    return transpose(split, (0, 2, *range(4, 4 + k), 1, 3))


def unpack_term(y: Term) -> Term:
    """The inverse of `pack_term`."""
    nb, cb, *spatial, outer, inner = y.shape
    k = len(spatial)
    moved = transpose(y, (0, 2 + k, 1, 3 + k, *range(2, 2 + k)))
    return reshape(moved, (nb * outer, cb * inner, *spatial))


def _expand(op: Op, args: tuple[Term, ...], attrs: dict[str, Any]) -> Term:
    batch, block_in, block_out = attrs["block"]
    match op.name:
        case "vta_pack":
            return pack_term(args[0], *_inner(attrs["role"], attrs["block"]))
        case "vta_unpack":
            return unpack_term(args[0])
        case "vta_dense":
            x, w, bias = args
            acc = add(dense(unpack_term(x), unpack_term(w)), bias)
        case _:
            x, w, bias = args
            acc = channel_bias(conv2d(unpack_term(x), unpack_term(w), attrs["strides"], attrs["pads"]), bias)
    return pack_term(epilogue_terms(acc, (), attrs["epilogue"]), batch, block_out)


BLOCK = Attr("block", tuple, normalize=ints)
_VTA = ("kernel", "vta")
VTA_PACK = define("vta_pack", 1, infer_by_expansion(_check_pack), classes=_VTA + ("movement",),
                  attrs=(Attr("role", str), BLOCK), expand=_expand, cost=Cost.ACCELERATOR)
VTA_UNPACK = define("vta_unpack", 1, infer_by_expansion(_check_unpack), classes=_VTA + ("movement",),
                    attrs=(BLOCK,), expand=_expand, cost=Cost.ACCELERATOR)
VTA_DENSE = define("vta_dense", 3, infer_by_expansion(_check_gemm), classes=_VTA, attrs=(EPILOGUE, BLOCK),
                   expand=_expand, cost=Cost.ACCELERATOR)
VTA_CONV2D = define("vta_conv2d", 3, infer_by_expansion(_check_gemm), classes=_VTA,
                    attrs=(Attr("strides", tuple, normalize=ints), Attr("pads", tuple, normalize=ints),
                           EPILOGUE, BLOCK),
                    expand=_expand, cost=Cost.ACCELERATOR)


def exact_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int8 products summed exactly (in float64, exact below 2^53) as int64."""
    return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)


def conv2d_int(x: np.ndarray, w: np.ndarray, strides, pads) -> np.ndarray:
    """Exact NCHW / OIHW int8 convolution as int64 (zero padding, no dilation or groups)."""
    (sh, sw), (pt, pl, pb, pr) = strides, pads
    kh, kw = w.shape[2:]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    out = np.tensordot(win, w.astype(np.float64), axes=([1, 4, 5], [1, 2, 3]))
    return np.rint(out).astype(np.int64).transpose(0, 3, 1, 2)
