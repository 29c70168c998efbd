"""Kernel ops for ONNX export: each is expanded into the graph-level terms it means.

`fused_conv2d` / `fused_dense` become the contraction, a bias add and one term per epilogue step;
`fused_elementwise` becomes the plain ops of its expression; `tiled_conv2d` / `tiled_dense` export
as the fused op they compute (the schedule is dropped); `pack_nchwc` / `unpack_nchwc` and `vta_pack`
/ `vta_unpack` become a reshape and a transpose; `vta_dense` / `vta_conv2d` become unpacks, the
plain contraction with its bias and epilogue, and a pack. The exporter then emits the expansion like
any other graph.
"""

from __future__ import annotations

from frittata.terms import builders as tb
from frittata.terms.fused import expand
from frittata.terms.ops import Op
from frittata.terms.term import Term
from frittata.terms.tiled import untiled


def expand_kernel(node: Term) -> Term:
    """Graph-level terms over `node.args` that compute the kernel op `node`."""
    match node.op:
        case Op.FUSED_CONV2D:
            x, w, bias = node.args[:3]
            attrs = {k: node.attr(k) for k in ("strides", "pads", "dilations", "groups")}
            acc = tb.add(tb.conv2d(x, w, **attrs), tb.reshape(bias, (bias.shape[0], 1, 1)))
            return _epilogue(acc, node.args[3:], node.attr("epilogue"))
        case Op.FUSED_DENSE:
            x, w, bias = node.args[:3]
            return _epilogue(tb.add(tb.dense(x, w), bias), node.args[3:], node.attr("epilogue"))
        case Op.PACK_NCHWC:
            n, ch, height, width = node.args[0].shape
            c = node.attr("c")
            return tb.transpose(tb.reshape(node.args[0], (n, ch // c, c, height, width)), (0, 1, 3, 4, 2))
        case Op.UNPACK_NCHWC:
            n, cb, height, width, c = node.args[0].shape
            return tb.reshape(tb.transpose(node.args[0], (0, 1, 4, 2, 3)), (n, cb * c, height, width))
        case Op.VTA_PACK | Op.VTA_UNPACK | Op.VTA_DENSE | Op.VTA_CONV2D:
            return _expand_vta(node)
        case Op.FUSED_ELEMENTWISE:
            return expand(node.attr("expr"), node.args)
        case Op.TILED_CONV2D | Op.TILED_DENSE:
            return expand_kernel(untiled(node))
        case _:
            raise AssertionError(f"{node.op} is not a kernel op")


def _expand_vta(node: Term) -> Term:
    batch, block_in, block_out = node.attr("block")
    match node.op:
        case Op.VTA_PACK:
            outer = batch if node.attr("role") == "act" else block_out
            return _pack(node.args[0], outer, block_in)
        case Op.VTA_UNPACK:
            return _unpack(node.args[0])
        case Op.VTA_DENSE:
            x, w, bias = node.args
            acc = tb.add(tb.dense(_unpack(x), _unpack(w)), bias)
        case Op.VTA_CONV2D:
            x, w, bias = node.args
            conv = tb.conv2d(_unpack(x), _unpack(w), node.attr("strides"), node.attr("pads"))
            acc = tb.add(conv, tb.reshape(bias, (bias.shape[0], 1, 1)))
        case _:
            raise AssertionError(f"{node.op} is not a VTA op")
    return _pack(_epilogue(acc, (), node.attr("epilogue")), batch, block_out)


def _pack(x: Term, outer: int, inner: int) -> Term:
    n, c, *spatial = x.shape
    k = len(spatial)
    split = tb.reshape(x, (n // outer, outer, c // inner, inner, *spatial))
    return tb.transpose(split, (0, 2, *range(4, 4 + k), 1, 3))


def _unpack(y: Term) -> Term:
    nb, cb, *spatial, outer, inner = y.shape
    k = len(spatial)
    moved = tb.transpose(y, (0, 2 + k, 1, 3 + k, *range(2, 2 + k)))
    return tb.reshape(moved, (nb * outer, cb * inner, *spatial))


def _epilogue(acc: Term, residual: tuple[Term, ...], steps: tuple) -> Term:
    for step in steps:
        match step:
            case ("add",):
                acc = tb.add(acc, residual[0])
            case ("relu",):
                acc = tb.relu(acc)
            case ("clip", lo, hi):
                acc = tb.clip(acc, lo, hi)
            case ("shift", s):
                acc = tb.right_shift(acc, s)
            case ("cast", dtype):
                acc = tb.cast(acc, dtype)
    return acc
