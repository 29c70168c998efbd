"""The reference interpreter: the meaning of every term, in plain numpy.

It is the oracle of every property test, so it favours the obvious formula over the fast one.
Each operator's meaning is in its table entry (`Op.evaluate`); kernel ops mean their expansion
into plain ops. Float ops compute in the term's dtype; integer contractions accumulate exactly
and wrap to int32 like the hardware does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from frittata.errors import RuntimeInputError
from frittata.terms.dtypes import TensorType
from frittata.terms.expansion import placeholders
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder


def evaluate(program: Program | Term, inputs: Mapping[str, np.ndarray] | None = None):
    """Evaluate a Program (-> dict of outputs) or a single Term (-> array) on named inputs."""
    inputs = {name: as_array(value) for name, value in (inputs or {}).items()}
    if isinstance(program, Term):
        return evaluate(Program({"out": program}), inputs)["out"]
    check_inputs(program.inputs, inputs, "evaluate")
    values = _run(list(program.outputs.values()), {}, inputs)
    return {name: values[id(t)] for name, t in program.outputs.items()}


def _run(roots: list[Term], values: dict[int, np.ndarray], inputs: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
    """Values of every term under `roots`, starting from the already known `values`."""
    with np.errstate(all="ignore"):
        for node in postorder(roots):
            if id(node) not in values:
                values[id(node)] = _checked(node, eval_node(node, [values[id(a)] for a in node.args], inputs))
    return values


def as_array(value: Any) -> Any:
    """A numpy scalar (np.float32(1.5)) as the 0-d array it stands for; anything else unchanged."""
    return np.asarray(value) if isinstance(value, np.generic) else value


def check_inputs(expected: Mapping[str, TensorType], given: Mapping[str, object], where: str) -> None:
    """Raise RuntimeInputError unless `given` has exactly the expected names, shapes and dtypes
    (a numpy scalar counts as the 0-d array it stands for)."""
    missing = [n for n in expected if n not in given]
    extra = [n for n in given if n not in expected]
    if missing or extra:
        raise RuntimeInputError(f"{where}: expected inputs {list(expected)}, got {list(given)}"
                                f" (missing {missing}, unexpected {extra})")
    for name, ty in expected.items():
        value = as_array(given[name])
        if not isinstance(value, np.ndarray):
            raise RuntimeInputError(f"{where}: input {name!r}: expected a numpy array {ty}, got {type(value).__name__}")
        if value.shape != ty.shape or value.dtype.name != ty.dtype:
            got = f"{value.dtype.name}{list(value.shape)}"
            raise RuntimeInputError(f"{where}: input {name!r}: expected {ty}, got {got}")


def _checked(node: Term, value: np.ndarray) -> np.ndarray:
    value = np.asarray(value).astype(node.dtype, copy=False)
    assert value.shape == node.shape, f"interpreter bug: {node.op} gave {value.shape}, typed {node.shape}"
    return value


def eval_node(node: Term, args: list[np.ndarray], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """The value of one node from its operands' values (inputs give the `input` leaves)."""
    op = node.op
    if op == Op.INPUT:
        return inputs[node.attr("name")]
    if op.evaluate is not None:
        return op.evaluate(node, args)
    assert op.expand is not None, f"{op} has neither a meaning nor an expansion"
    return _expanded(node, args)


def _expanded(node: Term, args: list[np.ndarray]) -> np.ndarray:
    """A kernel op's meaning: its expansion over stand-ins for the operands, evaluated."""
    assert node.op.expand is not None
    stand_ins = placeholders([a.type for a in node.args])
    expansion = node.op.expand(node.op, tuple(stand_ins), dict(node.attrs))
    known = {id(t): _checked(t, a) for t, a in zip(stand_ins, args)}
    return _run([expansion], known, {})[id(expansion)]
