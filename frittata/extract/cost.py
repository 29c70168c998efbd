"""The cost-model protocol: what one e-node costs at run time, in seconds, on one target.

A cost model prices a single e-node from local facts only (`NodeInfo`: its operator, its
attributes, its output type, its operands' types, and whether it is a compile-time constant).
Extraction adds the prices of the distinct e-nodes it picks (DAG cost: a sub-term shared by
several consumers is paid once), so a model never sees its children's costs and must not try
to include them.

Invariants every model must keep (the extractor checks the first two and raises
`ExtractionError` otherwise):
  * the cost is a float >= 0, in **seconds** of estimated run time, or `math.inf` for an
    e-node the target cannot execute (a VTA GEMM on the CPU): extraction never picks those;
  * it depends only on the `NodeInfo` (it is memoised per e-node, and extraction is
    deterministic only if the model is);
  * alternatives that do less work or move fewer bytes should not cost more — that is what
    makes extraction prefer fused kernels and cancelled layout changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from frittata.errors import ExtractionError
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """Everything a cost model may look at for one e-node.

    `attrs` are the term's attributes (a parameter carries only `(("name", n),)`), `type` is
    the output type, `operands` the operand types in order, `constant_operands` says which
    operands are compile-time constants (computed from parameters and constants only: folded
    into parameters before the backend runs; empty means none), and `constant` says the node
    itself is one, so a backend folds it at compile time. `children` are the e-classes of the
    operands in the e-graph being extracted (empty for a term outside one): what tells two
    e-nodes of the same types apart, such as the convolutions of two layers of the same shapes.
    """

    op: Op
    attrs: tuple[tuple[str, Any], ...]
    type: TensorType
    operands: tuple[TensorType, ...]
    constant: bool = False
    constant_operands: tuple[bool, ...] = ()
    children: tuple[int, ...] = ()

    def operand_constant(self, index: int) -> bool:
        """Whether operand `index` is a compile-time constant."""
        return index < len(self.constant_operands) and self.constant_operands[index]

    def attr(self, name: str, default: Any = None) -> Any:
        """The attribute `name`, or `default` when the node has none."""
        for key, value in self.attrs:
            if key == name:
                return value
        return default


@runtime_checkable
class CostModel(Protocol):
    """A per-target price list: `node_cost(info)` is run time in seconds (>= 0; inf = unsupported)."""

    @property
    def name(self) -> str:
        """The model's name, for reports."""
        ...

    def node_cost(self, info: NodeInfo) -> float:
        """Estimated seconds spent executing this e-node alone (see the module invariants)."""
        ...


@dataclass(frozen=True)
class FunctionCostModel:
    """A user's plain function `NodeInfo -> seconds` used as a cost model."""

    function: Callable[[NodeInfo], float]
    name: str = "user"

    def node_cost(self, info: NodeInfo) -> float:
        return self.function(info)


CostLike = CostModel | Callable[[NodeInfo], float]
"""What `extract` and `program_cost` accept: a model, or a plain function of a NodeInfo."""


def as_cost_model(model: CostLike) -> CostModel:
    """Accept a `CostModel` or a plain function of a `NodeInfo`; anything else is an error."""
    if isinstance(model, CostModel):
        return model
    if callable(model):
        return FunctionCostModel(model, getattr(model, "__name__", "user"))
    raise ExtractionError(f"cost model: expected an object with node_cost(info) and a name, or a function of "
                          f"a NodeInfo, got {type(model).__name__}")


def checked_cost(model: CostModel, info: NodeInfo) -> float:
    """`model.node_cost(info)` as a float, or ExtractionError naming the model and the node."""
    cost = model.node_cost(info)
    try:
        value = float(cost)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value) or value < 0:
        raise ExtractionError(f"cost model {model.name!r}: expected a cost >= 0 (seconds, inf if unsupported), "
                              f"got {cost!r} for {info.op.value} -> {info.type}")
    return value


def term_infos(program: Program) -> Iterator[tuple[Term, NodeInfo]]:
    """Every distinct term of `program` with its `NodeInfo`, operands first."""
    constant: dict[int, bool] = {}
    for term in program.terms():
        operands = tuple(constant[id(a)] for a in term.args)
        folded = term.op != Op.INPUT and all(operands)
        constant[id(term)] = folded
        yield term, NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args), folded, operands)


def program_cost(program: Program, model: CostLike) -> float:
    """Model seconds of a whole program: every distinct term priced once (DAG cost)."""
    priced = as_cost_model(model)
    return sum((checked_cost(priced, info) for _, info in term_infos(program)), 0.0)
