"""A module's outputs: 64-byte aligned, never written by a later run while the caller can reach
them, and recycled once the caller has dropped every reference (views included)."""

from __future__ import annotations

import ctypes

import numpy as np

import frittata as ft
from frittata import terms as T
from frittata.backends.outputs import KEEP, OutputPool
from frittata.backends.packing import ALIGN
from frittata.terms.dtypes import TensorType


def _pool() -> OutputPool:
    return OutputPool({"y": TensorType((3, 5), "float32"), "z": TensorType((0,), "int64")})


def test_outputs_are_aligned_and_of_the_signature():
    pool = _pool()
    for name, shape, dtype in (("y", (3, 5), "float32"), ("z", (0,), "int64")):
        array = pool.take(name)
        assert (array.shape, array.dtype) == (shape, np.dtype(dtype))
        assert array.size == 0 or array.ctypes.data % ALIGN == 0
        assert array.flags.c_contiguous and array.flags.writeable


def test_an_array_the_caller_drops_is_taken_again():
    pool = _pool()
    first = id(pool.take("y"))
    assert id(pool.take("y")) == first


def test_an_array_the_caller_can_reach_is_never_taken_again():
    """Held directly, in a dict, through a view, a memoryview or a ctypes object: each keeps it
    out of the next runs' reach."""
    holders = [lambda a: a, lambda a: {"y": a}, lambda a: a[1:], lambda a: a.reshape(15), lambda a: memoryview(a),
               lambda a: (ctypes.c_char * a.nbytes).from_buffer(a), lambda a: a.view(np.int32)]
    for hold in holders:
        pool = _pool()
        array = pool.take("y")
        array[...] = 7.0
        held = hold(array)
        address = array.ctypes.data
        del array
        for _ in range(3 * KEEP):
            other = pool.take("y")
            assert other.ctypes.data != address
            other[...] = -1.0
        del other
        assert np.frombuffer((ctypes.c_char * 60).from_address(address), np.float32).tolist() == [7.0] * 15
        del held


def test_a_loop_rebinding_its_result_alternates_between_two_arrays():
    pool = _pool()
    seen = set()
    out = pool.take("y")
    for _ in range(10):
        out = pool.take("y")
        seen.add(out.ctypes.data)
    assert len(seen) == 2


def test_run_results_survive_later_runs_and_match_the_interpreter():
    x = T.var("x", (4, 8))
    program = ft.Program({"y": T.relu(T.matmul(x, T.param("w", np.eye(8, dtype=np.float32))))})
    mod = ft.compile(program, threads=2)
    inputs = [np.full((4, 8), float(i), np.float32) for i in range(6)]
    results = [mod.run(x=a)["y"] for a in inputs]
    for a, got in zip(inputs, results):
        np.testing.assert_array_equal(got, ft.evaluate(program, {"x": a})["y"])
        assert got.ctypes.data % ALIGN == 0
