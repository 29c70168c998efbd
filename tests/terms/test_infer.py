"""The type rules the op families share: operand counts, ranks, dtypes, windows, broadcasting."""

import itertools

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import broadcast, contraction_dtype, infer_type, need_rank, window_out
from frittata.terms.ops import Op


def windows(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Placements of a dilated kernel on a padded row, counted one by one."""
    span = dilation * (kernel - 1) + 1
    return sum(1 for start in range(0, size + pad, stride) if start + span <= size + pad)


def test_a_window_count_is_the_number_of_placements_that_fit():
    for size, kernel, stride, pad, dilation in itertools.product([1, 4, 7], [1, 2, 3], [1, 2, 3], [0, 1, 3], [1, 2]):
        if dilation * (kernel - 1) + 1 <= size + pad:
            assert window_out(Op.CONV2D, size, kernel, stride, pad, dilation) == windows(size, kernel, stride, pad,
                                                                                         dilation)


@pytest.mark.parametrize("args, message", [
    ((5, 7, 1, 1, 1), r"conv2d: expected a window spanning at most input 5 \+ padding 1 = 6, "
                      r"got a window of 7 \(dilation 1\) spanning 7"),
    ((5, 3, 1, 0, 3), r"conv2d: expected a window spanning at most input 5 \+ padding 0 = 5, "
                      r"got a window of 3 \(dilation 3\) spanning 7"),
    ((5, 3, 0, 0, 1), r"conv2d: expected kernel, stride, dilation >= 1 and padding >= 0, got \(3, 0, 1, 0\)"),
    ((5, 3, 1, -1, 1), r"conv2d: expected kernel, stride, dilation >= 1 and padding >= 0, got \(3, 1, 1, -1\)"),
    ((5, 0, 1, 0, 1), r"got \(0, 1, 1, 0\)"),
])
def test_a_window_that_cannot_be_placed_says_why(args, message):
    with pytest.raises(ft.FrittataTypeError, match=message):
        window_out(Op.CONV2D, *args)


def test_contractions_accumulate_floats_as_floats_and_any_integers_in_int32():
    f32, i8, u8 = (TensorType((2,), d) for d in ("float32", "int8", "uint8"))
    assert contraction_dtype(Op.DENSE, f32, f32) == "float32"
    assert contraction_dtype(Op.DENSE, i8, u8) == contraction_dtype(Op.DENSE, u8, u8) == "int32"
    with pytest.raises(ft.FrittataTypeError, match=r"dense: expected two float32 or two integer operands, "
                                                   r"got float32\[2\], int8\[2\]"):
        contraction_dtype(Op.DENSE, f32, i8)


def test_ranks_exact_or_at_least():
    need_rank(Op.DENSE, TensorType((2, 3, 4), "float32"), 2, at_least=True)
    with pytest.raises(ft.FrittataTypeError, match=r"dense: expected rank >= 2, got float32\[2\]"):
        need_rank(Op.DENSE, TensorType((2,), "float32"), 2, at_least=True)
    with pytest.raises(ft.FrittataTypeError, match=r"dense: expected rank 2, got float32\[2, 3, 4\]"):
        need_rank(Op.DENSE, TensorType((2, 3, 4), "float32"), 2)


def test_broadcasting_is_numpy_broadcasting():
    shapes = [(), (1,), (3,), (2, 1), (2, 3), (4, 1, 3)]
    for a, b in itertools.product(shapes, shapes):
        types = [TensorType(a, "float32"), TensorType(b, "float32")]
        try:
            expected = np.broadcast_shapes(a, b)
        except ValueError:
            with pytest.raises(ft.FrittataTypeError, match="add: expected shapes that broadcast"):
                broadcast(Op.ADD, types)
        else:
            assert broadcast(Op.ADD, types) == expected


def test_an_operand_count_the_op_does_not_take_is_named():
    with pytest.raises(ft.FrittataTypeError, match="add: expected 2 operands, got 1"):
        infer_type(Op.ADD, (T.var("x", (2,)),), {})
    with pytest.raises(ft.FrittataTypeError, match="concat: expected 1 or more operands, got 0"):
        infer_type(Op.CONCAT, (), {"axis": 0})
