"""ONNX-import converters: the full table, from the operator table plus the many-to-one cases.

`CONVERTERS` maps an ONNX op_type to a small function from a `NodeView` to the node's output
term (or list of outputs). An op that maps one-to-one onto an ONNX operator declares it in its
table entry (`Op.onnx`, converted by `table_converter`) or gives its own converters
(`Op.onnx_import`); Identity and Dropout become no term at all; neural-network operators that
become several terms live in `onnx_nn`, quantized ones in `onnx_quant`.
"""

from __future__ import annotations

from collections.abc import Callable


from frittata.terms.onnx_conv_transpose import CONV_TRANSPOSE_CONVERTERS
from frittata.terms.onnx_cumsum import CUMSUM_CONVERTERS
from frittata.terms.onnx_einsum import EINSUM_CONVERTERS
from frittata.terms.onnx_indexing import INDEXING_CONVERTERS
from frittata.terms.onnx_mod import MOD_CONVERTERS
from frittata.terms.onnx_nn import NN_CONVERTERS
from frittata.terms.onnx_pool import POOL_CONVERTERS
from frittata.terms.onnx_norm import NORM_CONVERTERS
import numpy as np

from frittata.terms.onnx_node import NodeView, Value, unsupported
from frittata.terms.onnx_quant import QUANT_CONVERTERS
from frittata.terms.onnx_resize import RESIZE_CONVERTERS
from frittata.terms.onnx_topk import TOPK_CONVERTERS
from frittata.terms.onnx_traced import TRACED_CONVERTERS
from frittata.terms.ops import Op
from frittata.terms.term import Term, build

Converter = Callable[[NodeView], "Value | list[Value]"]


def table_converter(op: Op) -> Converter:
    """The converter of an op's one-to-one ONNX operator: inputs in order, attributes renamed."""
    assert op.onnx is not None
    names = op.onnx.attrs

    def convert(n: NodeView) -> Term:
        attrs = {ours: n.attr(theirs) for ours, theirs in names.items() if theirs in n.attrs}
        return build(op, n.terms(), **attrs)

    return convert


def _from_table() -> dict[str, Converter]:
    table: dict[str, Converter] = {}
    for op in Op:
        if op.onnx is not None:
            table[op.onnx.op_type] = table_converter(op)
        table.update(op.onnx_import)
    return table


def _identity(n: NodeView) -> Value:
    n.no_extra_outputs()
    return n.value(0)


def _dropout(n: NodeView) -> list[Value]:
    """Dropout at inference: the input, and its mask: all true since opset 12; before, the spec
    leaves it unfilled at inference and onnxruntime gives zeros (bool since opset 10, before of
    the input's dtype), as we do.
    Training mode (opset 12 input 2, a constant) with a non-zero ratio is random: unsupported."""
    x = n.value(0)
    training = n.optional_const(2, "training_mode") if n.opset >= 12 else None
    ratio = n.optional_const(1, "ratio") if n.opset >= 12 else None
    if training is not None and bool(training) and (ratio is None or float(ratio) > 0):
        raise unsupported("Dropout with training_mode=true (random); export the model for inference")
    shape = x.shape if isinstance(x, np.ndarray) else x.type.shape
    if n.opset >= 12:
        return [x, np.ones(shape, bool)]
    dtype = "bool" if n.opset >= 10 else (x.dtype.name if isinstance(x, np.ndarray) else x.dtype)
    return [x, np.zeros(shape, dtype)]


def _constants_only(n: NodeView) -> list[Value]:
    """Operators import only folds (shape arithmetic): every given input must be a constant."""
    for i, name in enumerate(n.node.input):
        if name:
            n.const(i, name)
    return list(n.importer.fold(n))


FOLDED = ("Constant", "ConstantOfShape", "Range", "Shape", "Size", "EyeLike", "NonZero")
"""Operators supported when their inputs are known at import time (they are folded)."""

CONVERTERS: dict[str, Converter] = {
    **{op_type: _constants_only for op_type in FOLDED},
    **_from_table(), "Identity": _identity, "Dropout": _dropout, **NN_CONVERTERS, **POOL_CONVERTERS, **QUANT_CONVERTERS,
    **RESIZE_CONVERTERS, **NORM_CONVERTERS, **TRACED_CONVERTERS, **EINSUM_CONVERTERS, **CONV_TRANSPOSE_CONVERTERS,
    **CUMSUM_CONVERTERS, **INDEXING_CONVERTERS, **TOPK_CONVERTERS, **MOD_CONVERTERS,
}
