"""Program: its inputs in order, its checks with the message each gives, and its views."""

import pickle

import numpy as np
import pytest

import frittata as ft
import frittata.terms as T

X, Y = T.var("x", (2, 3)), T.var("y", (2, 3))


def test_a_program_needs_an_output():
    with pytest.raises(ft.FrittataTypeError, match="Program: expected at least one output, got none"):
        T.Program({})


def test_two_inputs_of_one_name_and_different_types_are_refused():
    with pytest.raises(ft.FrittataTypeError, match="Program: expected one input named 'x', got two different ones"):
        T.Program({"a": T.relu(X), "b": T.relu(T.var("x", (3,)))})


def test_one_input_used_twice_is_one_input():
    program = T.Program({"a": T.relu(X), "b": T.add(T.var("x", (2, 3)), Y)})
    assert program.inputs == {"x": X.type, "y": Y.type}


def test_inputs_come_in_first_use_order_unless_an_order_is_given():
    assert list(T.Program({"o": T.add(X, Y)}).inputs) == ["x", "y"]
    assert list(T.Program({"o": T.add(X, Y)}, input_order=["y"]).inputs) == ["y", "x"]
    with pytest.raises(ft.FrittataTypeError, match=r"Program: inputs \['q'\] are not used by any output"):
        T.Program({"o": T.relu(X)}, input_order=["x", "q"])


def test_op_counts_count_each_shared_node_once():
    shared = T.add(X, Y)
    program = T.Program({"o": T.relu(shared), "p": T.exp(shared)})
    assert program.op_counts() == {"input": 2, "add": 1, "relu": 1, "exp": 1}
    assert len(program.terms()) == 5 and program.terms()[-1] in (program.outputs["o"], program.outputs["p"])


def test_with_outputs_keeps_the_input_order_of_the_inputs_still_used():
    program = T.Program({"o": T.add(X, Y), "p": T.relu(Y)}, input_order=["y", "x"])
    assert list(program.with_outputs({"q": T.add(Y, X)}).inputs) == ["y", "x"]
    assert list(program.with_outputs({"p": program.outputs["p"]}).inputs) == ["y"]


def test_repr_lists_inputs_outputs_and_sizes():
    program = T.Program({"o": T.add(X, T.param("w", np.ones((2, 3), np.float32)))})
    assert repr(program) == "<Program (x: float32[2, 3]) -> (o: float32[2, 3]); 3 terms, 1 params>"


def test_a_term_names_its_attributes_when_asked_for_a_missing_one():
    assert X.attr("shape") == (2, 3)
    with pytest.raises(KeyError, match=r"input has no attribute 'foo'; it has \['name', 'shape', 'dtype'\]"):
        X.attr("foo")


def test_terms_are_built_by_builders_and_unpickle_to_the_interned_node():
    with pytest.raises(TypeError, match="build terms with frittata.terms builders"):
        T.Term()
    term = T.relu(T.add(X, Y))
    assert pickle.loads(pickle.dumps(term)) is term


@pytest.mark.parametrize("shape", [(2, "a"), 5])
def test_a_shape_that_is_not_ints_names_the_input(shape):
    with pytest.raises(ft.FrittataTypeError, match=r"input 'v': expected a shape of ints, got"):
        T.var("v", shape)
