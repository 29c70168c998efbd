"""ONNX-import converters of quantized operators, built from integer and float term ops.

They match onnxruntime bit for bit: zero points are subtracted in int32, products accumulate
in int32, dequantization is float32((int32(x) - zp)) * scale, and quantization divides by the
scale, saturates to the output range, rounds half to even and adds the zero point. Output
scales of QLinearMatMul / QLinearConv are computed in float32 as x_scale * w_scale / y_scale.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from frittata.terms import builders as tb
from frittata.terms.onnx_nn import channel_bias, conv_attrs, matmul_nd
from frittata.terms.onnx_node import NodeView, unsupported
from frittata.terms.term import Term

QRANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535)}


def _const(n: NodeView, i: int, what: str, shape: tuple[int, ...] | None = None,
           dtype: str | None = None) -> Term:
    """Constant input i (optionally reshaped / cast) as a term named after the ONNX value."""
    array = n.const(i, what)
    array = array if dtype is None else array.astype(dtype)
    array = array if shape is None or array.size == 1 else array.reshape(shape)
    tag = f"{n.node.input[i]}:{array.dtype.name}{list(array.shape)}"
    return n.importer.term(tag, array.reshape(()) if array.size == 1 and shape is not None else array)


def _centered(n: NodeView, x: Term, i: int, shape: tuple[int, ...]) -> Term:
    """x - zero_point(input i) in int32; x itself when the zero point is absent or all zero."""
    zp = n.optional_const(i, "zero point")
    if zp is None or not zp.any():
        return x
    return tb.sub(tb.cast(x, "int32"), _const(n, i, "zero point", shape, "int32"))


def _axis_shape(rank: int, axis: int, size: int) -> tuple[int, ...]:
    """Shape that lays a 1-D per-channel vector of `size` along `axis` of a rank-`rank` tensor."""
    return tuple(size if d == axis % rank else 1 for d in range(rank))


def _output_dtype(n: NodeView) -> str:
    """Without a zero point: QuantizeLinear's output_dtype attribute (opset 21), else uint8."""
    code = n.attr("output_dtype", 0) if n.node.op_type == "QuantizeLinear" else 0
    return np.dtype(helper.tensor_dtype_to_np_dtype(code)).name if code else "uint8"


def _saturate_round(n: NodeView, v: Term, zp_index: int, shape: tuple[int, ...] = (),
                    spread=lambda a: a) -> Term:
    """Quantize float32 v (already divided by the scale) with the zero point of input zp_index
    (laid out by `spread`, which repeats a blocked one over its blocks).

    Saturating first to [lo - zp, hi - zp], then rounding and adding zp, equals onnxruntime's
    round, add, saturate because the bounds are integers.
    """
    zp = n.optional_const(zp_index, "zero point")
    zp = None if zp is None else spread(zp)
    dtype = _output_dtype(n) if zp is None else zp.dtype.name
    if dtype not in QRANGE:
        raise unsupported(f"quantized output dtype {dtype}; expected one of {list(QRANGE)}")
    lo, hi = QRANGE[dtype]
    if zp is None or zp.size == 1:
        z = 0 if zp is None else int(zp.reshape(-1)[0])
        rounded = tb.round(tb.clip(v, lo - z, hi - z))
        return tb.cast(tb.add(rounded, float(z)) if z else rounded, dtype)
    zs = zp.astype(np.float32).reshape(shape)
    name = n.node.output[0]
    low, high, offset = (n.importer.term(f"{name}:{tag}", arr) for tag, arr in
                         (("low", lo - zs), ("high", hi - zs), ("zero_point", zs)))
    clipped = tb.minimum(tb.maximum(v, low), high)
    return tb.cast(tb.add(tb.round(clipped), offset), dtype)


