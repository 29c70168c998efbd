"""Run-time indexing compiled for the CPU: each op against the interpreter, and indices the
native code must refuse (random, huge, negative, INT64_MIN) raising the interpreter's own
RuntimeInputError after the kernel returns, never reading or writing outside a buffer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata as ft
import frittata.terms as T
from frittata.backends.llvm import build
from tests.backends.llvm.helpers import check, rand

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TABLE = rand((11, 24), seed=1)


def _ids(values, dtype="int64") -> np.ndarray:
    return np.array(values, dtype)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_take_rows_and_inner_axes(dtype):
    ids = T.var("ids", (2, 5), dtype)
    program = ft.Program({"rows": T.take(T.param("table", TABLE), ids),
                          "cols": T.take(T.var("x", (3, 11, 4)), ids, axis=1)})
    check(program, {"ids": _ids([[0, 10, -1, -11, 3], [5, 5, 2, 1, 0]], dtype), "x": rand((3, 11, 4))})


def test_take_add_broadcasts_its_addend_and_checks_its_indices():
    ids = T.var("ids", (2, 5), "int64")
    program = ft.Program({"rows": T.take_add(T.param("table", TABLE), ids, T.var("pos", (5, 24))),
                          "cols": T.take_add(T.var("x", (3, 11)), ids, T.var("b", (3, 1, 1)), axis=1),
                          "scalar": T.take_add(T.var("v", (11,)), T.var("one", (), "int32"), T.var("s", ()))})
    inputs = {"ids": _ids([[0, 10, -1, -11, 3], [5, 5, 2, 1, 0]]), "pos": rand((5, 24), seed=4),
              "x": rand((3, 11), seed=5), "b": rand((3, 1, 1), seed=6), "v": rand((11,), seed=7),
              "one": np.array(-2, np.int32), "s": np.array(0.5, np.float32)}
    mod = check(program, inputs)
    bad = inputs | {"one": np.array(11, np.int32)}
    for runner in (mod.run, lambda **kw: ft.evaluate(program, kw)):
        with pytest.raises(ft.RuntimeInputError, match=r"take: index 11 at position \(\) .*\[-11, 11\)"):
            runner(**bad)


def test_gather_elements_and_nd():
    x = T.var("x", (3, 4, 5))
    program = ft.Program({"e": T.gather_elements(x, T.var("e", (3, 2, 5), "int64"), axis=1),
                          "nd": T.gather_nd(x, T.var("nd", (3, 2), "int32"), batch_dims=1)})
    rng = np.random.default_rng(3)
    check(program, {"x": rand((3, 4, 5)), "e": rng.integers(-4, 4, (3, 2, 5)).astype(np.int64),
                    "nd": _ids([[0, -5], [3, 4], [-4, 0]], "int32")})


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatters(reduction):
    data = T.var("d", (6, 4))
    program = ft.Program({
        "el": T.scatter_elements(data, T.var("e", (2, 4), "int64"), T.var("u", (2, 4)), axis=0, reduction=reduction),
        "nd": T.scatter_nd(data, T.var("r", (3, 1), "int64"), T.var("v", (3, 4)), reduction=reduction)})
    check(program, {"d": rand((6, 4)), "e": _ids([[0, 5, -1, 2], [1, 5, 3, -6]]), "u": rand((2, 4), seed=2),
                    "r": _ids([[2], [-1], [2]]), "v": rand((3, 4), seed=3)}, threads=2)


def test_one_hot_of_int_and_float_indices():
    program = ft.Program({"a": T.one_hot(T.var("i", (2, 3), "int64"), 5, axis=1, off=-1, on=2),
                          "b": T.one_hot(T.var("f", (4,), "float32"), 3, dtype="int32")})
    check(program, {"i": _ids([[0, 4, -5], [7, -6, 2]]), "f": np.array([0.5, -1.2, 2.9, 3.0], np.float32)})


EMBEDDING = ft.Program({"y": T.take(T.param("table", TABLE), T.var("ids", (3, 4), "int64"))})


@pytest.fixture(scope="module")
def embedding() -> ft.Module:
    return build(EMBEDDING, threads=2)


ADVERSARIAL = st.one_of(st.integers(-11, 10), st.integers(INT64_MIN, INT64_MAX),
                        st.sampled_from([INT64_MIN, INT64_MAX, 11, -12, 2**31, -(2**31), 2**32 + 3]))


@given(st.one_of(st.lists(st.integers(-11, 10), min_size=12, max_size=12),
                 st.lists(ADVERSARIAL, min_size=12, max_size=12)))
def test_native_bounds_checks_match_the_interpreter(embedding, values):
    ids = _ids(values).reshape(3, 4)
    try:
        want = ft.evaluate(EMBEDDING, {"ids": ids})["y"]
    except ft.RuntimeInputError as error:
        with pytest.raises(ft.RuntimeInputError) as raised:
            embedding.run(ids=ids)
        assert str(raised.value) == str(error)
        return
    np.testing.assert_array_equal(embedding.run(ids=ids)["y"], want)


SCATTER = ft.Program({"y": T.scatter_elements(T.var("d", (5, 3)), T.var("i", (2, 3), "int64"),
                                              T.var("u", (2, 3)), axis=0, reduction="add")})


@pytest.fixture(scope="module")
def scatter() -> ft.Module:
    return build(SCATTER, threads=2)


@given(st.lists(st.one_of(st.integers(-5, 4), ADVERSARIAL), min_size=6, max_size=6))
def test_native_scatter_never_writes_out_of_range(scatter, values):
    """Adversarial scatter indices: the same RuntimeInputError as the interpreter, or the same
    output in full; the caller's input arrays are never written."""
    inputs = {"d": rand((5, 3), seed=8), "i": _ids(values).reshape(2, 3), "u": rand((2, 3), seed=9)}
    kept = {n: v.copy() for n, v in inputs.items()}
    try:
        want = ft.evaluate(SCATTER, inputs)["y"]
    except ft.RuntimeInputError as error:
        with pytest.raises(ft.RuntimeInputError) as raised:
            scatter.run(**inputs)
        assert str(raised.value) == str(error)
    else:
        np.testing.assert_allclose(scatter.run(**inputs)["y"], want, rtol=1e-6)
    for name, value in kept.items():
        np.testing.assert_array_equal(inputs[name], value)


