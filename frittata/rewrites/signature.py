"""Operator signatures as rules see them: attribute names (in term order) and operand counts.

A rule's right side must give every attribute of each operator it builds; `canonical_attrs`
puts them in the order and the normal form that the builders of `frittata.terms` produce, so
a node built by a rule is the same e-node as the equal node built by the Python API.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.fused import normalize_expr
from frittata.terms.kernels import normalize_epilogue
from frittata.terms.ops import BINARY, UNARY, Op
from frittata.terms.tiled import normalize_schedule

_CONV = ("strides", "pads", "dilations", "groups")
_POOL = ("kernel", "strides", "pads")
_REDUCE = ("axes", "keepdims")

OP_ATTRS: dict[Op, tuple[str, ...]] = {
    **{op: () for op in BINARY | UNARY},
    Op.INPUT: ("name", "shape", "dtype"), Op.PARAM: ("name",), Op.CONST: ("value", "dtype"),
    Op.LEAKY_RELU: ("alpha",), Op.GELU: ("approximate",), Op.CLIP: ("lo", "hi"),
    Op.CAST: ("dtype",), Op.RIGHT_SHIFT: ("shift",), Op.WHERE: (),
    Op.MATMUL: (), Op.DENSE: (), Op.CONV2D: _CONV,
    Op.MAX_POOL2D: _POOL, Op.AVG_POOL2D: _POOL + ("count_include_pad",), Op.GLOBAL_AVG_POOL: (),
    Op.BATCH_NORM: ("eps",), Op.LAYER_NORM: ("axis", "eps"), Op.SOFTMAX: ("axis",),
    Op.REDUCE_SUM: _REDUCE, Op.REDUCE_MEAN: _REDUCE, Op.REDUCE_MAX: _REDUCE,
    Op.RESHAPE: ("shape",), Op.TRANSPOSE: ("perm",), Op.CONCAT: ("axis",), Op.SLICE: ("slices",),
    Op.PAD: ("pads", "value"), Op.GATHER: ("axis", "indices", "indices_shape"),
    Op.FUSED_CONV2D: _CONV + ("epilogue",), Op.FUSED_DENSE: ("epilogue",),
    Op.PACK_NCHWC: ("c",), Op.UNPACK_NCHWC: ("c",), Op.FUSED_ELEMENTWISE: ("expr",),
    Op.VTA_PACK: ("role", "block"), Op.VTA_UNPACK: ("block",), Op.VTA_DENSE: ("epilogue", "block"),
    Op.VTA_CONV2D: ("strides", "pads", "epilogue", "block"),
    Op.TILED_CONV2D: _CONV + ("epilogue", "schedule"), Op.TILED_DENSE: ("epilogue", "schedule"),
}

ARITY: dict[Op, tuple[int, int | None]] = {
    **{op: (2, 2) for op in BINARY}, **{op: (1, 1) for op in UNARY},
    Op.INPUT: (0, 0), Op.PARAM: (0, 0), Op.CONST: (0, 0), Op.WHERE: (3, 3),
    Op.MATMUL: (2, 2), Op.DENSE: (2, 2), Op.CONV2D: (2, 2),
    Op.MAX_POOL2D: (1, 1), Op.AVG_POOL2D: (1, 1), Op.GLOBAL_AVG_POOL: (1, 1),
    Op.BATCH_NORM: (5, 5), Op.LAYER_NORM: (3, 3), Op.SOFTMAX: (1, 1),
    Op.REDUCE_SUM: (1, 1), Op.REDUCE_MEAN: (1, 1), Op.REDUCE_MAX: (1, 1),
    Op.RESHAPE: (1, 1), Op.TRANSPOSE: (1, 1), Op.CONCAT: (1, None), Op.SLICE: (1, 1),
    Op.PAD: (1, 1), Op.GATHER: (1, 1),
    Op.FUSED_CONV2D: (3, 4), Op.FUSED_DENSE: (3, 4), Op.PACK_NCHWC: (1, 1), Op.UNPACK_NCHWC: (1, 1),
    Op.FUSED_ELEMENTWISE: (1, None),
    Op.VTA_PACK: (1, 1), Op.VTA_UNPACK: (1, 1), Op.VTA_DENSE: (3, 3), Op.VTA_CONV2D: (3, 3),
    Op.TILED_CONV2D: (3, 4), Op.TILED_DENSE: (3, 4),
}
"""Operand counts (low, high) per operator; high None: no upper bound (variadic)."""

assert set(OP_ATTRS) == set(Op) == set(ARITY), "every operator needs a rule signature"


def arity_fits(op: Op, count: int, more: bool = False) -> bool:
    """Whether `op` takes `count` operands (`more`: or `count` plus some more)."""
    low, high = ARITY[op]
    return (more or low <= count) and (high is None or count <= high)


def arity_text(op: Op) -> str:
    """The operand counts of `op` for error messages: "2", "3..4" or "1 or more"."""
    low, high = ARITY[op]
    if high is None:
        return f"{low} or more"
    return str(low) if low == high else f"{low}..{high}"


def plain(value: Any) -> Any:
    """numpy scalars to Python numbers, lists to tuples (recursively)."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def canonical_attrs(op: Op, values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Attributes of a node built by a rule, in term order and builder-normal form."""
    out = []
    for name in OP_ATTRS[op]:
        value = plain(values[name])
        match name:
            case "epilogue":
                value = normalize_epilogue(value)
            case "expr":
                value = normalize_expr(value)
            case "schedule":
                value = normalize_schedule(value)
            case "value" if op == Op.CONST:
                value = np.array(value).astype(values["dtype"]).item()
            case "eps" | "alpha":
                value = float(value)
            case _:
                pass
        out.append((name, value))
    return tuple(out)