def _blocks(n: NodeView, x: Term):
    """For blocked quantization (block_size > 0, opset 21): a function repeating a scale or zero
    point of x's shape with axis `axis` counted in blocks over the elements of each block."""
    block = n.attr("block_size", 0)
    if not block:
        return None
    axis = n.attr("axis", 1) % max(x.type.rank, 1)
    length = x.shape[axis] if x.type.rank else 1

    def spread(a: np.ndarray) -> np.ndarray:
        if a.ndim != x.type.rank or a.shape[axis] != -(-length // block):
            raise unsupported(f"blocked scale or zero point of shape {list(a.shape)} for {x.type} with "
                              f"block_size {block} on axis {axis}")
        return np.ascontiguousarray(np.repeat(a, block, axis=axis).take(range(length), axis=axis))

    return spread


def _dequantize(n: NodeView) -> Term:
    x = n.term(0)
    spread = _blocks(n, x)
    if spread is not None:
        scales = n.importer.term(f"{n.node.output[0]}:scale", spread(n.const(1, "x_scale")))
        zp = n.optional_const(2, "zero point")
        centered = x if zp is None or not zp.any() else tb.sub(
            tb.cast(x, "int32"), n.importer.term(f"{n.node.output[0]}:zero_point", spread(zp).astype(np.int32)))
        return tb.mul(tb.cast(centered, "float32"), scales)
    scale = n.const(1, "x_scale")
    shape = _axis_shape(x.type.rank, n.attr("axis", 1), scale.size) if scale.size > 1 else None
    centered = _centered(n, x, 2, shape or ())
    return tb.mul(tb.cast(centered, "float32"), _const(n, 1, "x_scale", shape or ()))


def _quantize(n: NodeView) -> Term:
    x = n.term(0)
    spread = _blocks(n, x)
    if spread is not None:
        scales = n.importer.term(f"{n.node.output[0]}:scale", spread(n.const(1, "y_scale")))
        return _saturate_round(n, tb.div(x, scales), 2, x.shape, spread)
    scale = n.const(1, "y_scale")
    shape = _axis_shape(x.type.rank, n.attr("axis", 1), scale.size) if scale.size > 1 else None
    return _saturate_round(n, tb.div(x, _const(n, 1, "y_scale", shape or ())), 2, shape or ())


def _matmul_integer(n: NodeView) -> Term:
    a, b = n.term(0), n.term(1)
    a_zp = n.optional_const(2, "a_zero_point")
    row_shape = (a.shape[-2], 1) if a_zp is not None and a_zp.size > 1 else ()
    return matmul_nd(_centered(n, a, 2, row_shape), _centered(n, b, 3, ()))


def _conv_integer(n: NodeView) -> Term:
    x, w = n.term(0), n.term(1)
    attrs = conv_attrs(n, x, w)
    return tb.conv2d(_centered(n, x, 2, ()), _centered(n, w, 3, (w.shape[0], 1, 1, 1)), **attrs)


def _output_scale(n: NodeView, x_scale: int, w_scale: int, y_scale: int, shape) -> Term:
    """x_scale * w_scale / y_scale in float32 (onnxruntime's order), as a constant term."""
    scales = [n.const(i, "scale").astype(np.float32) for i in (x_scale, w_scale, y_scale)]
    value = (scales[0] * scales[1]) / scales[2]
    value = value.reshape(shape) if value.size > 1 else value.reshape(())
    return n.importer.term(f"{n.node.output[0]}:output_scale", value)


def _qlinear_matmul(n: NodeView) -> Term:
    a, b = n.term(0), n.term(3)
    acc = matmul_nd(_centered(n, a, 2, ()), _centered(n, b, 5, ()))
    scale = _output_scale(n, 1, 4, 6, (b.shape[-1],))
    return _saturate_round(n, tb.mul(tb.cast(acc, "float32"), scale), 7)


def _qlinear_conv(n: NodeView) -> Term:
    x, w = n.term(0), n.term(3)
    m = w.shape[0]
    acc = tb.conv2d(_centered(n, x, 2, ()), _centered(n, w, 5, (m, 1, 1, 1)), **conv_attrs(n, x, w))
    acc = channel_bias(acc, n.term(8)) if n.has(8) else acc
    scale = _output_scale(n, 1, 4, 6, (m, 1, 1))
    return _saturate_round(n, tb.mul(tb.cast(acc, "float32"), scale), 7)


QUANT_CONVERTERS = {
    "DequantizeLinear": _dequantize, "QuantizeLinear": _quantize,
    "MatMulInteger": _matmul_integer, "ConvInteger": _conv_integer,
    "QLinearMatMul": _qlinear_matmul, "QLinearConv": _qlinear_conv,
}