def test_every_checked_op_refuses_a_bad_index_and_the_saved_module_too(tmp_path):
    d = T.var("d", (4, 3))
    program = ft.Program({
        "e": T.gather_elements(d, T.var("e", (4, 3), "int64"), axis=1),
        "nd": T.gather_nd(d, T.var("nd", (2, 2), "int64")),
        "s": T.scatter_nd(d, T.var("r", (1, 1), "int64"), T.var("u", (1, 3)), reduction="add")})
    good = {"d": rand((4, 3)), "e": np.zeros((4, 3), np.int64), "nd": _ids([[3, 2], [-4, -3]]),
            "r": _ids([[3]]), "u": rand((1, 3))}
    mod = check(program, good)
    mod.save(tmp_path / "m.ftm")
    loaded = ft.load(tmp_path / "m.ftm")
    cases = {"e": (np.full((4, 3), -4, np.int64), r"gather_elements: index -4 at position \(0, 0\).*\[-3, 3\) of axis"),
             "nd": (_ids([[3, 2], [0, 3]]), r"gather_nd: index 3 at position \(1, 1\).*\[-3, 3\) of data float32"),
             "r": (_ids([[INT64_MIN]]), r"scatter_nd: index -9223372036854775808 at position \(0, 0\).*\[-4, 4\)")}
    for name, (bad, message) in cases.items():
        for runner in (mod.run, loaded.run, lambda **kw: ft.evaluate(program, kw)):
            with pytest.raises(ft.RuntimeInputError, match=message):
                runner(**(good | {name: bad}))
    np.testing.assert_array_equal(loaded.run(**good)["nd"], mod.run(**good)["nd"])
