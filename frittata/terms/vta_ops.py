"""VTA kernel terms: the accelerator's blocked layouts and its GEMM tile operators.

A block is `(BATCH, BLOCK_IN, BLOCK_OUT)`, the shape of the configured GEMM intrinsic
(VTA_SPEC §3.5):

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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.dtypes import TensorType
from frittata.terms.kernels import Epilogue, apply_epilogue, normalize_epilogue
from frittata.terms.ops import Op
from frittata.terms.term import Term

Block = tuple[int, int, int]
IMM_MIN, IMM_MAX = -(1 << 15), (1 << 15) - 1
"""The ALU immediate is a signed 16-bit field (VTA_SPEC §2.5)."""


def vta_pack(x: Term, role: str, block: Block) -> Term:
    return Term.make(Op.VTA_PACK, (x,), (("role", role), ("block", _block(block))))


def vta_unpack(y: Term, block: Block) -> Term:
    return Term.make(Op.VTA_UNPACK, (y,), (("block", _block(block)),))


def vta_dense(x: Term, w: Term, bias: Term, epilogue, block: Block) -> Term:
    attrs = (("epilogue", normalize_epilogue(epilogue)), ("block", _block(block)))
    return Term.make(Op.VTA_DENSE, (x, w, bias), attrs)


def vta_conv2d(x: Term, w: Term, bias: Term, strides, pads, epilogue, block: Block) -> Term:
    attrs = (("strides", tuple(int(s) for s in strides)), ("pads", tuple(int(p) for p in pads)),
             ("epilogue", normalize_epilogue(epilogue)), ("block", _block(block)))
    return Term.make(Op.VTA_CONV2D, (x, w, bias), attrs)


def _block(block) -> Block:
    return tuple(int(b) for b in block)  # type: ignore[return-value]


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


def infer_vta(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    from frittata.terms.infer import fail

    block = attrs["block"]
    if len(block) != 3 or min(block) < 1:
        raise fail(op, "block (BATCH, BLOCK_IN, BLOCK_OUT) of positive ints", block)
    match op:
        case Op.VTA_PACK:
            return _pack_type(types, attrs["role"], block)
        case Op.VTA_UNPACK:
            (y,) = types
            if y.rank not in (4, 6) or y.shape[-2:] != (block[0], block[2]):
                raise fail(op, f"a packed output [NB, OB, (OH, OW,) {block[0]}, {block[2]}]", y)
            nb, ob, *spatial, b, bo = y.shape
            return TensorType((nb * b, ob * bo, *spatial), y.dtype)
        case Op.VTA_DENSE | Op.VTA_CONV2D:
            return _gemm_type(op, types, attrs, block)
        case _:
            raise AssertionError(f"{op} is not a VTA op")


def _pack_type(types: list[TensorType], role: str, block: Block) -> TensorType:
    from frittata.terms.infer import fail

    (x,) = types
    if role not in ("act", "wgt"):
        raise fail(Op.VTA_PACK, 'role "act" or "wgt"', role)
    outer, inner = _inner(role, block)
    if x.rank not in (2, 4) or x.shape[0] % outer or x.shape[1] % inner:
        raise fail(Op.VTA_PACK, f"an [N, C] or NCHW tensor with N % {outer} == 0 and C % {inner} == 0", x)
    return TensorType(packed_shape(x.shape, outer, inner), x.dtype)


def _gemm_type(op: Op, types: list[TensorType], attrs: dict[str, Any], block: Block) -> TensorType:
    from frittata.terms.infer import fail, window_out

    if len(types) != 3:
        raise fail(op, "x, w and bias", len(types))
    x, w, bias = types
    rank = 4 if op == Op.VTA_DENSE else 6
    (b, bi, bo) = block
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
    dtype = vta_out_dtype(attrs["epilogue"])
    if op == Op.VTA_DENSE:
        return TensorType((x.shape[0], w.shape[0], b, bo), dtype)
    (sh, sw), (pt, pl, pb, pr) = attrs["strides"], attrs["pads"]
    oh = window_out(op, x.shape[2], w.shape[2], sh, pt + pb)
    ow = window_out(op, x.shape[3], w.shape[3], sw, pl + pr)
    return TensorType((x.shape[0], w.shape[0], oh, ow, b, bo), dtype)


def eval_vta(node: Term, args: list[np.ndarray]) -> np.ndarray:
    """Reference semantics of the VTA ops (contractions exact, then wrapped to int32)."""
    block = node.attr("block")
    match node.op:
        case Op.VTA_PACK:
            return pack_array(args[0], *_inner(node.attr("role"), block))
        case Op.VTA_UNPACK:
            return unpack_array(args[0])
        case Op.VTA_DENSE | Op.VTA_CONV2D:
            x, w = unpack_array(args[0]), unpack_array(args[1])
            if node.op == Op.VTA_DENSE:
                acc = exact_dot(x, w.T) + args[2].astype(np.int64)
            else:
                acc = conv2d_int(x, w, node.attr("strides"), node.attr("pads"))
                acc = acc + args[2].astype(np.int64).reshape(1, -1, 1, 1)
            out = apply_epilogue(acc.astype(np.int32), [], node.attr("epilogue"))
            return pack_array(out, block[0], block[2])
        case _:
            raise AssertionError(f"{node.op} is not a VTA op")


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
