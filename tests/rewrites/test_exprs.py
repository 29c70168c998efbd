"""Guard predicates and attribute functions of rules, at the boundaries where their answer turns."""

import itertools

import numpy as np
import pytest

from frittata.rewrites.exprs import Call, Lit, Tup, Var, evaluate, holds
from frittata.terms.dtypes import TensorType

ENV = {"x": TensorType((2, 32, 7, 7), "int8"), "u": TensorType((4, 16), "uint8"),
       "f": TensorType((4, 16), "float32"), "g": TensorType((4, 16), "float32"),
       "p": TensorType((3, 2), "uint8"), "w": TensorType((3, 2), "int64")}


def lit(v):
    return Tup(tuple(lit(i) for i in v)) if isinstance(v, tuple) else Lit(v)


def arg(v):
    return Var(v[1:]) if isinstance(v, str) and v.startswith("?") else lit(v)


def guard(fn: str, *args) -> bool:
    return holds(Call(fn, tuple(arg(a) for a in args)), ENV)


def value(fn: str, *args):
    return evaluate(Call(fn, tuple(arg(a) for a in args)), ENV)


@pytest.mark.parametrize("fn, args, expected", [
    ("divisible", (32, 16), True), ("divisible", (33, 16), False), ("divisible", (0, 16), True),
    ("divisible", (16, 0), False),
    ("not-divisible", (33, 16), True), ("not-divisible", (32, 16), False), ("not-divisible", (16, 0), False),
    ("fits-int8", (-128,), True), ("fits-int8", (127,), True), ("fits-int8", (-129,), False),
    ("fits-int8", (128,), False),
    ("fits-bits", (1, 1), True), ("fits-bits", (0, 1), False), ("fits-bits", (3, 2), True),
    ("fits-bits", (4, 2), False), ("fits-bits", (127, 7), True), ("fits-bits", (128, 7), False),
    ("fits-bits", (2.0, 2), False),
    ("at-most", (3, 3), True), ("at-most", (4, 3), False),
    ("equal", (3, 3), True), ("equal", (3, 4), False),
    ("not-none", (0,), True), ("not-none", (None,), False),
    ("has-padding", ((0, 0, 0, 0),), False), ("has-padding", ((0, 0, 0, 1),), True),
    ("identity-perm", ((0, 1, 2),), True), ("identity-perm", ((0, 2, 1),), False),
    ("perm-inverse", ((1, 2, 0), (2, 0, 1)), True), ("perm-inverse", ((1, 2, 0), (1, 2, 0)), False),
    ("ew-size-at-most", (("relu", ("add", ("arg", 0), ("arg", 1))), 2), True),
    ("ew-size-at-most", (("relu", ("add", ("arg", 0), ("arg", 1))), 1), False),
])
def test_a_predicate_turns_at_its_boundary(fn, args, expected):
    assert guard(fn, *args) is expected


@pytest.mark.parametrize("fn, args, expected", [
    ("fits-block", ("?x", 16), True), ("fits-block", ("?x", 32), True), ("fits-block", ("?x", 64), False),
    ("fits-block", ("?x", 0), False), ("fits-block", ("?u", 16), False),  # rank 2
    ("shape-is", ("?u", (4, 16)), True), ("shape-is", ("?u", (16, 4)), False),
    ("rank-is", ("?x", 4), True), ("rank-is", ("?x", 3), False),
    ("dtype-is", ("?u", "uint8"), True), ("dtype-is", ("?u", "int8"), False),
    ("is-float", ("?f",), True), ("is-float", ("?x",), False), ("is-int", ("?x",), True), ("is-int", ("?f",), False),
    ("is-8-bit", ("?x",), True), ("is-8-bit", ("?u",), True), ("is-8-bit", ("?w",), False),
    ("equal-shape", ("?f", "?u"), True), ("equal-shape", ("?f", "?x"), False),
    ("same-type", ("?f", "?g"), True), ("same-type", ("?f", "?u"), False),
])
def test_a_type_predicate_reads_the_tensor_it_names(fn, args, expected):
    assert guard(fn, *args) is expected


