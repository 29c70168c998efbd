"""Element and tensor types: dtype names as numpy spells them, the classes of dtypes, sizes."""

import re

import numpy as np
import pytest

import frittata as ft
from frittata.terms.dtypes import DTYPES, TensorType, check_dtype, is_float, is_int


@pytest.mark.parametrize("given, name", [(np.float32, "float32"), (np.dtype("int8"), "int8"), ("uint8", "uint8"),
                                         ("f4", "float32"), (np.bool_, "bool"), ("float16", "float16")])
def test_a_dtype_numpy_understands_is_named_canonically(given, name):
    assert check_dtype(given, "here") == name


@pytest.mark.parametrize("given", ["complex64", object, "bfloat16", "string"])
def test_a_dtype_we_do_not_compute_in_names_the_place_and_the_supported_ones(given):
    supported = ("float32", "int8", "uint8", "int32", "int64", "bool", "float16", "float64", "int16", "uint16",
                 "uint32", "uint64")
    with pytest.raises(ft.FrittataTypeError, match=re.escape(f"here: expected a dtype in {supported!r}, got")):
        check_dtype(given, "here")


def test_every_dtype_is_float_int_or_bool_and_never_two_of_them():
    for dtype in DTYPES:
        kinds = [is_float(dtype), is_int(dtype), dtype == "bool"]
        assert kinds.count(True) == 1, dtype
        assert is_float(dtype) == np.issubdtype(np.dtype(dtype), np.floating)
        assert is_int(dtype) == np.issubdtype(np.dtype(dtype), np.integer)


def test_a_tensor_type_knows_its_rank_size_and_bytes_and_prints_both_ways():
    t = TensorType((2, 3), "int32")
    assert (t.rank, t.size, t.nbytes) == (2, 6, 24)
    assert TensorType((), "float32").size == 1 and TensorType((2, 0), "int8").nbytes == 0
    assert str(t) == "int32[2, 3]" and repr(t) == "TensorType((2, 3), 'int32')" and eval(repr(t)) == t
