"""fold_params: parameter-only arithmetic computed once into a fresh parameter, nothing else touched."""

import numpy as np

import frittata as ft
import frittata.terms as T
from frittata.rewrites.fold import fold_params

X = T.var("x", (2, 3))
W = np.arange(6, dtype=np.float32).reshape(2, 3)


def test_the_largest_parameter_only_sub_term_becomes_one_fresh_parameter():
    clash = T.param("folded_add_1", np.ones((2, 3), np.float32))  # the name the pass would pick first
    program = T.Program({"y": T.relu(T.add(X, T.add(T.mul(T.param("w", W), 2.0), clash))),
                         "z": T.mul(X, T.const(3.0))})
    folded = fold_params(program)
    (name, value), = folded.params.items()
    assert name == "folded_add_2" and np.array_equal(value, W * 2 + 1) and value.dtype == np.float32
    assert folded.op_counts() == {"input": 1, "param": 1, "add": 1, "relu": 1, "const": 1, "mul": 1}
    assert folded.outputs["z"] is program.outputs["z"]  # a constant alone, and inputs, are kept
    data = {"x": np.linspace(-20, 20, 6, dtype=np.float32).reshape(2, 3)}
    assert np.array_equal(ft.evaluate(folded, data)["y"], ft.evaluate(program, data)["y"])


def test_a_folded_value_keeps_the_sub_term_dtype():
    ints = T.param("q", np.array([100, -100, 7], np.int8))
    program = T.Program({"y": T.add(T.var("v", (3,), "int32"), T.cast(T.add(ints, ints), "int32"))})
    (value,) = fold_params(program).params.values()
    assert value.dtype == np.int32 and value.tolist() == [-56, 56, 14]  # int8 wraps before the cast