@pytest.mark.parametrize("epilogue, expected", [
    ((), True), ((("shift", 0), ("relu",), ("clip", -32768, 32767), ("cast", "int8")), True),
    ((("shift", 31),), True), ((("shift", 32),), False), ((("shift", -1),), False),
    ((("clip", -32769, 0),), False), ((("clip", 0, 32768),), False), ((("clip", None, 4),), False),
    ((("cast", "int8"), ("relu",)), False), ((("add",),), False),
])
def test_vta_epilogue_admits_shift_relu_and_16_bit_clips_then_one_final_cast(epilogue, expected):
    assert guard("vta-epilogue", epilogue) is expected


@pytest.mark.parametrize("epilogue, expected", [
    ((("add",), ("relu",), ("clip", -1.0, 1.0), ("sigmoid",), ("silu",), ("hard_swish",)), True),
    ((("shift", 1),), False), ((("cast", "int8"),), False),
])
def test_float_epilogue_admits_only_steps_a_float_kernel_computes(epilogue, expected):
    assert guard("float-epilogue", epilogue) is expected


def test_a_guard_whose_arguments_make_no_sense_is_false_not_an_error():
    assert guard("divisible", (1, 2), 2) is False  # a tuple modulo an int: TypeError
    assert holds(Call("shape-is", (Var("x"), Tup((Call("dim", (Var("x"), Lit(7))),)))), ENV) is False  # no axis 7


@pytest.mark.parametrize("fn, args, expected", [
    ("dim", ("?x", 1), 32), ("dim", ("?x", -1), 7), ("shape", ("?u",), (4, 16)), ("size", ("?x",), 2 * 32 * 49),
    ("rank", ("?u",), 2), ("dtype", ("?u",), "uint8"),
    ("+", (7, 2), 9), ("-", (7, 2), 5), ("*", (7, 2), 14), ("//", (7, 2), 3), ("%", (7, 2), 1),
    ("round-up", (16, 16), 16), ("round-up", (17, 16), 32), ("round-up", (1, 16), 16), ("round-up", (0, 16), 0),
    ("append", ((1, 2), 3), (1, 2, 3)), ("join", ((1,), (2, 3)), (1, 2, 3)),
    ("compose-perm", ((0, 2, 3, 1), (0, 3, 1, 2)), (0, 1, 2, 3)), ("compose-perm", ((1, 0, 2), (0, 2, 1)), (1, 2, 0)),
    ("inverse-perm", ((1, 2, 0),), (2, 0, 1)), ("inverse-perm", ((0, 2, 3, 1),), (0, 3, 1, 2)),
    ("int8-offset", ("?u",), 128), ("int8-offset", ("?x",), 0),
    ("nchw-pads", ((1, 2, 3, 4),), ((0, 0), (0, 0), (1, 3), (2, 4))),
    ("bit-width", (0,), 0), ("bit-width", (1,), 1), ("bit-width", (255,), 8), ("bit-width", (256,), 9),
    ("word-bits", ("?p",), 8), ("word-bits", ("?w",), 64),
    ("winograd-exact-channels", (2,), 3640), ("winograd-exact-channels", (3,), 3640),
    ("ew-arity", (("add", ("arg", 0), ("relu", ("arg", 1))),), 2),
])
def test_an_attribute_function_computes_what_its_name_says(fn, args, expected):
    assert value(fn, *args) == expected


def test_a_transpose_by_p_then_by_its_inverse_is_the_identity():
    p = (2, 0, 3, 1)
    assert value("compose-perm", p, value("inverse-perm", p)) == (0, 1, 2, 3)
    assert guard("perm-inverse", p, value("inverse-perm", p)) is True


def test_compose_perm_is_numpy_transposing_twice():
    a = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    for p, q in itertools.product(itertools.permutations(range(4)), [(0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 3, 2)]):
        assert np.array_equal(np.transpose(np.transpose(a, p), q), np.transpose(a, value("compose-perm", p, q)))
