"""Interning keys attributes by type and exact value: -0.0 is not 0.0, 1.0 is not 1 nor True.

numpy tells the signed zeros apart: `np.clip(+0.0, -0.0, None)` is `np.maximum(+0.0, -0.0)`,
which is -0.0 (the second operand on a tie), while `np.clip(+0.0, 0.0, None)` is +0.0; and
`1 / -0.0` is -inf. Python's `==` calls the bounds equal, so an intern table keyed by it made
the second clip built while the first was alive the first one.
"""

import math

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T
from frittata.backends.llvm import build
from frittata.terms.attr_keys import exact_cache, exact_key
from frittata.terms.term import Term

ZEROS = np.array([-0.0, 0.0], np.float32)


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(got.view(np.uint32), np.asarray(want, np.float32).view(np.uint32))


def test_clips_with_signed_zero_bounds_are_two_terms_with_their_own_results():
    x = T.var("x", ZEROS.shape)
    minus, plus = T.clip(x, -0.0, None), T.clip(x, 0, None)
    assert minus is not plus
    assert math.copysign(1, minus.attr("lo")) == -1 and math.copysign(1, plus.attr("lo")) == 1
    program = ft.Program({"minus": minus, "plus": plus})
    want = {"minus": np.clip(ZEROS, np.float32(-0.0), None), "plus": np.clip(ZEROS, np.float32(0.0), None)}
    assert np.signbit(want["minus"]).all() and not np.signbit(want["plus"]).any()
    for got in (ft.evaluate(program, {"x": ZEROS}), build(program, threads=1).run(x=ZEROS)):
        for name in want:
            _same_bits(got[name], want[name])


def test_two_bound_clips_and_signed_zero_constants_stay_apart():
    x = T.var("x", ZEROS.shape)
    assert T.clip(x, -0.0, 6) is not T.clip(x, 0, 6)
    assert T.const(-0.0) is not T.const(0.0)
    program = ft.Program({"down": T.div(T.add(x, 1.0), T.const(-0.0)),
                          "up": T.div(T.add(x, 1.0), T.const(0.0))})
    got = ft.evaluate(program, {"x": ZEROS})
    np.testing.assert_array_equal(got["down"], [-np.inf, -np.inf])
    np.testing.assert_array_equal(got["up"], [np.inf, np.inf])


def test_builders_normalize_number_kinds_so_equal_bounds_are_one_term():
    """Where an op's meaning depends on the number kind, its schema fixes it from the operand's
    dtype: the bounds of a float clip are floats and of an int clip ints, whatever was given."""
    x, i = T.var("x", (2,)), T.var("i", (2,), "int8")
    assert T.clip(x, True, 6) is T.clip(x, 1, 6) is T.clip(x, 1.0, 6.0)
    assert T.clip(x, 1, 6).attrs == (("lo", 1.0), ("hi", 6.0))
    assert type(T.clip(i, 1.0, 6.0).attr("lo")) is int and T.clip(i, True, 6) is T.clip(i, 1.0, 6.0)
    assert T.const(1, "bool") is T.const(True, "bool") and T.const(1, "int32") is T.const(1.0, "int32")


def test_raw_attributes_of_equal_value_but_other_type_are_other_terms():
    """`one_hot` keeps `on` as given (evaluation casts it to the dtype): each term keeps its own."""
    idx = T.var("k", (2,), "int32")
    made = [T.one_hot(idx, 3, on=on) for on in (1, 1.0, True)]
    assert len({id(t) for t in made}) == 3
    assert [type(t.attr("on")) for t in made] == [int, float, bool]


def test_a_nan_attribute_matches_itself():
    x = T.var("x", (2,))
    assert T.pad(x, [(1, 1)], value=float("nan")) is T.pad(x, [(1, 1)], value=float("nan"))
    assert Term.make(T.Op.CONST, (), (("value", math.nan), ("dtype", "float32"))) is T.const(float("nan"))


def test_exact_key():
    assert exact_key(0.0) != exact_key(-0.0)
    assert len({exact_key(v) for v in (1, 1.0, True)}) == 3
    assert exact_key(float("nan")) == exact_key(float("nan"))
    assert exact_key((("lo", -0.0),)) != exact_key((("lo", 0.0),))
    assert exact_key([1, (2.5,)]) == exact_key((1, (2.5,)))
    assert exact_key(np.float32(-0.0)) != exact_key(np.float32(0.0))


