"""Element types and tensor types: the static type every term carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from frittata.errors import FrittataTypeError

FLOAT_DTYPES = ("float32",)
INT_DTYPES = ("int8", "uint8", "int32", "int64")
CORE_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)
"""The dtypes every stage handles: rules sample them, every LLVM kernel computes in them."""
EXTRA_FLOAT_DTYPES = ("float16", "float64")
EXTRA_INT_DTYPES = ("int16", "uint16", "uint32", "uint64")
DTYPES = CORE_DTYPES + EXTRA_FLOAT_DTYPES + EXTRA_INT_DTYPES
"""Every dtype a term may have: the core ones, and the ones the interpreter and ONNX import
also accept (ONNX models and node tests use them). The LLVM backend's elementwise, reduction,
movement and plain contraction kernels compute in the extra ones too (float16 in float32,
rounded after each op); its other kernels refuse them by name."""


def check_dtype(dtype: DTypeLike, where: str) -> str:
    """Return `dtype` as a canonical name, or raise naming the supported dtypes."""
    name = np.dtype(dtype).name if _is_numpy_dtype(dtype) else str(dtype)
    if name not in DTYPES:
        raise FrittataTypeError(f"{where}: expected a dtype in {DTYPES}, got {dtype!r}")
    return name


def _is_numpy_dtype(dtype: DTypeLike) -> bool:
    try:
        np.dtype(dtype)
    except TypeError:
        return False
    return True


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES or dtype in EXTRA_FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES or dtype in EXTRA_INT_DTYPES


@dataclass(frozen=True, slots=True)
class TensorType:
    """A static tensor type: a shape of non-negative ints and an element dtype name."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    def __repr__(self) -> str:
        return f"TensorType({self.shape!r}, {self.dtype!r})"

    def __str__(self) -> str:
        return f"{self.dtype}{list(self.shape)}"


def make_type(shape: Any, dtype: str, where: str) -> TensorType:
    """Validate a user-given shape and dtype into a TensorType."""
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise FrittataTypeError(f"{where}: expected a shape of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise FrittataTypeError(f"{where}: expected non-negative dimensions, got {dims}")
    return TensorType(dims, check_dtype(dtype, where))
