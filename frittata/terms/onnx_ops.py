"""ONNX-import converters: the full table, from the operator table plus the many-to-one cases.

`CONVERTERS` maps an ONNX op_type to a small function from a `NodeView` to the node's output
term (or list of outputs). An op that maps one-to-one onto an ONNX operator declares it in its
table entry (`Op.onnx`, converted by `table_converter`) or gives its own converters
(`Op.onnx_import`); Identity and Dropout become no term at all; neural-network operators that
become several terms live in `onnx_nn`, quantized ones in `onnx_quant`.
"""

from __future__ import annotations

from collections.abc import Callable


from frittata.terms.onnx_nn import NN_CONVERTERS
from frittata.terms.onnx_node import NodeView, Value
from frittata.terms.onnx_quant import QUANT_CONVERTERS
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
    """Identity, and Dropout at inference (its mask output is not supported)."""
    n.no_extra_outputs()
    return n.value(0)


CONVERTERS: dict[str, Converter] = {
    **_from_table(), "Identity": _identity, "Dropout": _identity, **NN_CONVERTERS, **QUANT_CONVERTERS,
}
