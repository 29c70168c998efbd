"""Kernel ops defined by their expansion into plain ops: type, meaning and export derive from it.

A kernel op's `expand(op, operands, attrs)` builds the plain terms it stands for. Its type is
the type of the expansion over placeholder inputs (after the op's own checks, which name the
kernel in their errors), its meaning is the expansion evaluated (by the interpreter), and
ONNX export emits the expansion. Backends lower the kernel op itself, natively.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from frittata.terms.attr_keys import exact_cache
from frittata.terms.dtypes import TensorType
from frittata.terms.leaves import var
from frittata.terms.ops import Infer, Op
from frittata.terms.term import Term

Validate = Callable[[Op, list[TensorType], dict[str, Any]], None]


def placeholders(types: Sequence[TensorType]) -> list[Term]:
    """Input terms `arg0`, `arg1`, ... of the given types, standing for the operands."""
    return [var(f"arg{i}", t.shape, t.dtype) for i, t in enumerate(types)]


def expand(node: Term) -> Term:
    """The plain terms over `node.args` that the kernel op `node` stands for."""
    assert node.op.expand is not None, f"{node.op} has no expansion"
    return node.op.expand(node.op, node.args, dict(node.attrs))


def infer_by_expansion(validate: Validate) -> Infer:
    """A type rule: `validate` the operands, then the type of the expansion (memoised)."""

    def infer(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        validate(op, types, attrs)
        return _expansion_type(op, tuple(types), tuple(attrs.items()))

    return infer


@exact_cache(maxsize=4096)
def _expansion_type(op: Op, types: tuple[TensorType, ...], attrs: tuple) -> TensorType:
    """The e-graph asks for the same few types over and over, so this is cached."""
    assert op.expand is not None
    return op.expand(op, tuple(placeholders(types)), dict(attrs)).type
