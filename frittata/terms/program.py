"""A `Program`: named outputs over a term DAG, with the inputs and parameters it uses."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op
from frittata.terms.term import Term, postorder


class Program:
    """Named outputs, and the named inputs and parameters found beneath them.

    Inputs are ordered by first appearance; two different inputs (or parameters) with one name
    are an error. Parameters are numpy arrays held by `param` leaves, not hashed.
    """

    __slots__ = ("outputs", "inputs", "params", "_order")

    def __init__(self, outputs: Mapping[str, Term], input_order: list[str] | None = None) -> None:
        if not outputs:
            raise FrittataTypeError("Program: expected at least one output, got none")
        self.outputs: dict[str, Term] = dict(outputs)
        self._order = postorder(self.outputs.values())
        self.inputs: dict[str, TensorType] = {}
        self.params: dict[str, np.ndarray] = {}
        for node in self._order:
            self._register_leaf(node)
        if input_order is not None:
            self._reorder_inputs(input_order)

    def _register_leaf(self, node: Term) -> None:
        match node.op:
            case Op.INPUT:
                self._claim(self.inputs, node.attr("name"), node.type, "input")
            case Op.PARAM:
                ref = node.attr("ref")
                self._claim(self.params, ref.name, ref.data, "parameter")
            case _:
                pass

    @staticmethod
    def _claim(table: dict, name: str, value: object, kind: str) -> None:
        previous = table.setdefault(name, value)
        if previous is not value and not (kind == "input" and previous == value):
            raise FrittataTypeError(f"Program: expected one {kind} named {name!r}, got two different ones")

    def _reorder_inputs(self, order: list[str]) -> None:
        missing = [n for n in order if n not in self.inputs]
        if missing:
            raise FrittataTypeError(f"Program: inputs {missing} are not used by any output")
        self.inputs = {n: self.inputs[n] for n in order + [n for n in self.inputs if n not in order]}

    def terms(self) -> list[Term]:
        """Every term of the program once, children before parents."""
        return list(self._order)

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self._order:
            counts[node.op.value] = counts.get(node.op.value, 0) + 1
        return counts

    def with_outputs(self, outputs: Mapping[str, Term]) -> Program:
        """A program with new output terms but this program's input order."""
        return Program(outputs, input_order=[n for n in self.inputs if n in _input_names(outputs)])

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {t}" for n, t in self.inputs.items())
        outs = ", ".join(f"{n}: {t.type}" for n, t in self.outputs.items())
        return f"<Program ({ins}) -> ({outs}); {len(self._order)} terms, {len(self.params)} params>"


def _input_names(outputs: Mapping[str, Term]) -> set[str]:
    return {t.attr("name") for t in postorder(outputs.values()) if t.op == Op.INPUT}