def test_exact_cache_tells_signed_zeros_apart():
    calls = []

    @exact_cache(16)
    def sign(v: float) -> float:
        calls.append(v)
        return math.copysign(1, v)

    assert (sign(0.0), sign(-0.0), sign(0.0)) == (1, -1, 1)
    assert len(calls) == 2


def test_fused_expressions_with_signed_zero_bounds_stay_apart():
    """The fused-expression normalizer's cache is keyed by exact value too."""
    x = T.var("x", ZEROS.shape)
    plus, minus = (T.fused_elementwise(x, expr=("clip", ("arg", 0), lo, None)) for lo in (0.0, -0.0))
    assert plus is not minus
    got = ft.evaluate(ft.Program({"minus": minus, "plus": plus}), {"x": ZEROS})
    _same_bits(got["minus"], [-0.0, -0.0])
    _same_bits(got["plus"], [0.0, 0.0])


def test_weights_that_differ_only_in_a_zeros_sign_are_two_params():
    """A param is interned by its bytes: `w` of [-0.0, 1] built while `w` of [0.0, 1] is alive
    keeps its -0.0 (x / w is -inf there, not +inf); a NaN weight matches itself."""
    x = T.var("x", (2,))
    plus, minus = T.param("w", np.array([0.0, 1.0], np.float32)), T.param("w", np.array([-0.0, 1.0], np.float32))
    assert plus is not minus
    got = ft.evaluate(ft.Program({"y": T.div(x, minus)}), {"x": np.ones(2, np.float32)})["y"]
    assert got[0] == -np.inf
    nan = np.array([np.nan, 1.0], np.float32)
    assert T.param("n", nan) is T.param("n", nan.copy())


def test_a_numpy_float64_is_keyed_as_a_numpy_scalar_not_as_a_python_float():
    """np.float64 subclasses float: the numpy case comes first, as the module says."""
    assert exact_key(np.float64(0.5)) != exact_key(0.5)
    assert exact_key(np.float32(0.5)) != exact_key(np.float64(0.5))


def test_exact_cache_keys_plain_and_other_arguments_by_exact_value():
    """Plain arguments (ints, floats, bools, strings, None, tuples of them: all of a rule match's)
    are keyed by marshal's bytes, the rest argument by argument (an `Op`, a numpy scalar by
    `exact_key`); either way look-alikes stay apart, a NaN finds itself, and only the newest
    `maxsize` keys are kept."""
    calls: list[tuple] = []

    @exact_cache(16)
    def seen(*args: object) -> int:
        calls.append(args)
        return len(calls)

    conv = (("strides", (1, 1)), ("pads", (1, 1, 1, 1)), ("groups", 1), ("epilogue", (("clip", 0.0, 6.0),)))
    distinct = [(conv,), ((("lo", -0.0),),), ((("lo", 0.0),),), ((1,),), ((1.0,),), ((True,),), ((math.nan,),),
                (T.Op.CLIP, (("lo", -0.0),)), (T.Op.CLIP, (("lo", 0.0),)), (np.float32(0.0),), (np.float64(0.0),)]
    first = [seen(*args) for args in distinct]
    assert first == list(range(1, len(distinct) + 1))
    assert [seen(*args) for args in distinct] == first and len(calls) == len(distinct)
    for n in range(16):
        seen(n, "filler")
    seen(conv)
    assert len(calls) == len(distinct) + 17


def test_a_list_attribute_is_refused_saying_which_and_where():
    """Attributes are immutable values: `Term.make` refuses a list (it keyed one as the tuple of
    its items, so the first node built kept a mutable, unhashable attribute); builders still take
    lists and pass tuples."""
    x = T.var("x", (2, 3))
    with pytest.raises(ft.FrittataTypeError, match=r"transpose: expected attribute 'perm' as a tuple.*\[1, 0\]"):
        Term.make(T.Op.TRANSPOSE, (x,), (("perm", [1, 0]),))
    with pytest.raises(ft.FrittataTypeError, match="'pads' as a tuple"):
        Term.make(T.Op.PAD, (x,), (("pads", ((0, 0), [1, 1])), ("value", 0.0)))
    assert T.transpose(x, [1, 0]) is Term.make(T.Op.TRANSPOSE, (x,), (("perm", (1, 0)),))
