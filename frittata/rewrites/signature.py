"""Operator signatures as rules see them: attribute names (in term order) and operand counts.

A rule's right side must give every attribute of each operator it builds; `canonical_attrs`
puts them in the order and the normal form that the builders of `frittata.terms` produce, so
a node built by a rule is the same e-node as the equal node built by the Python API.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op, plain

def _rule_attrs(op: Op) -> tuple[str, ...]:
    """A parameter appears in rules by its name (its array is kept outside the e-graph)."""
    return ("name",) if op == Op.PARAM else op.attr_names


OP_ATTRS: dict[Op, tuple[str, ...]] = {op: _rule_attrs(op) for op in Op}
ARITY: dict[Op, tuple[int, int | None]] = {op: (op.arity.low, op.arity.high) for op in Op}
"""Operand counts (low, high) per operator; high None: no upper bound (variadic)."""


def arity_fits(op: Op, count: int, more: bool = False) -> bool:
    """Whether `op` takes `count` operands (`more`: or `count` plus some more)."""
    low, high = ARITY[op]
    return (more or low <= count) and (high is None or count <= high)


def canonical_attrs(op: Op, values: dict[str, Any], first: TensorType | None = None) -> tuple[tuple[str, Any], ...]:
    """Attributes of a node built by a rule, in term order and builder-normal form.

    `first` is the type of the node's first operand, when known (it fixes dtype-dependent forms).
    """
    if op == Op.PARAM:
        return (("name", values["name"]),)
    if op == Op.CONST:
        dtype = values["dtype"]
        return (("value", np.array(plain(values["value"])).astype(dtype).item()), ("dtype", dtype))
    return op.canonical({name: values[name] for name in OP_ATTRS[op]}, first)
