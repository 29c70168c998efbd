"""The dtypes beyond the core ones (float16, float64, int16, uint16, uint32, uint64) in the LLVM
backend: float16 conversions bit-exact against numpy on every half and on float32/float64 values
at and around the rounding boundaries, on the host's CPU and on a baseline x86-64 without F16C
(where LLVM's own half conversions would be calls the JIT cannot resolve); elementwise,
reduction, movement and contraction kernels equal to the interpreter in every such dtype; the
kernels that compute in the core dtypes only refuse them by name."""

from __future__ import annotations

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T
from frittata.backends.jit import Machine, host
from frittata.backends.llvm import build
from frittata.terms.dtypes import EXTRA_FLOAT_DTYPES, EXTRA_INT_DTYPES

MACHINES = {"host": host(), "x86-64-v2": Machine(host().triple, "x86-64-v2", "")}


def _bits16(a: np.ndarray) -> np.ndarray:
    """float16 bits with every NaN made the one quiet NaN (payloads are not compared)."""
    bits = a.view(np.uint16).copy()
    bits[np.isnan(a)] = 0x7E00
    return bits


def _boundary_values(dtype: str, rng: np.random.Generator) -> np.ndarray:
    """Random bit patterns, every half, the midpoints between neighbouring halves (ties round
    to even) and values a hair either side of them, the half range's edges."""
    width = np.dtype(dtype).itemsize * 8
    unsigned = np.dtype(f"uint{width}")
    noise = rng.integers(0, np.iinfo(unsigned).max, 4096, dtype=unsigned, endpoint=True).view(dtype)
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = halves[np.isfinite(halves)].astype(np.float64)
    ordered = np.sort(finite)
    mids = (ordered[:-1] + ordered[1:]) / 2
    nudged = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf)]).astype(dtype)
    edges = np.array([65504, 65519, 65520, -65520, 6e-8, 2.98e-8, 2.99e-8, 0.0, -0.0, np.inf, -np.inf, np.nan], dtype)
    return np.concatenate([noise, finite.astype(dtype), nudged, edges])


@pytest.mark.parametrize("machine", MACHINES)
def test_float16_conversions_are_bit_exact(machine):
    rng = np.random.default_rng(0)
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    singles, doubles = _boundary_values("float32", rng), _boundary_values("float64", rng)
    program = ft.Program({
        "widened": T.cast(T.var("h", halves.shape, "float16"), "float32"),
        "from32": T.cast(T.var("s", singles.shape, "float32"), "float16"),
        "from64": T.cast(T.var("d", doubles.shape, "float64"), "float16"),
        "from_int": T.cast(T.var("i", (6,), "int32"), "float16")})
    ints = np.array([0, 2049, 2051, 65519, 65520, -70000], np.int32)
    out = build(program, threads=1, target=MACHINES[machine]).run(h=halves, s=singles, d=doubles, i=ints)
    np.testing.assert_array_equal(out["widened"], halves.astype(np.float32))
    with np.errstate(over="ignore"):
        for name, source in (("from32", singles), ("from64", doubles), ("from_int", ints)):
            np.testing.assert_array_equal(_bits16(out[name]), _bits16(source.astype(np.float16)), err_msg=name)


def _values(dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-3, 3, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("dtype", EXTRA_FLOAT_DTYPES + EXTRA_INT_DTYPES)
def test_elementwise_reduction_movement_and_contraction_kernels_take_every_dtype(dtype):
    a, b = T.var("a", (5, 7), dtype), T.var("b", (7, 3), dtype)
    program = ft.Program({
        "arith": T.maximum(T.sub(T.mul(a, a), a), T.slice(T.transpose(
            T.concat(b, b, T.slice(b, [(0, 7, 1), (0, 1, 1)]), axis=1)), [(0, 5, 1), (0, 7, 1)])),
        "less": T.less(a, T.reshape(T.slice(a, [(0, 5, 1), (0, 1, 1)]), (5, 1))),
        "sum": T.reduce_sum(a, [1]),
        "max": T.reduce_max(a, [0], keepdims=True),
        "arg": T.arg_max(a, 1),
        "matmul": T.matmul(a, b),
        "cast": T.cast(a, "float32")})
    inputs = {"a": _values(dtype, (5, 7), 1), "b": _values(dtype, (7, 3), 2)}
    got, want = build(program, threads=2).run(**inputs), ft.evaluate(program, inputs)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        if want[name].dtype == np.float16 and name in ("sum", "matmul"):
            # numpy adds float16 in float16; the kernels add in float32 and round once
            np.testing.assert_allclose(got[name], want[name], rtol=2e-2, atol=5e-2, err_msg=name)
        elif want[name].dtype.kind == "f":
            np.testing.assert_allclose(got[name], want[name], rtol=1e-6 if dtype == "float64" else 1e-3, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize("dtype", EXTRA_FLOAT_DTYPES)
def test_float_functions_in_float16_and_float64(dtype):
    x = T.var("x", (64,), dtype)
    program = ft.Program({"y": T.add(T.mul(T.exp(x), T.tanh(x)), T.sqrt(T.abs(T.erf(x))))})
    inputs = {"x": _values(dtype, (64,), 3)}
    got, want = build(program, threads=1).run(**inputs)["y"], ft.evaluate(program, inputs)["y"]
    assert got.dtype == want.dtype
    tolerance = 1e-12 if dtype == "float64" else 2e-3
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


def test_core_only_kernels_refuse_other_dtypes_by_name():
    x = T.var("x", (1, 2, 6, 6), "float64")
    with pytest.raises(ft.LoweringError, match=r"max_pool2d .*float64"):
        build(ft.Program({"y": T.max_pool2d(x, 2)}))
