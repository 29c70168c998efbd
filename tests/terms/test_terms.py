"""The term layer: interning, immutability, typing errors, repr round trips, Program checks."""

import numpy as np
import pytest
from hypothesis import given

import frittata as ft
import frittata.terms as T
from tests.strategies import inputs_for, int_programs, programs

X = T.var("x", (1, 4, 6, 6))


def test_equal_terms_are_the_same_object():
    w = T.param("w", np.ones((8, 4, 3, 3), np.float32))
    assert T.relu(T.conv2d(X, w, pads=1)) is T.relu(T.conv2d(X, w, pads=1))
    assert T.add(X, 1.0) is T.add(X, T.const(1.0))


def test_terms_are_immutable():
    with pytest.raises(AttributeError):
        X.op = T.Op.RELU  # type: ignore[misc]


def test_parameters_with_equal_names_but_different_data_are_different_terms():
    a = T.param("w", np.zeros(3, np.float32))
    b = T.param("w", np.ones(3, np.float32))
    assert a is not b
    with pytest.raises(ft.FrittataTypeError, match="one parameter named 'w'"):
        T.Program({"y": T.add(a, b)})


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: T.add(X, T.var("z", (1, 5, 6, 6))), "add: expected shapes that broadcast"),
        (lambda: T.conv2d(X, T.param("w", np.ones((8, 3, 3, 3), np.float32))), "conv2d: expected C=4"),
        (lambda: T.matmul(T.var("a", (2, 3)), T.var("b", (4, 5))), "equal K"),
        (lambda: T.exp(T.var("i", (2,), "int8")), "exp: expected a float tensor"),
        (lambda: T.add(X, T.var("i", (1,), "int32")), "operands of one dtype"),
        (lambda: T.reshape(X, (5, 5)), "reshape: expected a shape of 144 elements"),
        (lambda: T.max_pool2d(X, 2, pads=2), "padding smaller than the kernel"),
        (lambda: T.var("v", (2, -1)), "non-negative dimensions"),
        (lambda: T.cast(X, "complex64"), "expected a dtype in"),
        (lambda: T.pack_nchwc(X, 3), "channels divide by 3"),
    ],
)
def test_bad_nodes_raise_type_errors_saying_expected_and_got(build, message):
    with pytest.raises(ft.FrittataTypeError, match=message):
        build()


@given(programs())
def test_repr_is_python_that_rebuilds_the_term(program):
    for out in program.outputs.values():
        rebuilt = eval(repr(out), vars(T))
        assert rebuilt.type == out.type
        assert repr(rebuilt) == repr(out)


def test_repr_of_small_terms_rebuilds_the_identical_object():
    t = T.softmax(T.add(T.relu(X), T.param("b", np.arange(6, dtype=np.float32))), axis=1)
    assert eval(repr(t), vars(T)) is t


def test_repr_of_a_deep_shared_dag_stays_linear():
    h = X
    for _ in range(200):
        h = T.add(h, T.relu(h))
    text = repr(h)
    assert len(text) < 20_000
    assert eval(text, vars(T)) is h


@given(programs())
def test_interpreter_gives_every_output_its_inferred_type(program):
    out = ft.evaluate(program, inputs_for(program))
    for name, term in program.outputs.items():
        assert out[name].shape == term.shape and out[name].dtype.name == term.dtype
        assert np.isfinite(out[name]).all()


@given(int_programs())
def test_integer_programs_stay_integer(program):
    out = ft.evaluate(program, inputs_for(program))["out"]
    assert out.dtype == np.int8 and out.min() >= -127 and out.max() <= 127


def test_evaluate_checks_inputs():
    p = T.Program({"y": T.relu(X)})
    good = {"x": np.zeros((1, 4, 6, 6), np.float32)}
    with pytest.raises(ft.RuntimeInputError, match=r"input 'x': expected float32\[1, 4, 6, 6\], got float64"):
        ft.evaluate(p, {"x": np.zeros((1, 4, 6, 6))})
    with pytest.raises(ft.RuntimeInputError, match=r"got float32\[1, 4, 6\]"):
        ft.evaluate(p, {"x": np.zeros((1, 4, 6), np.float32)})
    with pytest.raises(ft.RuntimeInputError, match="missing \\['x'\\]"):
        ft.evaluate(p, {})
    with pytest.raises(ft.RuntimeInputError, match="unexpected \\['z'\\]"):
        ft.evaluate(p, {**good, "z": good["x"]})


def test_integer_semantics():
    i = T.var("i", (5,), "int32")
    values = {"i": np.array([-7, -6, 5, 6, 7], np.int32)}
    assert ft.evaluate(T.div(i, 2), values).tolist() == [-3, -3, 2, 3, 3]
    assert ft.evaluate(T.right_shift(i, 1), values).tolist() == [-3, -3, 3, 3, 4]
    assert ft.evaluate(T.cast(T.var("f", (2,)), "int8"), {"f": np.float32([-1.7, 2.9])}).tolist() == [-1, 2]


def test_int8_contractions_accumulate_in_int32():
    a = T.var("a", (2, 64), "int8")
    w = T.param("w", np.full((3, 64), -128, np.int8))
    out = ft.evaluate(T.dense(a, w), {"a": np.full((2, 64), -128, np.int8)})
    assert out.dtype == np.int32 and (out == 64 * 128 * 128).all()


def test_fused_conv_equals_its_unfused_definition():
    rng = np.random.default_rng(1)
    w = T.param("w", rng.standard_normal((4, 4, 3, 3)).astype(np.float32))
    b = T.param("b", rng.standard_normal(4).astype(np.float32))
    r = T.var("r", (1, 4, 6, 6))
    fused = T.fused_conv2d(X, w, b, r, pads=(1, 1, 1, 1), epilogue=[("add",), ("clip", 0.0, 6.0)])
    plain = T.clip(T.add(T.add(T.conv2d(X, w, pads=1), T.reshape(b, (1, 4, 1, 1))), r), 0.0, 6.0)
    inputs = {"x": rng.standard_normal((1, 4, 6, 6)).astype(np.float32),
              "r": rng.standard_normal((1, 4, 6, 6)).astype(np.float32)}
    np.testing.assert_allclose(ft.evaluate(fused, inputs), ft.evaluate(plain, inputs), rtol=1e-6)


def test_nchwc_pack_then_unpack_is_identity():
    x = np.arange(4 * 36, dtype=np.float32).reshape(1, 4, 6, 6)
    packed = ft.evaluate(T.pack_nchwc(X, 2), {"x": x})
    assert packed.shape == (1, 2, 6, 6, 2) and packed[0, 1, 2, 3, 1] == x[0, 3, 2, 3]
    assert np.array_equal(ft.evaluate(T.unpack_nchwc(T.pack_nchwc(X, 2), 2), {"x": x}), x)
