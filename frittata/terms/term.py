"""Immutable, hash-consed terms: equal terms are the same object, so a model is a DAG.

A `Term` is an operator (an `Op` of the operator table), a tuple of argument terms, a tuple of
`(name, value)` attributes and a static `TensorType` computed by type inference when the node is
first built. Terms are interned: building the same node twice returns the same object, so `==` is
identity and hashing is O(1). "The same node" means the same attributes by type and exact value
(`values_key`: `-0.0` is not `0.0`, `1.0` not `1` nor `True`), not by Python's `==`; attributes
are immutable values, so a list among them is an error (builders turn lists into tuples). Parameters
(`ParamRef`) hold numpy data that is kept out of the hash.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.attr_keys import holds_list, values_key
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import infer_type
from frittata.terms.ops import Op
from frittata.terms.printing import array_repr, term_repr
from frittata.terms.walk import postorder

__all__ = ["Attrs", "ParamRef", "Term", "build", "postorder"]

Attrs = tuple[tuple[str, Any], ...]


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays of one shape and dtype hold the same bytes: -0.0 is not 0.0, and a NaN
    equals itself (`np.array_equal` says the opposite of both)."""
    return bool(np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8)))


class ParamRef:
    """A named constant tensor (weights). Hashed by name, shape and dtype, never by its bytes;
    equal to another of the same name with the same bytes (so interning never merges weights that
    differ only in a zero's sign)."""

    __slots__ = ("name", "data")

    def __init__(self, name: str, data: np.ndarray) -> None:
        array = np.asarray(data)
        if array.flags.writeable:
            array = array.copy()
            array.setflags(write=False)
        self.name = name
        self.data = array

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParamRef) or other.name != self.name:
            return False
        a, b = self.data, other.data
        return a is b or (a.shape == b.shape and a.dtype == b.dtype and _same_bytes(a, b))

    def __hash__(self) -> int:
        return hash((self.name, self.data.shape, self.data.dtype.str))

    def __repr__(self) -> str:
        return f"ParamRef({self.name!r}, {array_repr(self.data)})"


class Term:
    """One node of the term DAG. Build terms with `frittata.terms.builders`, not directly."""

    __slots__ = ("op", "args", "attrs", "type", "_key", "__weakref__")
    _table: weakref.WeakValueDictionary[tuple, Term] = weakref.WeakValueDictionary()

    op: Op
    args: tuple[Term, ...]
    attrs: Attrs
    type: TensorType

    def __init__(self) -> None:
        raise TypeError("build terms with frittata.terms builders or Term.make")

    @classmethod
    def make(cls, op: Op, args: tuple[Term, ...], attrs: Attrs = ()) -> Term:
        """Return the unique term for (op, args, attrs), inferring its type on first build; attributes
        match by type and exact value (`values_key`), so `clip(x, -0.0, 6)` is not `clip(x, 0, 6)`."""
        key = (op, tuple(id(a) for a in args), values_key(attrs))
        found = cls._table.get(key)
        if found is not None:
            return found
        _check_no_lists(op, attrs)
        ty = infer_type(op, args, dict(attrs))
        node = object.__new__(cls)
        for name, value in (("op", op), ("args", args), ("attrs", attrs), ("type", ty), ("_key", key)):
            object.__setattr__(node, name, value)
        cls._table[key] = node
        return node

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("terms are immutable")

    def __reduce__(self):
        return (Term.make, (self.op, self.args, self.attrs))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> str:
        return self.type.dtype

    def attr(self, name: str) -> Any:
        for key, value in self.attrs:
            if key == name:
                return value
        raise KeyError(f"{self.op.value} has no attribute {name!r}; it has {[k for k, _ in self.attrs]}")

    def __repr__(self) -> str:
        return term_repr(self)


def _check_no_lists(op: Op, attrs: Attrs) -> None:
    """A term's attributes are immutable values: a list (which could change under the term, and
    has no hash) is refused, as builders turn every list they are given into a tuple."""
    for name, value in attrs:
        if holds_list(value):
            raise FrittataTypeError(f"{op.value}: expected attribute {name!r} as a tuple (or tuples inside), got "
                                    f"{value!r}, which holds a list; build terms with frittata.terms builders, "
                                    "which convert lists, or pass tuples to Term.make")


def build(op: Op, args: Iterable[Term], **attrs: Any) -> Term:
    """The term `op(*args, **attrs)`, its attributes normalized by `op`'s schema (defaults filled)."""
    args = tuple(args)
    return Term.make(op, args, op.canonical(attrs, args[0].type if args else None))
