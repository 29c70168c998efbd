"""Leaves of the term DAG: program inputs (`var`), parameters (`param`) and scalar constants."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from frittata.terms.dtypes import TensorType, check_dtype, make_type
from frittata.terms.ops import Attr, Cost, define
from frittata.terms.term import ParamRef, Term

__all__ = ["var", "param", "const"]


def _infer_input(op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType(tuple(attrs["shape"]), check_dtype(attrs["dtype"], "input"))


def _infer_param(op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    data = attrs["ref"].data
    return TensorType(tuple(data.shape), check_dtype(data.dtype, f"param {attrs['ref'].name!r}"))


def _infer_const(op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType((), check_dtype(attrs["dtype"], "const"))


def _dtype(value: Any, first: TensorType | None) -> str:
    return check_dtype(value, "dtype attribute")


INPUT = define("input", 0, _infer_input, classes=("leaf",), cost=Cost.FREE,
               attrs=(Attr("name", str), Attr("shape", tuple), Attr("dtype", str, normalize=_dtype)),
               doc="A named program input; its value comes from the inputs given to the program.")
PARAM = define("param", 0, _infer_param, classes=("leaf",), cost=Cost.FREE, attrs=(Attr("ref", ParamRef),),
               evaluate=lambda node, args: node.attr("ref").data)
CONST = define("const", 0, _infer_const, classes=("leaf",), cost=Cost.FREE,
               attrs=(Attr("value", (int, float, bool)), Attr("dtype", str, normalize=_dtype)),
               evaluate=lambda node, args: np.array(node.attr("value"), dtype=node.dtype))


def var(name: str, shape: Sequence[int], dtype: str = "float32") -> Term:
    """A named program input of a fixed shape and dtype."""
    ty = make_type(shape, dtype, f"input {name!r}")
    return Term.make(INPUT, (), (("name", str(name)), ("shape", ty.shape), ("dtype", ty.dtype)))


def param(name: str, data: np.ndarray) -> Term:
    """A named constant tensor (weights); its data is kept out of the term's hash."""
    ref = ParamRef(str(name), np.asarray(data))
    check_dtype(ref.data.dtype.name, f"param {name!r}")
    return Term.make(PARAM, (), (("ref", ref),))


def const(value: float | int | bool, dtype: str = "float32") -> Term:
    """A scalar constant (shape ()); it broadcasts against any operand."""
    dtype = check_dtype(dtype, "const")
    scalar = np.array(value).astype(dtype).item()
    return Term.make(CONST, (), (("value", scalar), ("dtype", dtype)))
