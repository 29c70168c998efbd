"""`NodeView`: what an ONNX-import converter sees of one node (inputs, constants, attributes)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import helper

from frittata.errors import FrontendError
from frittata.terms.term import Term, postorder

if TYPE_CHECKING:
    from frittata.terms.onnx_import import _Importer

Value = Term | np.ndarray
"""An ONNX value during import: a numpy constant (known at import time) or a term."""


class UnboundInputError(FrontendError):
    """A value import needs as a constant is computed from graph inputs; `names` are the inputs
    to bind with `from_onnx(..., constants=...)`."""

    def __init__(self, names: list[str], message: str) -> None:
        super().__init__(message)
        self.names = names


class NodeView:
    """One ONNX node with its input values; converters read it and return terms."""

    def __init__(self, node: onnx.NodeProto, values: list[Value | None], importer: _Importer) -> None:
        self.node = node
        self.values = values
        self.importer = importer
        self.opset = importer.opset
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def attr(self, name: str, default: Any = None) -> Any:
        value = self.attrs.get(name, default)
        return value.decode() if isinstance(value, bytes) else value

    def dtype_attr(self, name: str) -> str:
        """A dtype attribute (ONNX type code) as a numpy dtype name."""
        return onnx_dtype_name(self.attr(name))

    def has(self, i: int) -> bool:
        return i < len(self.values) and self.values[i] is not None

    def foldable(self) -> bool:
        """True when every given input is a constant, or the node only reads static shapes."""
        if self.node.op_type in ("Shape", "Size"):
            return True
        return all(v is None or isinstance(v, np.ndarray) for v in self.values)

    def value(self, i: int) -> Value:
        """Input i; an absent input is an error."""
        value = self.values[i] if i < len(self.values) else None
        if value is None:
            raise FrontendError(f"expected input {i}, got none")
        return value

    def term(self, i: int) -> Term:
        return self.importer.term(self.node.input[i], self.value(i))

    def terms(self) -> list[Term]:
        return [self.term(i) for i in range(len(self.values)) if self.has(i)]

    def const(self, i: int, what: str) -> np.ndarray:
        """Input i as a numpy constant; an absent input or a computed tensor is an error."""
        value = self.value(i)
        if isinstance(value, np.ndarray):
            return value
        names = sorted({t.attr("name") for t in postorder([value]) if t.op.name == "input"})
        if names:
            binding = ", ".join(f"{n!r}: array" for n in names)
            raise UnboundInputError(names, f"expected input {i} ({what}) to be a constant known at import"
                                    f" time, got {value.type} computed from graph input(s) {names}; bind"
                                    f" them with from_onnx(..., constants={{{binding}}})")
        raise FrontendError(f"expected input {i} ({what}) to be a constant known at import time,"
                            f" got a computed tensor {value.type}")

    def optional_const(self, i: int, what: str) -> np.ndarray | None:
        """Input i as a numpy constant, None if absent; a computed tensor is an error."""
        return self.const(i, what) if self.has(i) else None

    def axes(self, i: int) -> list[int] | None:
        """Axes from the `axes` attribute (older opsets) or from constant input i (newer ones)."""
        if "axes" in self.attrs:
            return [int(a) for a in self.attrs["axes"]]
        axes = self.optional_const(i, "axes")
        return None if axes is None else [int(a) for a in axes.reshape(-1)]

    def no_extra_outputs(self) -> None:
        extra = [o for o in self.node.output[1:] if o]
        if extra:
            raise FrontendError(f"expected only the first output to be used, got outputs {extra}")

    def static_shape_op(self) -> np.ndarray:
        """Shape (with start/end) or Size of an input whose shape is static."""
        shape = tuple(self.value(0).shape)
        if self.node.op_type == "Size":
            return np.array(math.prod(shape), dtype=np.int64)
        start, end = self.attr("start", 0), self.attr("end", len(shape))
        return np.array(shape[slice(start, end)], dtype=np.int64)


def unsupported(what: str) -> FrontendError:
    return FrontendError(f"unsupported: {what}")


def onnx_dtype_name(code: int) -> str:
    """numpy dtype name of an ONNX TensorProto data type code."""
    return helper.tensor_dtype_to_np_dtype(code).name
