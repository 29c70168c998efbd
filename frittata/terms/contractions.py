"""Contractions: matmul, dense and conv2d (sums of products; integers accumulate in int32)."""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms import interp_nn
from frittata.terms.attr_forms import as_int, as_pads, as_pair
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import broadcast, contraction_dtype, fail, need_rank, window_out
from frittata.terms.ops import Attr, Cost, Op, define
from frittata.terms.term import Term, build

__all__ = ["matmul", "dense", "conv2d"]


def infer_dense(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    a, b = types[:2]
    dtype = contraction_dtype(op, a, b)
    need_rank(op, a, 1, at_least=True)
    need_rank(op, b, 2)
    if a.shape[-1] != b.shape[1]:
        raise fail(op, "x[..., K] and w[N, K] with equal K", f"x {a}, w {b}")
    return TensorType(a.shape[:-1] + (b.shape[0],), dtype)


def _infer_matmul(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    a, b = types
    dtype = contraction_dtype(op, a, b)
    need_rank(op, a, 2, at_least=True)
    need_rank(op, b, 2, at_least=True)
    if a.shape[-1] != b.shape[-2]:
        raise fail(op, "a[..., M, K] @ b[..., K, N] with equal K", f"{a} @ {b}")
    batch = broadcast(op, [TensorType(a.shape[:-2], dtype), TensorType(b.shape[:-2], dtype)])
    return TensorType(batch + (a.shape[-2], b.shape[-1]), dtype)


def infer_conv2d(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x, w = types[:2]
    need_rank(op, x, 4)
    need_rank(op, w, 4)
    dtype = contraction_dtype(op, x, w)
    groups = attrs["groups"]
    (n, c, h, wd), (o, ci, kh, kw) = x.shape, w.shape
    if groups < 1 or c % groups or o % groups or ci * groups != c:
        raise fail(op, f"C={c} = groups({groups}) * weight in-channels({ci}) and O={o} divisible by groups",
                   f"x {x}, w {w}")
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = attrs["strides"], attrs["dilations"], attrs["pads"]
    oh = window_out(op, h, kh, sh, pt + pb, dh)
    ow = window_out(op, wd, kw, sw, pl + pr, dw)
    return TensorType((n, o, oh, ow), dtype)


def _exact(args: list[np.ndarray], core) -> np.ndarray:
    """`core(a, b)` in float32, or exactly for integers (int8 products sum exactly in float64)."""
    integer = args[0].dtype.kind in "iu"
    exact_float = integer and all(a.dtype.itemsize == 1 for a in args)
    if exact_float:
        args = [a.astype(np.float64) for a in args]
    elif integer:
        args = [a.astype(np.int64) for a in args]
    out = core(*args)
    if integer:
        out = (np.rint(out) if exact_float else out).astype(np.int64)
    return out


def _export_int32(g, arg: str, term: Term) -> str:
    return arg if term.dtype == "int32" else g.node("Cast", [arg], to=g.dtype("int32"))


def _export_matmul(g, node: Term, args: list[str], out: str | None) -> str:
    """Float MatMul; integers as int32 MatMul (exact, wrapping like our int32 accumulator)."""
    if node.dtype == "float32":
        return g.node("MatMul", args, out)
    return g.node("MatMul", [_export_int32(g, a, t) for a, t in zip(args, node.args)], out)


def _export_dense(g, node: Term, args: list[str], out: str | None) -> str:
    if node.dtype == "float32" and node.args[0].type.rank == 2:
        return g.node("Gemm", args, out, transB=1)
    return _export_matmul(g, node, [args[0], g.node("Transpose", [args[1]], perm=[1, 0])], out)


def _export_conv2d(g, node: Term, args: list[str], out: str | None) -> str:
    """Float Conv; 8-bit integers as ConvInteger on uint8 (x + 128 with zero point 128).

    Wider integer operands go through float32 Conv, exact while partial sums stay below 2^24.
    """
    attrs = dict(strides=list(node.attr("strides")), pads=list(node.attr("pads")),
                 dilations=list(node.attr("dilations")), group=node.attr("groups"))
    if node.dtype == "float32":
        return g.node("Conv", args, out, **attrs)
    if all(t.dtype in ("int8", "uint8") for t in node.args):
        shifted = [_as_uint8(g, a, t) for a, t in zip(args, node.args)]
        return g.node("ConvInteger", [shifted[0][0], shifted[1][0], shifted[0][1], shifted[1][1]], out, **attrs)
    floats = [g.node("Cast", [a], to=g.dtype("float32")) for a in args]
    return g.node("Cast", [g.node("Conv", floats, **attrs)], out, to=g.dtype("int32"))


def _as_uint8(g, arg: str, term: Term) -> tuple[str, str]:
    """(uint8 value, zero point) representing an int8 or uint8 tensor exactly."""
    if term.dtype == "uint8":
        return arg, g.constant(0, "uint8")
    wide = g.node("Add", [g.node("Cast", [arg], to=g.dtype("int32")), g.constant(128, "int32")])
    return g.node("Cast", [wide], to=g.dtype("uint8")), g.constant(128, "uint8")


def _swap_last(b, x: Term) -> Term:
    return b.transpose(x, tuple(range(x.type.rank - 2)) + (x.type.rank - 1, x.type.rank - 2))


def _matmul_vjp(b, x: Term, y: Term, g: Term) -> tuple[Term, Term]:
    """d(x @ y): g @ y^T for x, x^T @ g for y, each summed over the batch axes it was broadcast on."""
    return b.sum_to(b.matmul(g, _swap_last(b, y)), x), b.sum_to(b.matmul(_swap_last(b, x), g), y)


def _dense_vjp(b, x: Term, w: Term, g: Term) -> tuple[Term, Term]:
    """d(x w^T): g w for x, g^T x over all leading axes for w (both as matmuls of rows)."""
    rows_g, rows_x = b.reshape(g, (-1, w.shape[0])), b.reshape(x, (-1, w.shape[1]))
    return b.reshape(b.matmul(rows_g, w), x.shape), b.matmul(b.transpose(rows_g), rows_x)


CONV_ATTRS = (
    Attr("strides", tuple, (1, 1), as_pair("strides"), lambda x: [(1, 1), (2, 2)]),
    Attr("pads", tuple, (0, 0, 0, 0), as_pads, lambda x: [(0, 0, 0, 0), (1, 1, 1, 1)]),
    Attr("dilations", tuple, (1, 1), as_pair("dilations"), lambda x: [(1, 1)]),
    Attr("groups", int, 1, as_int, lambda x: [1, 1, 1, x.shape[1]]),
)
"""The attributes of conv2d, shared by its kernel forms."""

MATMUL = define("matmul", 2, _infer_matmul, classes=("contraction",), cost=Cost.CONTRACTION,
                evaluate=lambda node, args: _exact(args, np.matmul), onnx_export=_export_matmul,
                vjp=lambda b, n, g: _matmul_vjp(b, n.args[0], n.args[1], g))
DENSE = define("dense", 2, infer_dense, classes=("contraction",), cost=Cost.CONTRACTION,
               evaluate=lambda node, args: _exact(args, lambda x, w: np.matmul(x, w.T)),
               onnx_export=_export_dense, vjp=lambda b, n, g: _dense_vjp(b, n.args[0], n.args[1], g))
CONV2D = define("conv2d", 2, infer_conv2d, attrs=CONV_ATTRS, classes=("contraction",), cost=Cost.CONTRACTION,
                evaluate=lambda node, args: _exact(args, lambda x, w: interp_nn.conv2d(x, w, node)),
                onnx_export=_export_conv2d, vjp=lambda b, n, g: b.conv2d_vjp(n, g))


def matmul(a: Term, b: Term) -> Term:
    """numpy matmul on rank >= 2 with broadcast batch dims; integers accumulate in int32."""
    return Term.make(MATMUL, (a, b))


def dense(x: Term, w: Term) -> Term:
    """x[..., K] times w[N, K] transposed -> [..., N] (a fully connected layer without bias)."""
    return Term.make(DENSE, (x, w))


def conv2d(x: Term, w: Term, strides=1, pads=0, dilations=1, groups: int = 1) -> Term:
    """2-D convolution, NCHW input, OIHW weights (I = C / groups); pads (top, left, bottom, right).

    float32 x float32 -> float32, integer x integer -> int32. groups = C gives depthwise.
    """
    return build(CONV2D, (x, w), strides=strides, pads=pads, dilations=dilations, groups=groups)
